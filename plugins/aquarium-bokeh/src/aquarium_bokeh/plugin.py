"""The entry point ``bokeh`` of the group ``aquarium``: registers the bokeh visualizer.

Importing this module is cheap: bokeh is imported when a chart is first drawn.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aquarium

from .visualizer import BokehVisualizer


@aquarium.hookimpl
def aquarium_register_visualizers(register: Callable[[str, Any], None]) -> None:
    register("bokeh", BokehVisualizer())
