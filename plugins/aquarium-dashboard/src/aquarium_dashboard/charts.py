"""Charts from whichever visualizer plugin the session uses, or a hint when none is installed."""

from __future__ import annotations

from typing import Any

import panel as pn

from .context import DashboardContext
from .text import text_pane

INSTALL_HINT = ("No visualizer plugin is installed, so tables stand in for charts: "
                "pip install aquarium-plotly (or aquarium-bokeh) for charts.")


def hint() -> pn.pane.Alert:
    return pn.pane.Alert(INSTALL_HINT, alert_type="info", css_classes=["aquarium-no-charts"])


class LiveChart:
    """One chart kept up to date: drawn once, then :meth:`update` streams new points into the
    same figure (the visualizer keeps the user's zoom)."""

    def __init__(self, context: DashboardContext, chart: str, **options: Any) -> None:
        self.context, self.chart, self.options = context, chart, context.chart_options(**options)
        self.backend = context.settings.backend
        self.figure: Any = None
        self.pane: Any = pn.Column(sizing_mode="stretch_width")

    def draw(self, comparison: Any) -> Any:
        visualizer = self.context.visualizer
        if visualizer is None:
            self.pane[:] = [hint()]
            return self.pane
        self.backend = self.context.settings.backend
        try:
            self.figure = visualizer.render(self.chart, comparison, self.options)
        except (ValueError, KeyError) as error:  # e.g. a chart that needs two runs or a numeric param
            self.figure = None
            self.pane[:] = [text_pane(str(error), css_classes=["aquarium-chart-problem"])]
            return self.pane
        self.pane[:] = [pn.panel(self.figure, sizing_mode="stretch_width")]
        self.pane.css_classes = ["aquarium-chart", f"aquarium-chart-{self.chart}"]
        return self.pane

    def update(self, comparison: Any) -> None:
        visualizer = self.context.visualizer
        if self.figure is None or visualizer is None or self.backend != self.context.settings.backend:
            self.draw(comparison)
            return
        self.figure = visualizer.update(self.figure, comparison, self.options)
        inner = self.pane[0]
        if getattr(inner, "object", None) is self.figure:
            inner.param.trigger("object")
        else:
            inner.object = self.figure
