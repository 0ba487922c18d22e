"""``update``: bring a figure on screen up to date with a comparison that has grown.

The chart is rendered afresh and its keyed sources (see :mod:`aquarium_bokeh._common`) are
merged into the figure's own:

- a source whose old rows mostly lead the new data unchanged gets only the rest: the rows
  that changed through ``ColumnDataSource.patch``, the new ones through ``stream`` (in a live
  document only those rows travel to the browser). Downsampling keeps the leading points
  of a growing series (:func:`aquarium.series.minmax_indices`), so a curve past
  ``max_points`` gets its last bucket and its new points;
- otherwise (the series doubled and was bucketed anew, or a smoothing changed earlier
  points) the source's data is replaced;
- in ``curves``/``smoothed``, a run that appeared gets its lines added to the subplot of
  its metric, and a run that left has its lines removed.

The figure's ranges are never touched, so the user's zoom stays. When the structure
changed beyond that (other metrics, other subplots), the grid's contents are swapped for
the fresh ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.models import ColumnDataSource, DataTable, FactorRange, GlyphRenderer, GridPlot, HoverTool, Legend

from ._common import chart_of, key_of, keyed_sources, subplots


def agreeing(old: Any, new: Any) -> int:
    """How many leading rows of column ``old`` the column ``new`` repeats unchanged."""
    n = min(len(old), len(new))
    a, b = np.asarray(old[:n]), np.asarray(new[:n])
    if a.dtype.kind in "fiub" and b.dtype.kind in "fiub":
        a, b = a.astype(np.float64), b.astype(np.float64)
        same = (a == b) | (np.isnan(a) & np.isnan(b))
    else:
        same = np.array([x == y for x, y in zip(a.tolist(), b.tolist())], dtype=bool)
    differ = np.flatnonzero(~same)
    return int(differ[0]) if len(differ) else n


def merge_data(target: ColumnDataSource, data: dict[str, Any]) -> None:
    """Send the browser only the rows that changed.

    A series that grew keeps its leading rows (downsampling keeps the points of its full
    buckets, :func:`aquarium.series.minmax_indices`): the rows that differ are patched and
    the new ones streamed. When most rows changed (a smoothing that rewrites the past, a
    series that doubled and was bucketed anew) or columns differ, the data is replaced.
    """
    old = target.data
    if not old or set(old) != set(data):
        target.data = dict(data)
        return
    n_old = len(next(iter(old.values())))
    n_new = len(next(iter(data.values())))
    same = min(agreeing(old[c], data[c]) for c in old)
    if n_new < n_old or same < n_old // 2:
        target.data = dict(data)
        return
    if same < n_old:
        target.patch({c: [(slice(same, n_old), list(data[c][same:n_old]))] for c in data})
    if n_new > n_old:
        target.stream({c: data[c][n_old:] for c in data})


def update(figure: Any, fresh: Any) -> Any:
    chart = chart_of(figure).get("aquarium_chart")
    if chart in ("curves", "smoothed"):
        merge_grid_lines(figure, fresh)
    elif chart == "scatter":
        merge_sources(figure, fresh)
        copy_texts(figure, fresh)
        if isinstance(figure.x_range, FactorRange) and isinstance(fresh.x_range, FactorRange):
            figure.x_range.factors = list(fresh.x_range.factors)
        elif isinstance(figure.x_range, FactorRange) or isinstance(fresh.x_range, FactorRange):
            figure.x_range = fresh.x_range
    elif chart == "parallel_coordinates":
        merge_sources(figure, fresh)
        copy_texts(figure, fresh)
        figure.x_range.end = fresh.x_range.end
        figure.width = fresh.width
        for old, new in zip(mappers(figure), mappers(fresh)):
            old.update(low=new.low, high=new.high)
    elif chart == "summary_table":
        old_table = next(iter(figure.select({"type": DataTable})))
        new_table = next(iter(fresh.select({"type": DataTable})))
        old_table.columns = list(new_table.columns)
        old_table.update(width=new_table.width, height=new_table.height)
        merge_sources(figure, fresh)
    else:
        swap_grid(figure, fresh)
    figure.tags = list(fresh.tags)
    return figure


def mappers(root: Any) -> list[Any]:
    from bokeh.models import LinearColorMapper

    return list(root.select({"type": LinearColorMapper}))


def set_if_changed(model: Any, attr: str, value: Any) -> None:
    """Assign only a new value: every assignment travels to the browser, equal or not."""
    if getattr(model, attr) != value:
        setattr(model, attr, value)


def merge_sources(figure: Any, fresh: Any) -> None:
    new = keyed_sources(fresh)
    old = keyed_sources(figure)
    for key, src in new.items():
        if key in old:
            merge_data(old[key], src.data)


def copy_texts(figure: Any, fresh: Any) -> None:
    set_if_changed(figure.title, "text", fresh.title.text)
    for old, new in zip([*figure.xaxis, *figure.yaxis], [*fresh.xaxis, *fresh.yaxis]):
        set_if_changed(old, "axis_label", new.axis_label)
    for old, new in zip(figure.select({"type": HoverTool}), fresh.select({"type": HoverTool})):
        old.tooltips = new.tooltips


def swap_grid(figure: Any, fresh: Any) -> None:
    if isinstance(figure, GridPlot) and isinstance(fresh, GridPlot):
        figure.children = list(fresh.children)
        figure.toolbar = fresh.toolbar
    else:
        raise TypeError(f"cannot update a {type(figure).__name__} with a {type(fresh).__name__}")


def by_metric(root: Any) -> dict[str, Any]:
    out = {}
    for fig in subplots(root):
        for tag in fig.tags:
            if isinstance(tag, dict) and "aquarium_metric" in tag:
                out[tag["aquarium_metric"]] = fig
    return out


def merge_grid_lines(figure: Any, fresh: Any) -> None:
    old_tag, new_tag = chart_of(figure), chart_of(fresh)
    old_subs, new_subs = by_metric(figure), by_metric(fresh)
    if list(old_subs) != list(new_subs) or old_tag.get("x") != new_tag.get("x"):
        swap_grid(figure, fresh)
        return
    for metric, fig in old_subs.items():
        merge_lines(fig, new_subs[metric])


def hover_kind(tool: HoverTool) -> str:
    tips = tool.tooltips
    return tips[0][0] if isinstance(tips, list) and tips else ""


def merge_lines(fig: Any, fresh: Any) -> None:
    """Stream into the lines already drawn, add the new runs' lines, drop the departed ones."""
    old_sources = keyed_sources(fig)
    new_sources = keyed_sources(fresh)
    set_if_changed(fig.title, "text", fresh.title.text)
    renderers_of_new = {key_of(r.data_source): r for r in fresh.renderers if isinstance(r, GlyphRenderer)}
    old_hovers = {hover_kind(t): t for t in fig.select({"type": HoverTool})}
    new_hovers = {hover_kind(t): t for t in fresh.select({"type": HoverTool})}
    old_legend = next(iter(fig.select({"type": Legend})), None)
    new_legend = next(iter(fresh.select({"type": Legend})), None)
    added = []
    for key, src in new_sources.items():
        if key in old_sources:
            merge_data(old_sources[key], src.data)
            continue
        renderer = renderers_of_new.get(key)
        if renderer is None:
            continue
        fresh.renderers = [r for r in fresh.renderers if r is not renderer]
        fig.renderers = [*fig.renderers, renderer]
        added.append(renderer)
        for kind, tool in new_hovers.items():
            if renderer in tool.renderers:
                if kind in old_hovers:
                    old_hovers[kind].renderers = [*old_hovers[kind].renderers, renderer]
                else:
                    tool.renderers = [r for r in tool.renderers if r in added]
                    fig.add_tools(tool)
                    old_hovers[kind] = tool
    if old_legend is not None and new_legend is not None and added:
        ids = {id(r) for r in added}
        old_legend.items = [*old_legend.items,
                            *(item for item in new_legend.items if any(id(r) in ids for r in item.renderers))]
    gone = {key for key in old_sources if key not in new_sources}
    if gone:
        keep = [r for r in fig.renderers if not (isinstance(r, GlyphRenderer) and key_of(r.data_source) in gone)]
        dropped = {id(r) for r in fig.renderers} - {id(r) for r in keep}
        fig.renderers = keep
        for tool in old_hovers.values():
            tool.renderers = [r for r in tool.renderers if id(r) not in dropped]
        if old_legend is not None:
            items = []
            for item in old_legend.items:
                item.renderers = [r for r in item.renderers if id(r) not in dropped]
                if item.renderers:
                    items.append(item)
            old_legend.items = items
