"""Reading plotly figures back into plain data: the extractors of ``VisualizerSuite`` (also handy
for anyone testing code that draws with this plugin)."""

from __future__ import annotations

import html
import re
from typing import Any

import numpy as np

_TAG = re.compile(r"<[^>]*>")


def plain(value: Any) -> str:
    """What plotly shows for a label: its markup (``<b>``, ``<br>``) gone, entities decoded.
    User text is escaped by the plugin, so every ``<`` left in the raw label is markup."""
    if value is None:
        return ""
    return html.unescape(_TAG.sub("", re.sub(r"<br\s*/?>", "\n", str(value))))


def array(values: Any) -> np.ndarray:
    if values is None:
        return np.empty(0)
    out = np.asarray(values)
    if out.dtype.kind in "OUS":  # category labels
        return np.array([plain(v) for v in out.tolist()], dtype=object)
    return out.astype(np.float64)


def wall_seconds(texts: Any) -> np.ndarray:
    stamps = np.array([str(t).replace(" ", "T") for t in texts], dtype="datetime64[ms]")
    return stamps.astype(np.int64) / 1000.0


def chart_meta(figure: Any) -> dict[str, Any]:
    return (figure.layout.meta or {}).get("aquarium") or {}


def traces(figure: Any) -> list[dict[str, Any]]:
    wall = chart_meta(figure).get("x") == "wall_time"
    out: list[dict[str, Any]] = []
    bands: dict[tuple, dict[str, Any]] = {}
    for trace in figure.data:
        meta = trace.meta if isinstance(trace.meta, dict) else {}
        kind = meta.get("aquarium")
        if kind not in ("line", "raw", "smoothed", "mean", "band", "histogram", "vline", "points"):
            continue
        common = {"kind": kind, "name": plain(trace.name), "metric": meta.get("metric"),
                  "run_id": meta.get("run_id"), "group": meta.get("group"),
                  "opacity": 1.0 if trace.opacity is None else float(trace.opacity)}
        x = array(trace.x)
        if wall and kind in ("line", "raw", "smoothed"):
            x = x / 1000.0
        if kind == "band":
            band = bands.setdefault((meta.get("metric"), meta.get("group")), {**common, "x": x})
            band["high" if meta["part"] == "high" else "low"] = array(trace.y)
            if len(bands) > len([t for t in out if t["kind"] == "band"]):
                out.append(band)
            continue
        item = {**common, "x": x, "y": array(trace.y)}
        if kind == "points":
            item["labels"] = [plain(t) for t in trace.text]
        if kind == "line":
            item["hover"] = [{"run": plain(trace.name), "step": int(step), "value": float(value), "wall_time": when}
                             for step, value, when in zip(trace.customdata, trace.y, wall_seconds(trace.text))]
        out.append(item)
    return out


def title_texts(figure: Any) -> list[str]:
    layout = figure.layout.to_plotly_json()
    texts = [((layout.get("title") or {}).get("text"))]
    for key, value in layout.items():
        if re.fullmatch(r"[xy]axis\d*", key):
            texts.append(((value or {}).get("title") or {}).get("text"))
    texts += [a.get("text") for a in layout.get("annotations") or []]
    return [plain(t) for t in texts if t]


def y_scales(figure: Any) -> list[str]:
    layout = figure.layout.to_plotly_json()
    keys = sorted((k for k in layout if re.fullmatch(r"yaxis\d*", k)), key=lambda k: int(k[5:] or 1))
    return [layout[k].get("type") or "linear" for k in keys]


def matrices(figure: Any) -> list[dict[str, Any]]:
    out = []
    for trace in figure.data:
        if trace.type != "heatmap":
            continue
        meta = trace.meta or {}
        kind = meta.get("aquarium")
        out.append({"kind": kind, "name": meta.get("metric") if kind == "heatmap" else kind,
                    "rows": [plain(r) for r in trace.y],
                    "columns": [plain(c) for c in trace.x] if kind != "heatmap" else array(trace.x),
                    "z": np.asarray(trace.z, dtype=np.float64)})
    return out


def table(figure: Any) -> dict[str, Any]:
    (trace,) = [t for t in figure.data if t.type == "table"]
    columns = [list(c) for c in trace.cells["values"]]
    fills = trace.cells["fill"]["color"]
    highlight = trace.meta["highlight"]
    rows = [[plain(column[r]) for column in columns] for r in range(len(columns[0]) if columns else 0)]
    highlighted = [(r, c) for c, column in enumerate(fills) for r, colour in enumerate(column) if colour == highlight]
    return {"header": [plain(h) for h in trace.header["values"]], "rows": rows, "highlighted": highlighted}


def dimensions(figure: Any) -> list[dict[str, Any]]:
    (trace,) = [t for t in figure.data if t.type == "parcoords"]
    missing = (trace.meta or {}).get("missing") or {}
    out = []
    for index, dim in enumerate(trace.dimensions):
        sentinel = missing.get(str(index))
        if sentinel is not None:  # a numeric axis with a "—" tick for the runs lacking a value
            values: Any = np.where(array(dim.values) == sentinel, np.nan, array(dim.values))
        elif dim.ticktext is not None:  # categories: tick texts are plain text in plotly
            names = dict(zip(dim.tickvals, dim.ticktext))
            values = [names[v] for v in dim.values]
        else:
            values = array(dim.values)
        out.append({"label": plain(dim.label), "values": values})
    return out


def backgrounds(figure: Any) -> set[str]:
    return {c for c in (figure.layout.paper_bgcolor, figure.layout.plot_bgcolor) if c}
