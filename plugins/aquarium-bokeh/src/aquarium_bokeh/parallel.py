"""``parallel_coordinates``: params to a metric, one line per run, coloured by the metric.

Bokeh has none built in, so it is drawn: one vertical axis per param that differs
(``params.<key>``; every param when none differs), then the metric's best value
(``metrics.<key>.best``, the first of ``options.metrics``). Each axis is normalized to
[0, 1]: numbers from their smallest (bottom) to their largest (top), anything else as
evenly spaced categories in sorted order. One ``multi_line`` draws one line per run that has
the metric (a run lacking a param leaves a gap there), coloured by the metric through a
colour bar. Axis names and tick labels are text glyphs (canvas text, never HTML). Source
keys: ``lines`` (with the values of axis ``k`` as read, in column ``axis<k>``), ``axes``,
``names`` and ``ticks``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from bokeh.models import ColorBar, HoverTool, LinearColorMapper
from bokeh.palettes import Viridis256

from aquarium.charts import ChartOptions

from ._common import chart_metrics, fmt, new_figure, numeric, source, style

#: Category labels drawn per axis at most (spread over the categories).
MAX_TICKS = 12


def display(value: Any) -> str:
    """A param value as text on an axis or in a hover: text as is, anything else ``str()``."""
    if value is None:
        return "—"
    return value if isinstance(value, str) else str(value)


def axis_of(values: list[Any]) -> tuple[np.ndarray, list[Any], list[tuple[float, str]]]:
    """For one axis: positions in [0, 1] per run (NaN where missing), the values as read
    (numbers, or text for a categorical axis) and the (position, label) ticks."""
    present = [v for v in values if v is not None]
    positions = np.full(len(values), np.nan)
    if present and all(numeric(v) for v in present):
        numbers = np.array([math.nan if v is None else float(v) for v in values])
        finite = numbers[np.isfinite(numbers)]
        low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
        positions = (numbers - low) / (high - low) if high > low else np.where(np.isfinite(numbers), 0.5, np.nan)
        ticks = [(0.0, fmt(low)), (1.0, fmt(high))] if high > low else [(0.5, fmt(low))]
        return positions, numbers, ticks
    text = [display(v) for v in values]
    categories = sorted({display(v) for v in present})
    spot = {c: (i / (len(categories) - 1) if len(categories) > 1 else 0.5) for i, c in enumerate(categories)}
    for i, value in enumerate(values):
        if value is not None:
            positions[i] = spot[text[i]]
    shown = categories if len(categories) <= MAX_TICKS else \
        [categories[int(i)] for i in np.linspace(0, len(categories) - 1, MAX_TICKS)]
    return positions, text, [(spot[c], c) for c in shown]


def render(comparison: Any, options: ChartOptions) -> Any:
    metrics = chart_metrics(comparison, options)
    metric = metrics[0] if metrics else None
    params = comparison.params
    keys = list(params.differing) or list(params.keys)
    runs = [r for r in comparison.runs if metric is None or metric in r.summaries]
    labels: list[str] = []
    positions: list[np.ndarray] = []
    read: dict[str, Any] = {}
    ticks: dict[str, list[Any]] = {"x": [], "y": [], "text": []}
    axes = [(f"params.{key}", [params[key].get(r.id) for r in runs]) for key in keys]
    direction = ""
    if metric is not None:
        rows = [comparison.summary.get(r.id, metric) for r in runs]
        direction = next((row.direction for row in rows if row is not None), "")
        axes.append((f"metrics.{metric}.best", [row.best if row is not None else None for row in rows]))
    for index, (label, values) in enumerate(axes):
        where, as_read, axis_ticks = axis_of(values)
        labels.append(label)
        positions.append(where)
        read[f"axis{index}"] = as_read
        for y, text in axis_ticks:
            ticks["x"].append(index)
            ticks["y"].append(y)
            ticks["text"].append(text)
    best = np.asarray(read[f"axis{len(axes) - 1}"], dtype=np.float64) if metric is not None \
        else np.full(len(runs), np.nan)
    finite = best[np.isfinite(best)]
    low, high = (float(finite.min()), float(finite.max())) if len(finite) else (0.0, 1.0)
    count = len(labels)
    if metric is not None:
        title = f"params → {metric} (best, {direction}): one line per run ({len(runs)}), coloured by it"
    else:
        title = "params of the compared runs (no metric to colour by)"
    fig = new_figure(options, title, "", "", width=int(min(1400, max(560, 150 * count))),
                     x_range=(-0.25, max(count - 1, 0) + 0.6), y_range=(-0.08, 1.14))
    fig.xaxis.visible = False
    fig.yaxis.visible = False
    mapper = LinearColorMapper(palette=Viridis256, low=low, high=high if high > low else low + 1.0,
                               nan_color=options.colors["grid"])
    lines = {
        "xs": [np.arange(count, dtype=np.float64) for _ in runs],
        "ys": [np.array([column[i] for column in positions], dtype=np.float64) for i in range(len(runs))],
        "run": [r.name for r in runs],
        "value": best,
        "params": ["; ".join(f"{k}={display(params[k].get(r.id))}" for k in keys) for r in runs],
        **read,
    }
    c = options.colors
    fig.segment(x0="x", y0="y0", x1="x", y1="y1", line_color=c["text"], line_alpha=0.5, line_width=1.5,
                source=source("axes", {"x": np.arange(count, dtype=np.float64), "y0": np.zeros(count),
                                       "y1": np.ones(count)}))
    drawn = fig.multi_line("xs", "ys", source=source("lines", lines), line_width=2, line_alpha=0.8,
                           line_color={"field": "value", "transform": mapper},
                           hover_line_width=4, hover_line_alpha=1.0,
                           hover_line_color={"field": "value", "transform": mapper})
    fig.text("x", "y", text="text", source=source("names", {"x": np.arange(count, dtype=np.float64),
                                                             "y": np.full(count, 1.06), "text": labels}),
             text_align="center", text_baseline="bottom", text_color=c["text"], text_font_size="12px",
             text_font_style="bold")
    fig.text("x", "y", text="text", source=source("ticks", {"x": np.array(ticks["x"], dtype=np.float64) + 0.04,
                                                             "y": np.array(ticks["y"], dtype=np.float64),
                                                             "text": ticks["text"]}),
             text_align="left", text_baseline="middle", text_color=c["text"], text_font_size="10px")
    fig.add_tools(HoverTool(renderers=[drawn], tooltips=[("run", "@run"), (metric or "metric", "@value{%.6g}"),
                                                         ("params", "@params")],
                            formatters={"@value": "printf"}, line_policy="nearest"))
    if metric is not None:
        fig.add_layout(ColorBar(color_mapper=mapper, width=10, background_fill_color=c["paper"],
                                major_label_text_color=c["text"]), "right")
    style(fig, options)
    fig.grid.visible = False
    fig.tags = [{"aquarium_chart": "parallel_coordinates", "metric": metric}]
    return fig
