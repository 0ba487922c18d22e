"""Read the figures this plugin draws back into plain Python (what a user would read).

These are the extractors of :class:`aquarium.testing.VisualizerSuite` (see its docstring for
the shapes returned); the dashboard and tests use them too. They only read: every number
comes from the figure's own ``ColumnDataSource`` columns, found by the tags
:func:`aquarium_bokeh._common.source` put on them.
"""

from __future__ import annotations

import html
import math
import re
from typing import Any

import numpy as np
from bokeh.models import (
    ColorBar,
    Column,
    DataTable,
    Div,
    GlyphRenderer,
    Legend,
    LogScale,
    NumberFormatter,
    Scatter,
    ScientificFormatter,
)

from ._common import chart_of, keyed_sources, meta_of, subplots, text_of

_KIND = {"line": "line", "raw": "raw", "rawmean": "raw", "mean": "mean", "band": "band"}


def _column(data: Any, name: str) -> np.ndarray:
    return np.asarray(data[name], dtype=np.float64)


def _x(data: Any, field: str) -> np.ndarray:
    """x in the units of ``ChartOptions.x``: bokeh's datetime axis holds milliseconds."""
    x = _column(data, field)
    return x / 1000.0 if field == "wall" else x


def figures_of(root: Any) -> list[Any]:
    return [] if isinstance(root, Column) else subplots(root)


def traces(root: Any) -> list[dict[str, Any]]:
    chart = chart_of(root).get("aquarium_chart")
    out: list[dict[str, Any]] = []
    for fig in figures_of(root):
        for renderer in fig.renderers:
            if not isinstance(renderer, GlyphRenderer):
                continue
            meta = meta_of(renderer.data_source)
            part = meta.get("part")
            data = renderer.data_source.data
            glyph = renderer.glyph
            common = {"metric": meta.get("metric"), "run_id": meta.get("run_id"), "group": meta.get("group")}
            if part in _KIND:
                kind = "smoothed" if part == "line" and chart == "smoothed" else _KIND[part]
                trace = {"kind": kind, "name": renderer.name, "x": _x(data, glyph.x), **common}
                if part == "band":
                    trace.update(low=_column(data, "lower"), high=_column(data, "upper"),
                                 opacity=float(glyph.fill_alpha))
                else:
                    trace.update(y=_column(data, "y"), opacity=float(glyph.line_alpha))
                if part == "line":
                    trace["hover"] = [{"run": renderer.name, "step": int(s), "value": float(v), "wall_time": w / 1000.0}
                                      for s, v, w in zip(data["step"], data["y"], data["wall"])]
                out.append(trace)
            elif part == "histogram":
                left, right = _column(data, "left"), _column(data, "right")
                out.append({"kind": "histogram", "name": renderer.name, "x": (left + right) / 2.0,
                            "y": _column(data, "count"), "opacity": float(glyph.fill_alpha), **common})
            elif part == "stats" and isinstance(glyph, Scatter) and glyph.x == "mean":  # once per source
                for i, run_id in enumerate(data["run_id"]):
                    for name in ("mean", "median"):
                        out.append({"kind": "vline", "name": name, "x": np.array([float(data[name][i])]),
                                    "metric": meta.get("metric"), "run_id": run_id or None, "group": None})
            elif chart == "scatter" and meta.get("aquarium") == "points":
                x = data["x"]
                out.append({"kind": "points", "name": "runs", "metric": chart_of(root).get("metric"),
                            "x": list(x) if not isinstance(x, np.ndarray) else x, "y": _column(data, "best"),
                            "labels": list(data["run"]), "run_id": None, "group": None})
    return out


def title_texts(root: Any) -> list[str]:
    texts: list[str] = []
    if isinstance(root, Column):
        for div in root.select({"type": Div}):
            texts.append(div.text)
        for table in root.select({"type": DataTable}):
            texts += [html.unescape(col.title) for col in table.columns]  # titles are markup
        return texts
    for fig in figures_of(root):
        if fig.title is not None:
            texts.append(text_of(fig.title.text))
        for axis in [*fig.xaxis, *fig.yaxis]:
            if axis.visible and axis.axis_label is not None:
                texts.append(text_of(axis.axis_label))
        for legend in fig.select({"type": Legend}):
            texts += [text_of(item.label.value if hasattr(item.label, "value") else item.label)
                      for item in legend.items]
        for src in keyed_sources(fig).values():
            if meta_of(src).get("aquarium") == "names":  # parallel coordinates: the axes' names
                texts += list(src.data["text"])
    return [t for t in texts if t]


