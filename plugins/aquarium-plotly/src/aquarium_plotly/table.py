"""``summary_table``: per run and metric the best and last values with their steps; the best
run of each metric highlighted."""

from __future__ import annotations

from typing import Any

from aquarium.charts import ChartOptions, n_runs

from ._common import esc, figure, metrics_of, number, theme_layout

ARROWS = {"min": "↓", "max": "↑"}


def _best(comparison: Any, metric: str) -> tuple[str | None, str]:
    """The best run's id and the direction's arrow (none when the runs disagree on it)."""
    try:
        found = comparison.best(metric)
        return (found.run_id if found is not None else None), ARROWS[comparison.direction_of(metric)]
    except Exception:  # the runs disagree on which way is better: no single best
        return None, ""


def render(comparison: Any, options: ChartOptions) -> Any:
    colours = options.colors
    metrics = metrics_of(comparison, options)
    header = ["run", "group", "status"]
    columns: list[list[str]] = [[esc(r.name) for r in comparison.runs], [esc(r.group or "") for r in comparison.runs],
                                [esc(r.effective_status()) for r in comparison.runs]]
    fills: list[list[str]] = [[colours["background"]] * len(comparison.runs) for _ in header]
    for metric in metrics:
        best_id, arrow = _best(comparison, metric)
        header += [f"{esc(metric)} best {arrow}".rstrip(), f"{esc(metric)} best step", f"{esc(metric)} last",
                   f"{esc(metric)} last step"]
        best, best_step, last, last_step, fill = [], [], [], [], []
        for run in comparison.runs:
            stats = comparison.summary.get(run.id, metric)
            if stats is None:
                best.append(""), best_step.append(""), last.append(""), last_step.append("")
                fill.append(colours["background"])
                continue
            value = number(stats.best)
            best.append(f"<b>{value}</b>" if run.id == best_id else value)
            best_step.append(number(stats.best_step))
            last.append(number(stats.last))
            last_step.append(number(stats.last_step))
            fill.append(colours["success"] if run.id == best_id else colours["background"])
        columns += [best, best_step, last, last_step]
        fills += [fill] + [[colours["background"]] * len(comparison.runs)] * 3
    height = min(900, 110 + 28 * (len(comparison.runs) + 1))
    layout = theme_layout(options, title=f"Summary of {n_runs(len(comparison.runs))} (best per metric highlighted)",
                          height=height)
    layout["margin"] = {"l": 20, "r": 20, "t": 60, "b": 20}
    trace = {
        "type": "table", "columnwidth": [3, 2, 2] + [2] * (len(header) - 3),
        "header": {"values": [f"<b>{h}</b>" for h in header], "fill": {"color": colours["primary"]},
                   "font": {"color": "#ffffff", "size": 12}, "align": "left", "line": {"color": colours["grid"]}},
        "cells": {"values": columns, "fill": {"color": fills}, "font": {"color": colours["text"], "size": 12},
                  "align": "left", "line": {"color": colours["grid"]}, "height": 26},
        "meta": {"aquarium": "summary_table", "highlight": colours["success"],
                 "run_ids": [r.id for r in comparison.runs]},
    }
    return figure([trace], layout, "summary_table", options)
