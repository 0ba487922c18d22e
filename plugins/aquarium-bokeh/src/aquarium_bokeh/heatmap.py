"""``heatmap``: runs × steps, one subplot per metric, each metric normalized to [0, 1].

Each row is a run (the comparison's first run on top); columns cover the steps of every
run, one per step while they fit in ``max_points``, else ``max_points`` equal bins, each
showing its value farthest from the metric's mean (so a spike or a dip survives, as in
the curves). The normalization is per metric over every value of every run (0 = the
metric's smallest value, 1 = its largest; with ``log_y``, of log10 of the positive values),
so a run drifting away from the others stands out. Source key ``heatmap|<metric>``; its
``runs`` and ``columns`` hold the rows' run names (top down) and each column's first step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.models import ColorBar, CustomJSHover, FixedTicker, HoverTool, LinearColorMapper
from bokeh.palettes import Viridis256

from aquarium.charts import ChartOptions

from ._common import chart_metrics, fmt, grid, new_figure, plain, source, style

#: Run names are written on the y axis up to this many runs; beyond, hover names the row.
MAX_ROW_LABELS = 40


def render(comparison: Any, options: ChartOptions) -> Any:
    figures = [metric_heatmap(comparison, metric, options) for metric in chart_metrics(comparison, options)]
    if not figures:
        figures = [style(new_figure(options, "no metrics to draw", "step", "run"), options)]
    return grid(figures, options, {"aquarium_chart": "heatmap"})


def prepared(curve: Any, log_y: bool) -> np.ndarray:
    values = np.asarray(curve.y, dtype=np.float64)
    return np.log10(np.where(values > 0, values, np.nan)) if log_y else values


def binned(curves: list[Any], values: list[np.ndarray], max_points: int,
           centre: float) -> tuple[np.ndarray, np.ndarray]:
    """The runs × columns matrix and each column's first step.

    One column per step while the steps fit in ``max_points``; else ``max_points`` equal bins,
    each showing the value of its points farthest from ``centre`` (the metric's mean):
    a spike or a dip inside a bin is what the cell shows, never averaged away.
    """
    having = [c.steps for c in curves if len(c.steps)]
    if not having:
        return np.full((len(curves), 1), np.nan), np.zeros(1)
    start = int(min(int(s.min()) for s in having))
    stop = int(max(int(s.max()) for s in having))
    span = stop - start + 1
    columns = int(min(max_points, span))
    width = span / columns
    matrix = np.full((len(curves), columns), np.nan)
    for row, (curve, v) in enumerate(zip(curves, values)):
        ok = np.isfinite(v)
        if not ok.any():
            continue
        where = np.minimum(((curve.steps[ok] - start) / width).astype(np.int64), columns - 1)
        order = np.argsort(where, kind="stable")
        where, v = where[order], v[ok][order]
        firsts = np.flatnonzero(np.r_[True, where[1:] != where[:-1]])
        low = np.minimum.reduceat(v, firsts)
        high = np.maximum.reduceat(v, firsts)
        matrix[row, where[firsts]] = np.where(np.abs(high - centre) >= np.abs(low - centre), high, low)
    return matrix, start + np.arange(columns) * width


def metric_heatmap(comparison: Any, metric: str, options: ChartOptions) -> Any:
    curves = list(comparison.curves(metric, smoothing=options.smoothing).values())
    values = [prepared(c, options.log_y) for c in curves]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.empty(0)
    low = float(finite.min()) if len(finite) else 0.0
    high = float(finite.max()) if len(finite) else 1.0
    centre = float(finite.mean()) if len(finite) else 0.0
    matrix, column_steps = binned(curves, values, options.max_points, centre)
    width = float(column_steps[1] - column_steps[0]) if len(column_steps) > 1 else 1.0
    start = float(column_steps[0])
    columns = len(column_steps)
    normalized = (matrix - low) / (high - low) if high > low else np.where(np.isfinite(matrix), 0.5, np.nan)
    rows = len(curves)
    scale = "log10 " if options.log_y else ""
    title = f"{metric}: runs × steps, normalized ({scale}0 = {fmt(low)}, 1 = {fmt(high)})"
    fig = new_figure(options, title, "step", "run", x_range=(start, start + width * columns),
                     y_range=(0, max(rows, 1)))
    fig.tags = [{"aquarium_metric": metric}]
    names_bottom_up = [c.run_name for c in reversed(curves)]
    mapper = LinearColorMapper(palette=Viridis256, low=0.0, high=1.0, nan_color="rgba(0, 0, 0, 0)")
    src = source(f"heatmap|{metric}", {
        "image": [normalized[::-1]], "x": [start], "y": [0], "dw": [width * columns], "dh": [max(rows, 1)],
        "low": [low], "high": [high], "runs": [[c.run_name for c in curves]], "columns": [column_steps]})
    image = fig.image(image="image", x="x", y="y", dw="dw", dh="dh", source=src, color_mapper=mapper)
    run_name = CustomJSHover(args={"names": names_bottom_up},
                             code="const i = Math.floor(value); return i >= 0 && i < names.length ? names[i] : ''")
    value = CustomJSHover(args={"low": low, "high": high, "log": bool(options.log_y)},
                          code="const v = low + value * (high - low); "
                               "return (log ? Math.pow(10, v) : v).toPrecision(6)")
    fig.add_tools(HoverTool(renderers=[image], tooltips=[
        ("run", "$y{custom}"), ("step", "$x{0,0}"), ("value", "@image{custom}"), ("normalized", "@image{0.000}")],
        formatters={"$y": run_name, "@image": value}))
    if rows <= MAX_ROW_LABELS:
        ticks = [i + 0.5 for i in range(rows)]
        fig.yaxis.ticker = FixedTicker(ticks=ticks)
        fig.yaxis.major_label_overrides = {tick: plain(name) for tick, name in zip(ticks, names_bottom_up)}
    else:
        fig.yaxis.major_label_text_font_size = "0px"
    fig.add_layout(ColorBar(color_mapper=mapper, width=10, background_fill_color=options.colors["paper"],
                            major_label_text_color=options.colors["text"]), "right")
    style(fig, options)
    fig.grid.visible = False
    return fig
