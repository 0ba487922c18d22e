"""The plotly visualizer against the contract every visualizer keeps (``VisualizerSuite``)."""

from __future__ import annotations

import pytest

from aquarium.testing import VisualizerSuite
from aquarium_plotly import PlotlyVisualizer
from aquarium_plotly.testing import backgrounds, dimensions, matrices, table, title_texts, traces, y_scales


class TestPlotlyVisualizer(VisualizerSuite):
    script_marker = "* plotly.js v"  # the bundle's banner comment

    @pytest.fixture
    def visualizer(self):
        return PlotlyVisualizer()

    def traces(self, figure):
        return traces(figure)

    def title_texts(self, figure):
        return title_texts(figure)

    def y_scales(self, figure):
        return y_scales(figure)

    def matrices(self, figure):
        return matrices(figure)

    def table(self, figure):
        return table(figure)

    def dimensions(self, figure):
        return dimensions(figure)

    def backgrounds(self, figure):
        return backgrounds(figure)

    def height(self, figure):
        return figure.layout.height
