"""The hook implementation of ``aquarium-plotly`` (entry point ``plotly`` in the group ``aquarium``).

Registering imports no plotly: the charts import it on the first ``render``.
"""

from __future__ import annotations

from typing import Any

from aquarium import hookimpl

from .visualizer import PlotlyVisualizer


@hookimpl
def aquarium_register_visualizers(register: Any) -> None:
    register("plotly", PlotlyVisualizer())
