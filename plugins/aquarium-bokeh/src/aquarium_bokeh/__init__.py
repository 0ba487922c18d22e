"""aquarium-bokeh: every Aquarium chart drawn with bokeh, and offline HTML reports.

>>> from aquarium_bokeh import BokehVisualizer
>>> fig = BokehVisualizer().render("curves", aquarium.compare(...), ChartOptions(x="wall_time"))
"""

from __future__ import annotations

from .visualizer import BokehVisualizer

__all__ = ["BokehVisualizer"]
__version__ = "0.1.0"