def y_scales(root: Any) -> list[str]:
    return ["log" if isinstance(fig.y_scale, LogScale) else "linear" for fig in figures_of(root)
            if any(isinstance(r, GlyphRenderer) for r in fig.renderers)]


def matrices(root: Any) -> list[dict[str, Any]]:
    out = []
    for fig in figures_of(root):
        for src in keyed_sources(fig).values():
            key = meta_of(src)["aquarium"]
            if key.startswith("heatmap|"):
                data = src.data
                out.append({"kind": "heatmap", "name": key.split("|", 1)[1], "rows": list(data["runs"][0]),
                            "columns": np.asarray(data["columns"][0], dtype=np.float64),
                            "z": np.asarray(data["image"][0], dtype=np.float64)[::-1]})
            elif key.startswith("matrix|"):
                labels = next(t["labels"] for t in fig.tags if isinstance(t, dict) and "labels" in t)
                z = np.full((len(labels), len(labels)), np.nan)
                z[np.asarray(src.data["i"], dtype=np.int64), np.asarray(src.data["j"], dtype=np.int64)] = \
                    np.asarray(src.data["r"], dtype=np.float64)
                out.append({"kind": key.split("|", 1)[1], "name": None, "rows": list(labels),
                            "columns": list(labels), "z": z})
    return out


def cell_text(value: Any, formatter: Any) -> str:
    """A cell as the table's formatter writes it (numbers to its precision, NaN as its text)."""
    if isinstance(formatter, (ScientificFormatter, NumberFormatter)):
        number = float(value)
        if math.isnan(number):
            return formatter.nan_format
        if isinstance(formatter, NumberFormatter):
            return f"{number:,.0f}"
        return f"{number:.{formatter.precision}g}"
    return "" if value is None else str(value)


def table(root: Any) -> dict[str, Any]:
    (grid,) = list(root.select({"type": DataTable}))
    data = grid.source.data
    header = [html.unescape(col.title) for col in grid.columns]  # what the page shows
    count = len(next(iter(data.values()))) if data else 0
    rows, highlighted = [], []
    for r in range(count):
        row = []
        for c, col in enumerate(grid.columns):
            row.append(cell_text(data[col.field][r], col.formatter))
            field = getattr(getattr(col.formatter, "font_style", None), "field", None)
            if isinstance(field, str) and data[field][r] == "bold":
                highlighted.append((r, c))
        rows.append(row)
    return {"header": header, "rows": rows, "highlighted": highlighted}


def dimensions(root: Any) -> list[dict[str, Any]]:
    sources = keyed_sources(root)
    labels = list(sources["names"].data["text"])
    lines = sources["lines"].data
    return [{"label": label, "values": list(lines[f"axis{k}"])} for k, label in enumerate(labels)]


_HEX = re.compile(r"#[0-9a-fA-F]{6}\b")


def backgrounds(root: Any) -> set[str]:
    found: set[str] = set()
    styles = getattr(root, "styles", None)
    if isinstance(styles, dict) and styles.get("background-color"):
        found.add(styles["background-color"])
    if isinstance(root, Column):
        for table_ in root.select({"type": DataTable}):
            for sheet in table_.stylesheets:
                css = getattr(sheet, "css", "")
                found.update(re.findall(r"--aq-(?:bg|paper):\s*(#[0-9a-fA-F]{6})", css))
        return {c.lower() for c in found}
    for fig in figures_of(root):
        found.update(str(c) for c in (fig.background_fill_color, fig.border_fill_color) if c)
        for bar in fig.select({"type": ColorBar}):
            if bar.background_fill_color:
                found.add(str(bar.background_fill_color))
    return {c.lower() for c in found if _HEX.fullmatch(c)}


def height(root: Any) -> int | None:
    if isinstance(root, Column):
        return next((t.height for t in root.select({"type": DataTable})), None)
    figs = figures_of(root)
    return figs[0].height if figs else None
