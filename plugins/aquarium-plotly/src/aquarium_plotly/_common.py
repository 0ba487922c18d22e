"""What every chart module shares: escaping, themes, the subplot grid, downsampling, metadata."""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go

from aquarium import series
from aquarium.charts import ChartOptions

#: ``layout.uirevision`` of every figure: plotly keeps the user's zoom, pan and legend clicks
#: across redraws while it stays the same.
UIREVISION = "aquarium"
#: Above this many points in one figure, lines are drawn with WebGL (``scattergl``).
WEBGL_ABOVE = 50_000
#: How many runs' statistics a distribution states in its annotation (the rest on hover).
STATED_RUNS = 8


def esc(value: Any) -> str:
    """User text made safe for plotly's pseudo-HTML labels: plotly renders ``<b>``, ``<br>``,
    ``<a href>`` and entities in names, titles, ticks, hover and table cells, so every user
    string is escaped (plotly turns ``&lt;`` back into the character on screen)."""
    return html.escape(value if isinstance(value, str) else text(value), quote=False)


def template_text(value: Any) -> str:
    """User text for a hovertemplate: escaped, and its ``%`` kept from starting a ``%{variable}``."""
    return esc(value).replace("%", "&#37;")


def text(value: Any) -> str:
    """A param value as text: strings as they are, anything else as JSON; missing is ``—``."""
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value, default=str)


def number(value: float) -> str:
    """A value for tables and annotations: six significant digits, NaN and ±inf spelled out."""
    if value is None:
        return "—"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return str(int(value))
    return f"{float(value):.6g}"


def numeric(values: Sequence[Any]) -> bool:
    """True when every value is an int or float (not a bool) and there is at least one."""
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def metrics_of(comparison: Any, options: ChartOptions) -> list[str]:
    """The metrics a chart draws: ``options.metrics`` (each checked) or the comparison's."""
    if options.metrics is None:
        return list(comparison.metrics)
    known = {key for run in comparison.runs for key in run.summaries}
    missing = [m for m in options.metrics if m not in known]
    if missing:
        raise ValueError(f"no compared run has the metric {missing[0]!r}; "
                         f"they have: {', '.join(sorted(known)) or 'none'}")
    return list(options.metrics)


def first_metric(comparison: Any, options: ChartOptions) -> str | None:
    metrics = metrics_of(comparison, options)
    return metrics[0] if metrics else None




