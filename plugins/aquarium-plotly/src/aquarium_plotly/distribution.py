"""``distribution``: a histogram of a metric's values per run, or of final values across runs,
with the mean and median marked and stated."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from aquarium.charts import ChartOptions, entity_colors, n_runs

from ._common import (
    STATED_RUNS,
    axis,
    esc,
    figure,
    grid,
    meta,
    metrics_of,
    subplot_title,
    theme_layout,
)

#: At most this many bins (and never more than ``max_points``).
MAX_BINS = 120
ROW_HEIGHT = 330


def edges(values: np.ndarray, max_points: int) -> np.ndarray:
    """Shared bin edges: numpy's ``auto`` rule, capped at ``min(MAX_BINS, max_points)`` bins."""
    cap = max(1, min(MAX_BINS, max_points))
    if len(values) == 0:
        return np.array([0.0, 1.0])
    found = np.histogram_bin_edges(values, bins="auto")
    if len(found) - 1 > cap:
        found = np.histogram_bin_edges(values, bins=cap)
    return found


def _bars(values: np.ndarray, bins: np.ndarray, *, name: str, colour: str, cell: dict[str, Any],
          kind_fields: dict[str, Any], legendgroup: str, opacity: float) -> tuple[dict[str, Any], float]:
    counts, _ = np.histogram(values, bins=bins)
    centres = (bins[:-1] + bins[1:]) / 2
    lows, highs = bins[:-1], bins[1:]
    return {
        "type": "bar", "name": name, "x": centres, "y": counts, "width": np.diff(bins),
        "customdata": np.stack([lows, highs], axis=1),
        "hovertemplate": "<b>%{fullData.name}</b><br>[%{customdata[0]:.4g}, %{customdata[1]:.4g}): "
                         "%{y}<extra></extra>",
        "marker": {"color": colour, "line": {"width": 0}}, "opacity": opacity, "legendgroup": legendgroup,
        "xaxis": cell["x"], "yaxis": cell["y"], "meta": meta("histogram", **kind_fields),
    }, float(counts.max()) if len(counts) else 0.0


def _marks(values: np.ndarray, top: float, *, who: str, colour: str, cell: dict[str, Any],
           kind_fields: dict[str, Any], legendgroup: str) -> tuple[list[dict[str, Any]], str]:
    """The mean (dashed) and median (dotted) lines, and the sentence stating them."""
    if len(values) == 0:
        return [], f"{who}: no finite values"
    stats = {"mean": float(np.mean(values)), "median": float(np.median(values))}
    traces = []
    for stat, dash in (("mean", "dash"), ("median", "dot")):
        value = stats[stat]
        traces.append({
            "type": "scatter", "mode": "lines", "name": stat, "x": [value, value], "y": [0.0, top * 1.05 or 1.0],
            "line": {"color": colour, "dash": dash, "width": 2}, "showlegend": False, "legendgroup": legendgroup,
            "text": [f"{who}<br>{stat} {value:.6g}"] * 2, "hovertemplate": "%{text}<extra></extra>",
            "xaxis": cell["x"], "yaxis": cell["y"], "meta": meta("vline", stat=stat, **kind_fields),
        })
    return traces, f"{who}: mean {stats['mean']:.4g}, median {stats['median']:.4g}"


def render(comparison: Any, options: ChartOptions) -> Any:
    metrics = metrics_of(comparison, options)
    colours = entity_colors(comparison, attrs.evolve(options, band=None))  # a colour per run
    cells = grid(len(metrics))
    rows = -(-len(cells) // min(2, len(cells)))
    final = options.across == "final"
    title = "Distribution of final values across runs" if final else "Distribution of each run's values"
    layout = theme_layout(options, title=title, height=ROW_HEIGHT * rows + 110)
    layout.update(barmode="overlay", bargap=0, hovermode="closest")
    annotations: list[dict[str, Any]] = []
    data: list[dict[str, Any]] = []
    shown: set[str] = set()
    for metric, cell in zip(metrics, cells):
        statements = []
        if final:
            finals = np.array([run.summaries[metric].last for run in comparison.runs if metric in run.summaries])
            finite = finals[np.isfinite(finals)]
            bins = edges(finite, options.max_points)
            fields = {"metric": metric}
            bars, top = _bars(finite, bins, name="final values", colour=options.colors["info"], cell=cell,
                              kind_fields=fields, legendgroup="final", opacity=0.85)
            marks, sentence = _marks(finite, top, who=n_runs(len(finite)), colour=options.colors["warning"],
                                     cell=cell, kind_fields=fields, legendgroup="final")
            bars["showlegend"] = "final" not in shown
            shown.add("final")
            data += [bars, *marks]
            statements.append(sentence)
        else:
            curves = comparison.curves(metric)
            finite = {run_id: c.raw[np.isfinite(c.raw)] for run_id, c in curves.items()}
            everything = np.concatenate(list(finite.values())) if finite else np.empty(0)
            bins = edges(everything, options.max_points)
            opacity = 0.85 if len(curves) == 1 else 0.5
            for run_id, curve in curves.items():
                fields = {"metric": metric, "run_id": run_id}
                bars, top = _bars(finite[run_id], bins, name=esc(curve.run_name), colour=colours[run_id], cell=cell,
                                  kind_fields=fields, legendgroup=run_id, opacity=opacity)
                bars["showlegend"] = run_id not in shown
                shown.add(run_id)
                marks, sentence = _marks(finite[run_id], top, who=esc(curve.run_name), colour=colours[run_id],
                                         cell=cell, kind_fields=fields, legendgroup=run_id)
                data += [bars, *marks]
                statements.append(sentence)
            if len(statements) > STATED_RUNS:
                statements = [*statements[:STATED_RUNS],
                              f"… and {len(statements) - STATED_RUNS} more runs (hover the dashed and dotted lines)"]
        layout[cell["xaxis"]] = axis(options, esc(metric), domain=cell["xdomain"], anchor=cell["y"])
        layout[cell["yaxis"]] = axis(options, "count", domain=cell["ydomain"], anchor=cell["x"],
                                     type="log" if options.log_y else "linear")
        annotations.append(subplot_title(cell, esc(metric)))
        annotations.append({
            "text": "<br>".join(statements), "x": cell["xdomain"][1], "y": cell["ydomain"][1], "xref": "paper",
            "yref": "paper", "xanchor": "right", "yanchor": "top", "align": "right", "showarrow": False,
            "font": {"size": 11}, "bgcolor": options.colors["paper"], "opacity": 0.9, "name": "statistics",
        })
    layout["annotations"] = annotations
    return figure(data, layout, "distribution", options)
