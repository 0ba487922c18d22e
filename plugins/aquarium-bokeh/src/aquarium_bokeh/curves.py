"""``curves`` and ``smoothed``: one subplot per metric, a line per run, seed groups as bands.

Runs of a ``group`` become the group's mean line and band (``options.band``) when x is the
step (seeds are aggregated step by step); on other x axes they are drawn one by one, as in
the plotly plugin. Smoothing comes from the core (``Comparison.curves``/``groups``) and runs
on the full series; only then is each series downsampled with the core's min/max buckets, so no
series sends more than ``max_points`` points and every spike survives. Source keys:
``line|<metric>|<run id>`` (the drawn line), ``raw|<metric>|<run id>`` (the faint raw
line of ``smoothed``), ``mean|<metric>|<group>``, ``band|<metric>|<group>`` and
``rawmean|<metric>|<group>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.models import GlyphRenderer, HoverTool, LegendItem, Line, VArea

from aquarium.charts import ChartOptions, banded_groups, entity_colors
from aquarium.series import last_per_step

from ._common import (
    MAX_LEGEND,
    Shared,
    add_legend,
    band_indices,
    chart_metrics,
    compact_steps,
    downsample,
    grid,
    new_figure,
    positive_only,
    source,
    style,
)

#: TensorBoard's default smoothing, used by ``smoothed`` when no ``smoothing`` is given.
DEFAULT_SMOOTHING = "ema:0.6"
X_LABELS = {"step": "step", "wall_time": "wall time", "relative_time": "relative time (s)"}


def render(comparison: Any, options: ChartOptions, *, smoothed: bool) -> Any:
    chart = "smoothed" if smoothed else "curves"
    spec = (options.smoothing or DEFAULT_SMOOTHING) if smoothed else options.smoothing
    figures = [metric_figure(comparison, metric, options, spec, smoothed) for metric in chart_metrics(comparison,
                                                                                                      options)]
    if not figures:
        figures = [style(new_figure(options, "no metrics to draw", X_LABELS.get(options.x, options.x), ""), options)]
    for fig in figures[1:]:
        fig.x_range = figures[0].x_range  # pan and zoom the subplots together
    return grid(figures, options, {"aquarium_chart": chart, "x": options.x, "smoothing": spec})


def x_field(x: str) -> str:
    """The source column a line's x comes from (``step`` and ``wall`` exist anyway)."""
    return {"step": "step", "wall_time": "wall"}.get(x, "x")


def metric_figure(comparison: Any, metric: str, options: ChartOptions, spec: str | None, smoothed: bool) -> Any:
    x = options.x
    shared = Shared()
    curves = comparison.curves(metric, x=x, smoothing=spec)
    walls = wall_times(comparison, metric, x, curves)
    groups = banded_groups(comparison, metric, options, spec)
    raw_groups = banded_groups(comparison, metric, options) if groups and smoothed else {}
    grouped = {run_id for aggregate in groups.values() for run_id in aggregate.run_ids}

    title = f"{metric} (smoothed: {spec})" if spec else metric
    fig = new_figure(options, title, X_LABELS.get(x, x), metric,
                     x_axis_type="datetime" if x == "wall_time" else "linear",
                     y_axis_type="log" if options.log_y else "linear")
    fig.tags = [{"aquarium_metric": metric}]
    legend = len(curves) - len(grouped & set(curves)) + len(groups) <= MAX_LEGEND
    items: list[LegendItem] = []
    drawn: list[GlyphRenderer] = []
    run_lines: list[GlyphRenderer] = []
    group_lines: list[GlyphRenderer] = []
    colors = entity_colors(comparison, options)
    for run_id, curve in curves.items():
        if run_id in grouped:
            continue
        renderers = draw_run(shared, metric, curve, walls[run_id], options, colors[run_id], smoothed)
        drawn += renderers
        run_lines.append(renderers[-1])
        if legend:
            items.append(LegendItem(label=curve.run_name, renderers=renderers))
    for name, aggregate in groups.items():
        color = colors[f"group:{name}"]
        renderers = []
        if name in raw_groups:
            renderers.append(draw_group_mean(shared, metric, raw_groups[name], options, color, faint=True))
        renderers.append(draw_band(shared, metric, aggregate, options, color))
        mean = draw_group_mean(shared, metric, aggregate, options, color, faint=False)
        renderers.append(mean)
        drawn += renderers
        group_lines.append(mean)
        label = f"{name} (mean of {len(aggregate.run_ids)}, {'min–max' if options.band == 'minmax' else '± std'})"
        if legend:
            items.append(LegendItem(label=label, renderers=renderers))
    fig.renderers.extend(drawn)  # at once: one change of the list, not one per run

    fig.add_tools(HoverTool(renderers=run_lines, tooltips=run_tooltips(x, smoothed),
                            formatters={"@y": "printf", "@raw": "printf", "@x": "printf", "@wall": "datetime"},
                            line_policy="nearest"))
    if group_lines:
        fig.add_tools(HoverTool(renderers=group_lines, tooltips=[
            ("group", "$name"), ("step", "@step"), ("mean", "@y{%.6g}"), ("band", "@lower{%.6g} to @upper{%.6g}"),
            ("runs", "@count")], formatters={"@y": "printf", "@lower": "printf", "@upper": "printf"},
            line_policy="nearest"))
    add_legend(fig, items)
    return style(fig, options)