def rgba(colour: str, alpha: float) -> str:
    colour = colour.lstrip("#")
    r, g, b = (int(colour[i:i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def keep(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points keeping every bucket's min and max (the core's)."""
    return series.minmax_indices(np.asarray(values, dtype=np.float64), max_points)


def keep_band(low: np.ndarray, high: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points keeping the extremes of both edges of a band."""
    if len(low) <= max_points:
        return np.arange(len(low))
    half = max_points // 2
    if half < 2:  # room for two points: the band's top and its bottom
        extremes = [np.nanargmax(v) if m else np.nanargmin(v) for v, m in ((high, True), (low, False))
                    if not np.isnan(v).all()]
        return np.unique(np.array(extremes or [0], dtype=np.intp))
    return np.unique(np.concatenate([keep(low, half), keep(high, half)]))


def wall_texts(timestamps: np.ndarray) -> np.ndarray:
    """Seconds since the epoch as ``YYYY-MM-DD HH:MM:SS.mmm`` (UTC), for hover."""
    ts = np.asarray(timestamps, dtype=np.float64)
    finite = np.isfinite(ts)
    ms = np.where(finite, np.round(ts * 1000.0), 0).astype("int64").astype("datetime64[ms]")
    out = np.char.replace(np.datetime_as_string(ms, unit="ms").astype("<U23"), "T", " ")
    if not finite.all():
        out = np.where(finite, out, "—")
    return out  # a fixed-width unicode array: plotly copies it as one block (an object array per string)


def x_label(x: str) -> str:
    return {"step": "step", "wall_time": "wall time (UTC)", "relative_time": "relative time (s)"}.get(x, x)


def meta(kind: str, **fields: Any) -> dict[str, Any]:
    """What a trace draws, kept on the trace (``trace.meta``) for updates and tests."""
    return {"aquarium": kind, **{k: v for k, v in fields.items() if v is not None}}


def theme_layout(options: ChartOptions, *, title: str, height: int) -> dict[str, Any]:
    """The layout every figure starts from: theme colours, title, height, uirevision."""
    colours = options.colors
    return {
        "template": {},  # no plotly default template: our colours only, and a smaller figure
        "title": {"text": title, "x": 0.01, "xanchor": "left", "font": {"size": 16}},
        "height": options.height or height,
        "paper_bgcolor": colours["paper"],
        "plot_bgcolor": colours["background"],
        "font": {"color": colours["text"], "family": "Lato, 'Helvetica Neue', Arial, sans-serif", "size": 12},
        "colorway": list(colours["palette"]),
        "hoverlabel": {"font": {"family": "monospace"}},
        "legend": {"bgcolor": "rgba(0,0,0,0)"},
        "margin": {"l": 60, "r": 30, "t": 70, "b": 50},
        "uirevision": UIREVISION,
    }


def axis(options: ChartOptions, title: str, **extra: Any) -> dict[str, Any]:
    colours = options.colors
    return {"title": {"text": title}, "gridcolor": colours["grid"], "zerolinecolor": colours["grid"],
            "linecolor": colours["grid"], "automargin": True, **extra}


def grid(n: int, *, columns: int = 2, gap_x: float = 0.08, gap_y: float | None = None) -> list[dict[str, Any]]:
    """Domains of ``n`` subplots in a grid of ``columns`` (fewer when ``n`` is smaller): for
    each, the axis names (``x``/``xaxis``, ``x2``/``xaxis2``, ...) and domains."""
    n = max(n, 1)
    cols = min(columns, n)
    rows = -(-n // cols)
    gap_y = gap_y if gap_y is not None else 0.3 / rows  # plotly's make_subplots default
    width = (1.0 - gap_x * (cols - 1)) / cols
    height = (1.0 - gap_y * (rows - 1)) / rows
    cells = []
    for i in range(n):
        row, col = divmod(i, cols)
        x0 = col * (width + gap_x)
        y1 = 1.0 - row * (height + gap_y)
        suffix = "" if i == 0 else str(i + 1)
        cells.append({"x": f"x{suffix}", "y": f"y{suffix}", "xaxis": f"xaxis{suffix}", "yaxis": f"yaxis{suffix}",
                      "xdomain": [x0, x0 + width], "ydomain": [max(0.0, y1 - height), y1]})
    return cells


def subplot_title(cell: dict[str, Any], text_: str) -> dict[str, Any]:
    """An annotation above a subplot holding its (escaped) title."""
    x0, x1 = cell["xdomain"]
    return {"text": f"<b>{text_}</b>", "x": (x0 + x1) / 2, "y": cell["ydomain"][1], "xref": "paper", "yref": "paper",
            "xanchor": "center", "yanchor": "bottom", "showarrow": False, "font": {"size": 13},
            "name": "subplot-title"}


def figure(data: list[dict[str, Any]], layout: dict[str, Any], chart: str, options: ChartOptions) -> go.Figure:
    """A ``go.Figure`` from trace and layout dicts. They are built by this package from numpy
    arrays, so plotly's per-property validation (seconds for a thousand traces) is skipped."""
    layout = {**layout, "meta": {"aquarium": {"chart": chart, "x": options.x, "theme": options.theme}}}
    return go.Figure(data=data, layout=layout, _validate=False)


def line_type(total_points: int) -> str:
    return "scattergl" if total_points > WEBGL_ABOVE else "scatter"
