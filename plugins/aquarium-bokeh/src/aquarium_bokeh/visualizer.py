"""``BokehVisualizer``: every chart of :data:`aquarium.charts.CHARTS` drawn with bokeh.

Importing this module does not import bokeh: a chart module is imported on first use, so
loading the plugin (``aquarium`` entry point) costs nothing until something is drawn.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from aquarium.charts import CHARTS, ChartOptions, check_chart
from aquarium.interfaces import Visualizer

#: The module drawing each chart (``render(comparison, options)``).
MODULES = {
    "curves": "curves",
    "smoothed": "curves",
    "distribution": "distribution",
    "correlation": "correlation",
    "heatmap": "heatmap",
    "parallel_coordinates": "parallel",
    "scatter": "scatter",
    "summary_table": "table",
}


def _options(options: ChartOptions | Mapping[str, Any] | None) -> ChartOptions:
    if options is None:
        return ChartOptions()
    if isinstance(options, ChartOptions):
        return options
    if isinstance(options, Mapping):
        return ChartOptions.of(**options)
    raise TypeError(f"chart options must be aquarium.charts.ChartOptions, not {type(options).__name__}")


class BokehVisualizer(Visualizer):
    """Draws comparisons with bokeh; figures are bokeh models (a ``GridPlot`` of one subplot
    per metric for ``curves``, ``smoothed``, ``distribution`` and ``heatmap``, of the Pearson
    and Spearman matrices for ``correlation``; a figure for ``parallel_coordinates`` and
    ``scatter``; a ``Column`` holding a ``DataTable`` for ``summary_table``)."""

    name = "bokeh"
    charts = CHARTS

    def render(self, chart: str, comparison: Any, options: ChartOptions | Mapping[str, Any] | None = None) -> Any:
        check_chart(chart)
        options = _options(options)
        module = importlib.import_module(f"aquarium_bokeh.{MODULES[chart]}")
        if chart in ("curves", "smoothed"):
            return module.render(comparison, options, smoothed=chart == "smoothed")
        return module.render(comparison, options)

    def update(self, figure: Any, comparison: Any, options: ChartOptions | Mapping[str, Any] | None = None) -> Any:
        from ._common import chart_of
        from .live import update

        chart = chart_of(figure).get("aquarium_chart")
        if chart is None:
            raise ValueError(f"{type(figure).__name__} was not drawn by aquarium-bokeh: nothing to update")
        return update(figure, self.render(chart, comparison, options))

    def to_html(self, figures: Sequence[Any], *, title: str, theme: str = "dark", header_html: str = "") -> str:
        from .html import to_html

        if not isinstance(figures, Sequence) or isinstance(figures, str):
            figures = [figures]
        return to_html(figures, title=title, theme=theme, header_html=header_html)

    def plot(self, comparison: Any, metrics: Sequence[str] | str | None = None, *, chart: str = "curves",
             **options: Any) -> Any:
        """``render`` with the options as keyword arguments (what ``Comparison.plot`` calls)."""
        return self.render(chart, comparison, ChartOptions.of(metrics=metrics, **options))
