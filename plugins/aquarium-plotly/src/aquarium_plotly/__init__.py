"""Aquarium's plotly visualizer: every comparison chart, live updates and offline HTML reports.

>>> from aquarium_plotly import PlotlyVisualizer
>>> figure = PlotlyVisualizer().render("curves", aquarium.compare(...), ChartOptions(log_y=True))

Usually reached through ``Comparison.plot(..., backend="plotly")`` and ``Comparison.to_html``.
"""

from __future__ import annotations

from .visualizer import PlotlyVisualizer

__all__ = ["PlotlyVisualizer"]
__version__ = "0.1.0"
