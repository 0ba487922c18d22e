"""``scatter``: a param against a metric's best value, one point per run.

The param is ``options.param``, else the first numeric param that differs (else the first
that differs); the metric is the first of ``options.metrics`` (else of the comparison).
Runs lacking the param, or with no finite best, have no point. A param that is not numeric
for every run goes on a categorical axis (values as text). Points are coloured by group
(runs without one share the first colour). Axes are named as in the query language
(``params.<key>``, ``metrics.<key>.best``). Source key ``points``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from bokeh.models import FactorRange, HoverTool

from aquarium.charts import ChartOptions

from ._common import chart_metrics, color_at, new_figure, numeric, source, style
from .parallel import display


def pick_param(comparison: Any, options: ChartOptions) -> str | None:
    params = comparison.params
    if options.param is not None:
        if options.param not in params:
            raise ValueError(f"scatter param {options.param!r} is not a param of the compared runs; they have: "
                             f"{', '.join(params.keys) or 'none'}")
        return options.param
    for key in params.differing:
        if all(numeric(v) for v in params[key].values()):
            return key
    return params.differing[0] if params.differing else (params.keys[0] if params.keys else None)


def render(comparison: Any, options: ChartOptions) -> Any:
    metrics = chart_metrics(comparison, options)
    metric = metrics[0] if metrics else None
    param = pick_param(comparison, options)
    values = comparison.params[param] if param is not None else {}
    runs = [r for r in comparison.runs if metric is not None and metric in r.summaries and r.id in values
            and math.isfinite(comparison.summary.get(r.id, metric).best)]
    categorical = not all(numeric(values[r.id]) for r in runs)
    groups = list(comparison.group_names)
    rows = []
    for run in runs:
        stats = comparison.summary.get(run.id, metric)
        x = display(values[run.id]) if categorical else float(values[run.id])
        color = color_at(options, groups.index(run.group) if run.group in groups else 0)
        rows.append((x, stats.best, stats.best_step, stats.last, run.name, run.group or "", color, stats.direction))
    direction = rows[0][7] if rows else ""
    x_label = f"params.{param}" if param is not None else "param"
    y_label = f"metrics.{metric}.best" if metric is not None else "metric"
    if metric is not None and param is not None:
        title = f"best {metric} ({direction}) against {param}: one point per run ({len(rows)})"
    else:
        title = "scatter needs a param and a metric"
    extra: dict[str, Any] = {}
    if categorical:
        extra["x_range"] = FactorRange(factors=sorted({r[0] for r in rows}))
    fig = new_figure(options, title, x_label, y_label, y_axis_type="log" if options.log_y else "linear", **extra)
    data = {
        "x": [r[0] for r in rows] if categorical else np.array([r[0] for r in rows], dtype=np.float64),
        "y": np.array([r[1] if not options.log_y or r[1] > 0 else math.nan for r in rows], dtype=np.float64),
        "best": np.array([r[1] for r in rows], dtype=np.float64),
        "step": np.array([-1 if r[2] is None else r[2] for r in rows], dtype=np.float64),
        "last": np.array([r[3] for r in rows], dtype=np.float64),
        "run": [r[4] for r in rows],
        "group": [r[5] for r in rows],
        "color": [r[6] for r in rows],
    }
    points = fig.scatter("x", "y", source=source("points", data), size=10, fill_color="color", line_color="color",
                         fill_alpha=0.75)
    fig.add_tools(HoverTool(renderers=[points], tooltips=[
        ("run", "@run"), ("group", "@group"), (x_label, "@x" if categorical else "@x{%.6g}"),
        (y_label, "@best{%.6g}"), ("at step", "@step"), ("last", "@last{%.6g}")],
        formatters={"@x": "printf", "@best": "printf", "@last": "printf"}))
    style(fig, options)
    fig.tags = [{"aquarium_chart": "scatter", "metric": metric, "param": param}]
    return fig
