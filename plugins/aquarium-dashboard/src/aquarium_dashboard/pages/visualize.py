"""Visualize: distribution, correlation, heatmap, parallel coordinates and scatter of the selected runs."""

from __future__ import annotations

from typing import Any

import panel as pn

import aquarium
from aquarium.interfaces import DashboardPage

from ..charts import LiveChart
from ..context import DashboardContext

CHARTS = {"distribution": "distribution", "correlation": "correlation", "heatmap": "heatmap",
          "parallel coordinates": "parallel_coordinates", "scatter": "scatter"}


class VisualizePage(DashboardPage):
    name = "visualize"
    title = "Visualize"
    order = 30

    def build(self, context: DashboardContext) -> Any:
        return VisualizeView(context).view


class VisualizeView:
    def __init__(self, context: DashboardContext) -> None:
        self.context = context
        self.chart = pn.widgets.RadioButtonGroup(options=list(CHARTS), value="distribution",
                                                 css_classes=["aquarium-chart-kind"])
        self.metric = pn.widgets.Select(label="Metric", options=[], width=240)
        self.body = pn.Column(sizing_mode="stretch_width")
        self.view = pn.Column(pn.Row(self.chart, self.metric), self.body, sizing_mode="stretch_width",
                              css_classes=["aquarium-visualize"])
        draw = context.on_shown(VisualizePage.name, self.draw)
        context.selection.param.watch(draw, "run_ids")
        context.settings.param.watch(draw, "backend")
        self.chart.param.watch(draw, "value")
        self.metric.param.watch(draw, "value")
        draw()

    def draw(self) -> None:
        ids = self.context.selection.run_ids
        if not ids:
            self.body[:] = [pn.pane.Markdown("*Tick runs in the Experiments table to chart them here.*")]
            return
        comparison = aquarium.compare(ids, store=self.context.store)
        if self.metric.options != comparison.metrics:
            self.metric.options = comparison.metrics  # may re-enter draw() through the watcher
        metric = self.metric.value if self.metric.value in comparison.metrics else None
        options = {"metrics": [metric] if metric else None, "max_points": 1500}
        if CHARTS[self.chart.value] == "distribution":
            options["across"] = "final" if len(ids) > 1 else "runs"
        chart = LiveChart(self.context, CHARTS[self.chart.value], **options)
        self.body[:] = [chart.draw(comparison)]
