"""aquarium-bokeh keeps the visualizer contract: the core's ``VisualizerSuite`` on real runs."""

from __future__ import annotations

from typing import Any

import pytest

from aquarium.testing import VisualizerSuite
from aquarium_bokeh import BokehVisualizer, readback


class TestBokehVisualizer(VisualizerSuite):
    script_marker = "/* BEGIN bokeh.min.js */"

    @pytest.fixture
    def visualizer(self) -> BokehVisualizer:
        return BokehVisualizer()

    def traces(self, figure: Any) -> list[dict[str, Any]]:
        return readback.traces(figure)

    def title_texts(self, figure: Any) -> list[str]:
        return readback.title_texts(figure)

    def y_scales(self, figure: Any) -> list[str]:
        return readback.y_scales(figure)

    def matrices(self, figure: Any) -> list[dict[str, Any]]:
        return readback.matrices(figure)

    def table(self, figure: Any) -> dict[str, Any]:
        return readback.table(figure)

    def dimensions(self, figure: Any) -> list[dict[str, Any]]:
        return readback.dimensions(figure)

    def backgrounds(self, figure: Any) -> set[str]:
        return readback.backgrounds(figure)

    def height(self, figure: Any) -> int | None:
        return readback.height(figure)
