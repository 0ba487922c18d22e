"""``PlotlyVisualizer``: every chart of :data:`aquarium.charts.CHARTS` as a plotly figure."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from aquarium.charts import CHARTS, ChartOptions, check_chart
from aquarium.interfaces import Visualizer


def _key(trace: Any) -> str:
    """What a trace draws (its ``meta`` without bulky lists): matches a trace across redraws."""
    found = trace.meta if isinstance(trace.meta, dict) else {}
    return json.dumps({k: v for k, v in found.items() if not isinstance(v, list)}, sort_keys=True, default=str)


class PlotlyVisualizer(Visualizer):
    """Draws comparisons with plotly. ``render`` returns a ``plotly.graph_objects.Figure``;
    plotly is imported on the first call, not when the plugin loads."""

    name = "plotly"
    charts = CHARTS

    def render(self, chart: str, comparison: Any, options: ChartOptions | None = None) -> Any:
        check_chart(chart)
        options = options if options is not None else ChartOptions()
        if not isinstance(options, ChartOptions):
            raise TypeError(f"options must be aquarium.charts.ChartOptions (ChartOptions.of(**kwargs)), not "
                            f"{type(options).__name__}")
        if chart in ("curves", "smoothed"):
            from . import curves

            return curves.render(comparison, options, smoothed=chart == "smoothed")
        if chart == "distribution":
            from . import distribution

            return distribution.render(comparison, options)
        if chart in ("correlation", "heatmap"):
            from . import matrices

            return (matrices.render_correlation if chart == "correlation" else matrices.render_heatmap)(
                comparison, options)
        if chart in ("parallel_coordinates", "scatter"):
            from . import params

            return (params.render_parallel if chart == "parallel_coordinates" else params.render_scatter)(
                comparison, options)
        from . import table

        return table.render(comparison, options)

    def update(self, figure: Any, comparison: Any, options: ChartOptions | None = None) -> Any:
        """Bring ``figure`` up to date in place and return it.

        The chart is drawn again from ``comparison`` (build a fresh one, e.g. with
        ``aquarium.compare``, to see newly logged points); each trace that draws the same
        thing as before (same run or group, metric and part) keeps its object and ``uid`` and
        receives the new points, new runs are added, runs gone are removed. The layout keeps
        ``uirevision``, so plotly.js keeps the user's zoom, pan and hidden traces; a front end
        holding the figure (Panel, ``FigureWidget``) sends only what changed.
        """
        chart = ((figure.layout.meta or {}).get("aquarium") or {}).get("chart")
        if chart not in CHARTS:
            raise ValueError("figure was not made by PlotlyVisualizer.render (its layout.meta names no chart)")
        fresh = self.render(chart, comparison, options)
        wanted = {_key(t) for t in fresh.data}
        if any(_key(t) not in wanted for t in figure.data):
            figure.data = [t for t in figure.data if _key(t) in wanted]
        existing = {_key(t): t for t in figure.data}
        added = []
        for trace in fresh.data:
            old = existing.get(_key(trace))
            if old is None:
                added.append(trace)
                continue
            props = trace.to_plotly_json()
            props.pop("uid", None)
            props.pop("type", None)
            old.update(props)
        if added:
            figure.add_traces(added)
        layout = fresh.layout.to_plotly_json()
        layout.pop("uirevision", None)
        figure.update_layout(layout)
        return figure

    def to_html(self, figures: Sequence[Any], *, title: str, theme: str = "dark", header_html: str = "") -> str:
        from .document import document

        return document(figures, title=title, theme=theme, header_html=header_html)
