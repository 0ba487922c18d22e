"""``correlation``: Pearson and Spearman matrices side by side.

Across runs (the default): the params that differ and are numbers in every run that has
them (``params.<key>``; booleans and text are left out) and each metric's final value
(``metrics.<key>.last``), one observation per run. Within one run (``options.run``, its id
or its unique name): its metrics (``metrics.<key>``) against each other at the steps where
all of them were logged (the last value logged at a step counts). Every coefficient uses
the pairwise complete observations (both values finite), and needs two of them and some
variance on both sides, else it shows as ``—``. Spearman's rho is Pearson's r of the ranks,
ties sharing their average rank. Source keys: ``matrix|pearson`` and ``matrix|spearman``
(columns ``i``/``j`` index ``labels``, the variables in order).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from bokeh.models import ColorBar, FactorRange, HoverTool, LinearColorMapper

from aquarium.charts import ChartOptions, n_runs
from aquarium.series import last_per_step

from ._common import chart_metrics, correlations, grid, new_figure, numeric, source, style

#: Coefficients are written in the cells up to this many variables.
MAX_ANNOTATED = 20


def render(comparison: Any, options: ChartOptions) -> Any:
    if options.run is not None:
        run = find_run(comparison, options.run)
        names, columns = within_run(comparison, run, options)
        what = f"of metrics within run {run.name}"
    else:
        names, columns = across_runs(comparison, options)
        what = f"across {n_runs(len(comparison.runs))}"
    r, rho, n = correlations(columns)
    figures = [matrix_figure("Pearson", "pearson", r, n, names, what, options),
               matrix_figure("Spearman", "spearman", rho, n, names, what, options)]
    return grid(figures, options, {"aquarium_chart": "correlation", "run": options.run})


def find_run(comparison: Any, wanted: str) -> Any:
    for run in comparison.runs:
        if run.id == wanted:
            return run
    named = [run for run in comparison.runs if run.name == wanted]
    if len(named) == 1:
        return named[0]
    raise ValueError(f"correlation run {wanted!r} is not one of the compared runs (give its id"
                     + (f"; {len(named)} runs are named so" if named else "") + ")")


def across_runs(comparison: Any, options: ChartOptions) -> tuple[list[str], list[np.ndarray]]:
    names: list[str] = []
    columns: list[np.ndarray] = []
    runs = comparison.runs
    for key in comparison.params.differing:
        values = comparison.params[key]
        if not values or not all(numeric(v) for v in values.values()):
            continue
        names.append(f"params.{key}")
        columns.append(np.array([float(values[r.id]) if r.id in values else math.nan for r in runs]))
    for metric in chart_metrics(comparison, options):
        names.append(f"metrics.{metric}.last")
        columns.append(np.array([r.summaries[metric].last if metric in r.summaries else math.nan for r in runs],
                                dtype=np.float64))
    return names, columns


def within_run(comparison: Any, run: Any, options: ChartOptions) -> tuple[list[str], list[np.ndarray]]:
    metrics = [m for m in chart_metrics(comparison, options) if m in run.summaries]
    per_step = []
    for metric in metrics:
        curve = comparison.curves(metric)[run.id]
        per_step.append(last_per_step(curve.steps, curve.raw))
    if not per_step:
        return [], []
    common = per_step[0][0]
    for steps, _ in per_step[1:]:
        common = np.intersect1d(common, steps, assume_unique=True)
    columns = [values[np.searchsorted(steps, common)] for steps, values in per_step]
    return [f"metrics.{m}" for m in metrics], columns


def diverging(options: ChartOptions, steps: int = 21) -> list[str]:
    """From the theme's danger colour (-1) through its background (0) to its info colour (+1)."""
    def rgb(color: str) -> np.ndarray:
        return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)

    c = options.colors
    low, mid, high = rgb(c["danger"]), rgb(c["background"]), rgb(c["info"])
    out = []
    for t in np.linspace(-1.0, 1.0, steps):
        color = mid + (low - mid) * -t if t < 0 else mid + (high - mid) * t
        out.append("#" + "".join(f"{round(float(v)):02x}" for v in color))
    return out


def matrix_figure(label: str, kind: str, matrix: np.ndarray, n: np.ndarray, names: list[str], what: str,
                  options: ChartOptions) -> Any:
    k = len(names)
    title = f"{label} correlation {what}"
    if k < 2:
        title += ": needs at least two numeric params or metrics"
    side = int(min(900, max(460, 160 + 44 * k)))
    fig = new_figure(options, title, "", "", width=side, x_range=FactorRange(factors=list(names)),
                     y_range=FactorRange(factors=list(reversed(names))))
    fig.height = max(fig.height, side - 60)
    fig.tags = [{"aquarium_matrix": kind, "labels": list(names)}]
    xs, ys = np.meshgrid(np.arange(k), np.arange(k), indexing="ij")
    values = matrix.reshape(-1) if k else np.empty(0)
    data = {"i": xs.reshape(-1), "j": ys.reshape(-1),
            "x": [names[i] for i in xs.reshape(-1)], "y": [names[j] for j in ys.reshape(-1)],
            "r": values, "n": n.reshape(-1) if k else np.empty(0, dtype=np.int64),
            "text": ["—" if not math.isfinite(v) else f"{v:.2f}" for v in values]}
    mapper = LinearColorMapper(palette=diverging(options), low=-1.0, high=1.0, nan_color=options.colors["grid"])
    src = source(f"matrix|{kind}", data)
    cells = fig.rect("x", "y", width=1, height=1, source=src, fill_color={"field": "r", "transform": mapper},
                     line_color=options.colors["paper"])
    if 0 < k <= MAX_ANNOTATED:
        fig.text("x", "y", text="text", source=src, text_align="center", text_baseline="middle",
                 text_color=options.colors["text"], text_font_size="11px")
    fig.add_tools(HoverTool(renderers=[cells], tooltips=[("pair", "@x × @y"), (label, "@r{%.4f}"),
                                                         ("observations", "@n")], formatters={"@r": "printf"}))
    fig.add_layout(ColorBar(color_mapper=mapper, width=10, background_fill_color=options.colors["paper"],
                            major_label_text_color=options.colors["text"]), "right")
    fig.xaxis.major_label_orientation = math.pi / 4
    style(fig, options)
    fig.grid.visible = False
    return fig
