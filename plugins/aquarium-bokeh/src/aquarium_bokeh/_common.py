"""What every chart module shares: figures styled in the theme, keyed sources, downsampling, numbers.

Every ``ColumnDataSource`` a chart makes carries a tag ``{"aquarium": key}`` with a key
unique within its chart (e.g. ``"line|loss|<run id>"``): :meth:`BokehVisualizer.update`
matches the sources of a fresh rendering to the ones on screen by it. Every root model a
chart returns carries ``{"aquarium_chart": name, ...}``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from bokeh.layouts import gridplot
from bokeh.models import (
    AllIndices,
    CDSView,
    ColumnDataSource,
    GlyphRenderer,
    GridPlot,
    Legend,
    Model,
    PlainText,
    Title,
    UnionRenderers,
)
from bokeh.plotting import figure

from aquarium.charts import ChartOptions
from aquarium.series import minmax_indices

#: Legends are drawn for at most this many series; beyond, hover names each line.
MAX_LEGEND = 20
DEFAULT_HEIGHT = 320
TOOLS = "pan,wheel_zoom,box_zoom,reset,save"


# -- user text --------------------------------------------------------------------------------
def plain(text: str) -> PlainText:
    """User-written text for titles, axis labels and legends: never parsed as TeX."""
    return PlainText(str(text))


def text_of(value: Any) -> str:
    """The string inside a title, label or ``PlainText``."""
    if value is None:
        return ""
    inner = getattr(value, "text", value)
    return str(inner) if not isinstance(inner, str) else inner


def fmt(value: float) -> str:
    """A number for titles and table cells: 6 significant digits, non-finite spelled out."""
    if value is None:
        return "—"
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.6g}"


# -- tags and sources ---------------------------------------------------------------------------
def source(key: str, data: Mapping[str, Any], *, shared: Shared | None = None, **meta: Any) -> ColumnDataSource:
    """A ``ColumnDataSource`` tagged with its key and what it draws (``meta``: e.g. the
    ``part`` of a chart, its ``metric``, ``run_id`` or ``group``)."""
    extra = {"selection_policy": shared.policy} if shared is not None else {}
    return ColumnDataSource(data=dict(data), tags=[{"aquarium": key, **meta}], **extra)


class Shared:
    """Stateless helper models shared by the many sources and renderers of one chart.

    Each ``ColumnDataSource`` and ``GlyphRenderer`` otherwise brings its own selection policy
    and index filter: two models per run more to build and write, i.e. 2,000 of them for
    1,000 runs. Both are stateless in BokehJS (``UnionRenderers`` and ``AllIndices`` compute
    from their arguments); the ``CDSView`` (which stores its indices) and the ``Selection``
    stay one per renderer and source. One ``Shared`` per rendering: a model belongs to one
    document at a time.
    """

    def __init__(self) -> None:
        self.policy = UnionRenderers()
        self.filter = AllIndices()

    def renderer(self, src: ColumnDataSource, glyph: Any, name: str | None = None) -> GlyphRenderer:
        return GlyphRenderer(data_source=src, glyph=glyph, name=name, view=CDSView(filter=self.filter))


def meta_of(model: Model) -> dict[str, Any]:
    """The tag :func:`source` put on a source (``{}`` for any other model)."""
    for tag in getattr(model, "tags", ()):
        if isinstance(tag, dict) and "aquarium" in tag:
            return tag
    return {}


def key_of(model: Model) -> str | None:
    return meta_of(model).get("aquarium")


def chart_of(root: Model) -> dict[str, Any]:
    """The ``{"aquarium_chart": ...}`` tag of a root model made by this plugin (``{}`` if none)."""
    for tag in getattr(root, "tags", ()):
        if isinstance(tag, dict) and "aquarium_chart" in tag:
            return tag
    return {}


def keyed_sources(root: Model) -> dict[str, ColumnDataSource]:
    return {key: src for src in root.select({"type": ColumnDataSource}) if (key := key_of(src)) is not None}


# -- figures ------------------------------------------------------------------------------------
def colors(options: ChartOptions) -> dict[str, Any]:
    return options.colors


def color_at(options: ChartOptions, index: int) -> str:
    palette = options.colors["palette"]
    return palette[index % len(palette)]




def new_figure(options: ChartOptions, title: str, x_label: str, y_label: str, *, width: int = 560,
               **kwargs: Any) -> Any:
    """A figure with the chart's size and tools; :func:`style` themes it once its glyphs exist."""
    fig = figure(title=Title(text=plain(title)), width=width, height=options.height or DEFAULT_HEIGHT, tools=TOOLS,
                 toolbar_location="right", **kwargs)
    fig.xaxis.axis_label = plain(x_label)
    fig.yaxis.axis_label = plain(y_label)
    return fig


def style(fig: Any, options: ChartOptions) -> Any:
    """Theme colours on a figure (background, text, grid, legend). Call after adding glyphs."""
    c = options.colors
    fig.background_fill_color = c["background"]
    fig.border_fill_color = c["paper"]
    fig.outline_line_color = c["grid"]
    fig.title.text_color = c["text"]
    fig.title.text_font_size = "13px"
    for axis in [*fig.xaxis, *fig.yaxis]:
        axis.axis_label_text_color = c["text"]
        axis.major_label_text_color = c["text"]
        axis.axis_line_color = c["grid"]
        axis.major_tick_line_color = c["grid"]
        axis.minor_tick_line_color = c["grid"]
    for grid in fig.grid:
        grid.grid_line_color = c["grid"]
        grid.grid_line_alpha = 0.6
    for legend in (m for m in [*fig.left, *fig.right, *fig.above, *fig.below, *fig.center] if isinstance(m, Legend)):
        legend.background_fill_color = c["paper"]
        legend.background_fill_alpha = 0.8
        legend.border_line_color = c["grid"]
        legend.label_text_color = c["text"]
        legend.label_text_font_size = "11px"
        legend.click_policy = "hide"
    return fig