def run_tooltips(x: str, smoothed: bool) -> list[tuple[str, str]]:
    tips = [("run", "$name"), ("step", "@step"), ("value", "@y{%.6g}")]
    if smoothed:
        tips.append(("raw", "@raw{%.6g}"))
    if x == "relative_time":
        tips.append(("relative time", "@x{%.6g} s"))
    elif x not in ("step", "wall_time"):
        tips.append((x, "@x{%.6g}"))
    tips.append(("wall time (UTC)", "@wall{%F %T.%3N}"))
    return tips


def wall_times(comparison: Any, metric: str, x: str, curves: dict[str, Any]) -> dict[str, np.ndarray]:
    """Per run, the wall time (ms since the epoch, for bokeh's datetime axis and hover) of
    each point of its curve."""
    if x == "wall_time":
        return {run_id: np.asarray(c.x, dtype=np.float64) * 1000.0 for run_id, c in curves.items()}
    logged = comparison.curves(metric, x="wall_time")
    out = {}
    for run_id, curve in curves.items():
        times = logged[run_id]
        if x in ("step", "relative_time"):  # the same points in the same (logging) order
            out[run_id] = np.asarray(times.x, dtype=np.float64) * 1000.0
        else:  # paired with another metric by step: the curve's steps are sorted and unique
            steps, stamps = last_per_step(times.steps, times.x)
            out[run_id] = stamps[np.searchsorted(steps, curve.steps)] * 1000.0
    return out


def line(shared: Shared, src: Any, field: str, color: str, name: str, *, alpha: float = 1.0,
         width: float = 1.5) -> GlyphRenderer:
    """A line renderer made directly (``figure.line`` adds selection and muted glyphs nobody
    uses here: with 1,000 runs, that is 2,000 models more to build and write)."""
    return shared.renderer(src, Line(x=field, y="y", line_color=color, line_alpha=alpha, line_width=width), name)


def draw_run(shared: Shared, metric: str, curve: Any, wall: np.ndarray, options: ChartOptions, color: str,
             smoothed: bool) -> list[GlyphRenderer]:
    renderers = []
    field = x_field(options.x)
    if smoothed:
        raw = positive_only(curve.raw, options.log_y)
        keep = downsample(raw, options.max_points)
        data = {"step": compact_steps(curve.steps[keep]), "y": raw[keep], "wall": wall[keep]}
        if field == "x":
            data["x"] = np.asarray(curve.x, dtype=np.float64)[keep]
        src = source(f"raw|{metric}|{curve.run_id}", data, shared=shared, part="raw", metric=metric,
                     run_id=curve.run_id)
        renderers.append(line(shared, src, field, color, curve.run_name, alpha=0.25, width=1))
    y = positive_only(curve.y, options.log_y)
    keep = downsample(y, options.max_points)
    data = {"step": compact_steps(curve.steps[keep]), "y": y[keep], "wall": wall[keep]}
    if field == "x":
        data["x"] = np.asarray(curve.x, dtype=np.float64)[keep]
    if smoothed:
        data["raw"] = np.asarray(curve.raw, dtype=np.float64)[keep]
    src = source(f"line|{metric}|{curve.run_id}", data, shared=shared, part="line", metric=metric, run_id=curve.run_id)
    renderers.append(line(shared, src, field, color, curve.run_name, width=2 if smoothed else 1.5))
    return renderers


def band_edges(aggregate: Any, band: str) -> tuple[np.ndarray, np.ndarray]:
    if band == "std":
        return aggregate.mean - aggregate.std, aggregate.mean + aggregate.std
    return aggregate.min, aggregate.max


def draw_group_mean(shared: Shared, metric: str, aggregate: Any, options: ChartOptions, color: str, *,
                    faint: bool) -> Any:
    lower, upper = band_edges(aggregate, options.band)
    mean = positive_only(aggregate.mean, options.log_y)
    keep = downsample(mean, options.max_points)
    data = {"step": compact_steps(aggregate.steps[keep]), "y": mean[keep], "count": aggregate.count[keep],
            "lower": lower[keep], "upper": upper[keep]}
    name = f"{aggregate.group} (mean of {len(aggregate.run_ids)})"
    part = "rawmean" if faint else "mean"
    src = source(f"{part}|{metric}|{aggregate.group}", data, shared=shared, part=part, metric=metric,
                 group=aggregate.group)
    if faint:
        return line(shared, src, "step", color, name, alpha=0.25, width=1)
    return line(shared, src, "step", color, name, width=2.5)


def draw_band(shared: Shared, metric: str, aggregate: Any, options: ChartOptions, color: str) -> Any:
    lower, upper = band_edges(aggregate, options.band)
    lower = positive_only(lower, options.log_y)
    upper = positive_only(upper, options.log_y)
    keep = band_indices(lower, upper, options.max_points)
    data = {"step": compact_steps(aggregate.steps[keep]), "lower": lower[keep], "upper": upper[keep]}
    src = source(f"band|{metric}|{aggregate.group}", data, shared=shared, part="band", metric=metric,
                 group=aggregate.group)
    return shared.renderer(src, VArea(x="step", y1="lower", y2="upper", fill_color=color, fill_alpha=0.2),
                           str(aggregate.group))
