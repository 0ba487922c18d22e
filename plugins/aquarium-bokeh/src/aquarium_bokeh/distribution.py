"""``distribution``: histograms of a metric, with the mean and median marked and stated.

``across="runs"``: per metric, one histogram per run over every value it logged (bins shared
by the runs); ``across="final"``: one histogram of the runs' final values. Means and medians
are drawn as dashed (mean) and dotted (median) vertical lines (segments from the axis to the
tallest bar) with markers on the axis that hover states, and stated in the legend (per run,
up to 20 runs) or the title (final values). Non-finite values cannot be binned: they are
left out and counted in the hover.
Source keys: ``hist|<metric>|<run id>`` or ``hist|<metric>|final``, and ``stats|<metric>``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from bokeh.models import GlyphRenderer, HoverTool, LegendItem, Quad, Segment

from aquarium.charts import ChartOptions, entity_colors, n_runs

from ._common import MAX_LEGEND, Shared, add_legend, chart_metrics, fmt, grid, new_figure, source, style

MAX_BINS = 50


def render(comparison: Any, options: ChartOptions) -> Any:
    metrics = chart_metrics(comparison, options)
    draw = final_figure if options.across == "final" else runs_figure
    figures = [draw(comparison, metric, options) for metric in metrics]
    if not figures:
        figures = [style(new_figure(options, "no metrics to draw", "value", "count"), options)]
    return grid(figures, options, {"aquarium_chart": "distribution", "across": options.across})


def bin_edges(values: np.ndarray, max_points: int) -> np.ndarray:
    """Shared bins: about sqrt(n) of them, at most 50 and at most ``max_points``."""
    if len(values) == 0:
        return np.array([0.0, 1.0])
    bins = int(min(MAX_BINS, max_points, max(1, math.ceil(math.sqrt(len(values))))))
    low, high = float(values.min()), float(values.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def counts_of(values: np.ndarray, edges: np.ndarray, log_y: bool) -> tuple[np.ndarray, np.ndarray]:
    counts = np.histogram(values, bins=edges)[0].astype(np.float64)
    if log_y:  # empty bins have no height on a log axis
        return np.where(counts > 0, counts, np.nan), np.full(len(counts), 0.5)
    return counts, np.zeros(len(counts))


def runs_figure(comparison: Any, metric: str, options: ChartOptions) -> Any:
    curves = comparison.curves(metric)
    finite = {run_id: c.raw[np.isfinite(c.raw)] for run_id, c in curves.items()}
    pooled = np.concatenate(list(finite.values())) if finite else np.empty(0)
    edges = bin_edges(pooled, options.max_points)
    fig = new_figure(options, f"distribution of {metric} per run (dashed: mean, dotted: median)", metric, "count",
                     y_axis_type="log" if options.log_y else "linear")
    fig.tags = [{"aquarium_metric": metric}]
    legend = len(curves) <= MAX_LEGEND
    bars, items = [], []
    stats: dict[str, list[Any]] = {"run": [], "run_id": [], "mean": [], "median": [], "count": [], "nonfinite": [],
                                   "color": []}
    tallest = 1.0
    shared = Shared()
    colors = entity_colors(comparison, options)
    for run_id, curve in curves.items():
        color = colors[run_id]
        values = finite[run_id]
        mean = float(values.mean()) if len(values) else math.nan
        median = float(np.median(values)) if len(values) else math.nan
        counts, bottom = counts_of(values, edges, options.log_y)
        tallest = max(tallest, float(np.nanmax(counts, initial=0.0)))
        data = {"left": edges[:-1], "right": edges[1:], "top": counts, "bottom": bottom,
                "count": np.histogram(values, bins=edges)[0],
                "mean": np.full(len(counts), mean), "median": np.full(len(counts), median)}
        src = source(f"hist|{metric}|{run_id}", data, shared=shared, part="histogram", metric=metric, run_id=run_id)
        bars.append(shared.renderer(src, Quad(left="left", right="right", top="top", bottom="bottom", fill_color=color,
                                              fill_alpha=0.35, line_color=color, line_alpha=0.8), curve.run_name))
        if legend:
            items.append(LegendItem(label=f"{curve.run_name}: mean {fmt(mean)}, median {fmt(median)}",
                                    renderers=[bars[-1]]))
        stats["run"].append(curve.run_name)
        stats["run_id"].append(run_id)
        stats["mean"].append(mean)
        stats["median"].append(median)
        stats["count"].append(len(values))
        stats["nonfinite"].append(len(curve.raw) - len(values))
        stats["color"].append(color)
    fig.renderers.extend(bars)
    fig.add_tools(HoverTool(renderers=bars, tooltips=[
        ("run", "$name"), ("bin", "@left{%.6g} to @right{%.6g}"), ("count", "@count"), ("mean", "@mean{%.6g}"),
        ("median", "@median{%.6g}")], formatters={"@left": "printf", "@right": "printf", "@mean": "printf",
                                                  "@median": "printf"}))
    marks(fig, metric, stats, 0.5 if options.log_y else 0.0, tallest)
    add_legend(fig, items)
    return style(fig, options)


def final_figure(comparison: Any, metric: str, options: ChartOptions) -> Any:
    rows = [(run.name, run.summaries[metric].last) for run in comparison.runs if metric in run.summaries]
    values = np.array([v for _, v in rows], dtype=np.float64)
    names = [name for name, _ in rows]
    ok = np.isfinite(values)
    kept = values[ok]
    mean = float(kept.mean()) if len(kept) else math.nan
    median = float(np.median(kept)) if len(kept) else math.nan
    edges = bin_edges(kept, options.max_points)
    counts, bottom = counts_of(kept, edges, options.log_y)
    which = np.clip(np.searchsorted(edges, kept, side="right") - 1, 0, len(edges) - 2)
    kept_names = [n for n, good in zip(names, ok) if good]
    in_bin = [", ".join(n for n, b in zip(kept_names, which) if b == i) for i in range(len(counts))]
    fig = new_figure(options, f"final {metric} across {n_runs(len(kept))}: mean {fmt(mean)}, median {fmt(median)}",
                     f"final {metric}", "runs", y_axis_type="log" if options.log_y else "linear")
    fig.tags = [{"aquarium_metric": metric}]
    color = options.colors["info"]
    src = source(f"hist|{metric}|final", {"left": edges[:-1], "right": edges[1:], "top": counts, "bottom": bottom,
                                          "runs": in_bin, "count": np.histogram(kept, bins=edges)[0]},
                 part="histogram", metric=metric)
    bar = fig.quad(left="left", right="right", top="top", bottom="bottom", fill_color=color, fill_alpha=0.6,
                   line_color=color, source=src)
    fig.add_tools(HoverTool(renderers=[bar], tooltips=[("bin", "@left{%.6g} to @right{%.6g}"), ("count", "@count"),
                                                       ("runs", "@runs")],
                            formatters={"@left": "printf", "@right": "printf"}))
    marks(fig, metric, {
        "run": [f"all {len(kept)} runs" + (f" ({len(values) - len(kept)} non-finite left out)"
                                           if len(kept) < len(values) else "")],
        "run_id": [""], "mean": [mean], "median": [median], "count": [len(kept)], "nonfinite": [int((~ok).sum())],
        "color": [options.colors["warning"]]}, 0.5 if options.log_y else 0.0, float(np.nanmax(counts, initial=1.0)))
    return style(fig, options)


def marks(fig: Any, metric: str, stats: dict[str, list[Any]], base: float, tallest: float) -> None:
    """Each mean (dashed) and median (dotted) as a vertical line from the axis to the tallest
    bar, with a marker on the axis (triangle: mean, diamond: median) that hover states."""
    n = len(stats["run"])
    src = source(f"stats|{metric}", {**stats, "mean": np.array(stats["mean"], dtype=np.float64),
                                      "median": np.array(stats["median"], dtype=np.float64),
                                      "base": np.full(n, base), "top": np.full(n, tallest)},
                 part="stats", metric=metric)
    fig.renderers.extend([
        GlyphRenderer(data_source=src, glyph=Segment(x0="mean", x1="mean", y0="base", y1="top", line_color="color",
                                                     line_dash="dashed", line_width=2)),
        GlyphRenderer(data_source=src, glyph=Segment(x0="median", x1="median", y0="base", y1="top",
                                                     line_color="color", line_dash="dotted", line_width=2)),
    ])
    means = fig.scatter("mean", "base", source=src, marker="triangle", size=11, color="color", name="mean")
    medians = fig.scatter("median", "base", source=src, marker="diamond", size=11, color="color", name="median")
    fig.add_tools(HoverTool(renderers=[means, medians], tooltips=[
        ("run", "@run"), ("mean", "@mean{%.6g}"), ("median", "@median{%.6g}"), ("values", "@count"),
        ("non-finite left out", "@nonfinite")], formatters={"@mean": "printf", "@median": "printf"}))