def add_legend(fig: Any, items: list[Any]) -> None:
    """A legend right of the plot (clicking an entry hides its lines) when there are at most
    :data:`MAX_LEGEND` entries; the figure widens by the legend's width so the plot keeps its own."""
    if not 0 < len(items) <= MAX_LEGEND:
        return
    longest = max(len(text_of(item.label.value if hasattr(item.label, "value") else item.label)) for item in items)
    fig.add_layout(Legend(items=items, location="top_left"), "right")
    fig.width = fig.width + int(min(340, 56 + 6.5 * longest))


def grid(figures: Sequence[Any], options: ChartOptions, tag: dict[str, Any]) -> GridPlot:
    """Subplots in a grid of at most two columns with one merged toolbar."""
    ncols = 1 if len(figures) == 1 else 2
    layout = gridplot(list(figures), ncols=ncols, toolbar_location="right", merge_tools=True)
    layout.tags = [tag]
    c = options.colors
    layout.styles = {"background-color": c["paper"]}
    return layout


def subplots(root: Model) -> list[Any]:
    """The figures of a grid (in grid order), or ``[root]`` for a single figure."""
    if isinstance(root, GridPlot):
        return [child for child, *_ in sorted(root.children, key=lambda c: (c[1], c[2]))]
    return [root]


# -- numbers ------------------------------------------------------------------------------------
def downsample(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points keeping each bucket's min and max (the core's)."""
    return minmax_indices(np.asarray(values, dtype=np.float64), max_points)


def band_indices(lower: np.ndarray, upper: np.ndarray, max_points: int) -> np.ndarray:
    """At most ``max_points`` indices keeping the extremes of both edges of a band."""
    if len(lower) <= max_points:
        return np.arange(len(lower))
    if max_points < 4:
        return minmax_indices(np.asarray(upper, dtype=np.float64), max_points)
    half = max_points // 2
    return np.union1d(minmax_indices(np.asarray(lower, dtype=np.float64), half),
                      minmax_indices(np.asarray(upper, dtype=np.float64), half))


def positive_only(values: np.ndarray, log_y: bool) -> np.ndarray:
    """On a log axis, values ``<= 0`` cannot be drawn: they become NaN (a gap in the line)."""
    values = np.asarray(values, dtype=np.float64)
    if not log_y:
        return values
    return np.where(values > 0, values, np.nan)


def compact_steps(steps: np.ndarray) -> np.ndarray:
    """Steps as int32 when they fit (half the bytes in the page), else float64 (exact to 2**53)."""
    steps = np.asarray(steps)
    if len(steps) == 0 or (steps.min() >= -(2**31) and steps.max() < 2**31):
        return steps.astype(np.int32)
    return steps.astype(np.float64)


def chart_metrics(comparison: Any, options: ChartOptions) -> list[str]:
    """``options.metrics`` (checked against the comparison) or every metric it has."""
    known = list(comparison.metrics)
    if options.metrics is None:
        return known
    having = {key for run in comparison.runs for key in run.summaries}
    missing = [m for m in options.metrics if m not in having]
    if missing and comparison.runs:
        raise ValueError(f"no compared run has the metric {missing[0]!r}; they have: "
                         f"{', '.join(sorted(having)) or 'none'}")
    return list(options.metrics)


def numeric(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1 with ties sharing their average rank (as Spearman's coefficient wants)."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="mergesort")
    sorted_values = values[order]
    starts = np.r_[True, sorted_values[1:] != sorted_values[:-1]]
    group = np.cumsum(starts) - 1
    first = np.flatnonzero(starts)
    ends = np.r_[first[1:], len(values)]
    average = (first + ends - 1) / 2.0 + 1.0
    out = np.empty(len(values))
    out[order] = average[group]
    return out


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r of two equally long arrays (NaN with fewer than 2 points or no variance)."""
    if len(a) < 2 or np.ptp(a) == 0 or np.ptp(b) == 0:  # constant: the mean's rounding would fake an r
        return math.nan
    a = a - a.mean()
    b = b - b.mean()
    denominator = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    if denominator == 0.0 or not math.isfinite(denominator):
        return math.nan
    return float(np.clip((a * b).sum() / denominator, -1.0, 1.0))


def correlations(columns: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pearson and Spearman matrices over pairwise complete observations, and the pair counts."""
    k = len(columns)
    r = np.full((k, k), np.nan)
    rho = np.full((k, k), np.nan)
    n = np.zeros((k, k), dtype=np.int64)
    finite = [np.isfinite(c) for c in columns]
    for i in range(k):
        for j in range(i, k):
            both = finite[i] & finite[j]
            a, b = columns[i][both], columns[j][both]
            n[i, j] = n[j, i] = len(a)
            r[i, j] = r[j, i] = pearson(a, b)
            rho[i, j] = rho[j, i] = pearson(ranks(a), ranks(b)) if len(a) >= 2 else math.nan
    return r, rho, n


def first(iterable: Iterable[Any], default: Any = None) -> Any:
    return next(iter(iterable), default)
