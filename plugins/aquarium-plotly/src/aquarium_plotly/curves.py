"""``curves`` and ``smoothed``: one subplot per metric, a line per run, groups as mean and band."""

from __future__ import annotations

from typing import Any

import numpy as np

from aquarium import series
from aquarium.charts import ChartOptions, banded_groups, entity_colors, n_runs

from ._common import (
    axis,
    esc,
    figure,
    grid,
    keep,
    keep_band,
    line_type,
    meta,
    metrics_of,
    rgba,
    subplot_title,
    template_text,
    theme_layout,
    wall_texts,
    x_label,
)

#: What ``smoothed`` uses when no ``smoothing`` is given: TensorBoard's default slider.
DEFAULT_SMOOTHING = "ema:0.6"
RAW_OPACITY = 0.3
BAND_OPACITY = 0.2
ROW_HEIGHT = 330


def _run_template(metric: str, smoothed: bool) -> str:
    if smoothed:  # TensorBoard's tooltip: the smoothed value and the raw one
        return (f"<b>%{{fullData.name}}</b><br>step %{{customdata[0]}}<br>{template_text(metric)} %{{y:.6g}} "
                "(smoothed)<br>raw %{customdata[1]:.6g}<br>%{text} UTC<extra></extra>")
    return (f"<b>%{{fullData.name}}</b><br>step %{{customdata}}<br>{template_text(metric)} %{{y:.6g}}"
            "<br>%{text} UTC<extra></extra>")


def _timestamps(comparison: Any, metric: str, x: str, curves: dict[str, Any]) -> dict[str, np.ndarray]:
    """Each curve's points' wall times (for hover), whatever its x axis."""
    if x == "wall_time":
        return {run_id: curve.x for run_id, curve in curves.items()}
    wall = comparison.curves(metric, x="wall_time")
    if x in ("step", "relative_time"):  # both in logging order, like the wall times
        return {run_id: wall[run_id].x for run_id in curves}
    out = {}
    for run_id, curve in curves.items():  # paired with another metric by step
        steps, times = series.last_per_step(wall[run_id].steps, wall[run_id].x)
        out[run_id] = times[np.searchsorted(steps, curve.steps)]
    return out


def _line(curve: Any, values: np.ndarray, times: np.ndarray, *, kind: str, cell: dict[str, Any], colour: str,
          options: ChartOptions, trace_type: str, showlegend: bool) -> dict[str, Any]:
    """A run's line, at most ``max_points`` of its points (each bucket's min and max of the
    values drawn). The faint raw line of ``smoothed`` has no hover of its own: the smoothed
    line's hover shows both values."""
    idx = keep(values, options.max_points)
    x = curve.x[idx]
    if options.x == "wall_time":
        x = x * 1000.0  # plotly's date axes count milliseconds
    trace = {
        "type": trace_type, "mode": "lines", "name": esc(curve.run_name),
        "x": np.asarray(x), "y": np.asarray(values[idx], dtype=np.float64),
        "line": {"color": colour, "width": 1.6}, "opacity": 1.0,
        "legendgroup": curve.run_id, "showlegend": showlegend,
        "xaxis": cell["x"], "yaxis": cell["y"],
        "meta": meta(kind, metric=curve.metric, run_id=curve.run_id),
    }
    if kind == "raw":
        trace.update(line={"color": colour, "width": 1}, opacity=RAW_OPACITY, showlegend=False, hoverinfo="skip")
        return trace
    steps = np.asarray(curve.steps[idx], dtype=np.int64)
    smoothed = kind == "smoothed"
    trace.update(customdata=np.stack([steps, curve.raw[idx]], axis=1) if smoothed else steps,
                 text=wall_texts(times[idx]), hovertemplate=_run_template(curve.metric, smoothed))
    return trace


def _group(aggregate: Any, raw: Any, *, cell: dict[str, Any], colour: str, options: ChartOptions,
           trace_type: str, showlegend: bool) -> list[dict[str, Any]]:
    """A group's band (two edge traces, the lower one filled up to the upper), its mean line,
    and (``smoothed``) the faint mean of the raw values."""
    common = {"xaxis": cell["x"], "yaxis": cell["y"], "legendgroup": f"group:{aggregate.group}"}
    name = f"{esc(aggregate.group)} (mean of {len(aggregate.run_ids)})"
    steps = aggregate.steps
    traces = []
    if options.band == "minmax":
        low, high = aggregate.min, aggregate.max
    else:
        low, high = aggregate.mean - aggregate.std, aggregate.mean + aggregate.std
    idx = keep_band(low, high, options.max_points)
    label = "min–max" if options.band == "minmax" else "±1 std"
    for edge, values in (("high", high), ("low", low)):
        traces.append({
            "type": trace_type, "mode": "lines", "name": f"{name} {label}", "x": steps[idx], "y": values[idx],
            "line": {"width": 0, "color": colour}, "showlegend": False, "hoverinfo": "skip",
            **({"fill": "tonexty", "fillcolor": rgba(colour, BAND_OPACITY)} if edge == "low" else {}),
            "meta": meta("band", part=edge, band=options.band, metric=aggregate.metric, group=aggregate.group),
            **common,
        })
    if raw is not None:
        ridx = keep(raw.mean, options.max_points)
        traces.append({
            "type": trace_type, "mode": "lines", "name": f"{name} raw", "x": raw.steps[ridx], "y": raw.mean[ridx],
            "line": {"width": 1, "color": colour}, "opacity": RAW_OPACITY, "showlegend": False, "hoverinfo": "skip",
            "meta": meta("raw", metric=aggregate.metric, group=aggregate.group), **common,
        })
    midx = keep(aggregate.mean, options.max_points)
    traces.append({
        "type": trace_type, "mode": "lines", "name": name, "x": steps[midx], "y": aggregate.mean[midx],
        "customdata": aggregate.count[midx], "line": {"width": 2.2, "color": colour}, "showlegend": showlegend,
        "hovertemplate": (f"<b>%{{fullData.name}}</b><br>step %{{x}}<br>mean {template_text(aggregate.metric)} "
                          "%{y:.6g}<br>%{customdata} runs<extra></extra>"),
        "meta": meta("mean", metric=aggregate.metric, group=aggregate.group), **common,
    })
    return traces


def render(comparison: Any, options: ChartOptions, *, smoothed: bool) -> Any:
    metrics = metrics_of(comparison, options)
    spec = options.smoothing or (DEFAULT_SMOOTHING if smoothed else None)
    colours = entity_colors(comparison, options)
    cells = grid(len(metrics))
    total = sum(min(run.summaries[m].count, options.max_points) for m in metrics for run in comparison.runs
                if m in run.summaries) * (2 if smoothed else 1)
    trace_type = line_type(total)
    rows = -(-len(cells) // min(2, len(cells)))
    what = "Smoothed curves" if smoothed else "Curves"
    title = f"{what} of {n_runs(len(comparison.runs))}" + (f" ({esc(spec)})" if spec else "")
    layout = theme_layout(options, title=title, height=ROW_HEIGHT * rows + 110)
    layout["hovermode"] = "closest"
    annotations = []
    data: list[dict[str, Any]] = []
    shown: set[str] = set()
    for metric, cell in zip(metrics, cells):
        curves = comparison.curves(metric, x=options.x, smoothing=spec)
        times = _timestamps(comparison, metric, options.x, curves)
        groups = banded_groups(comparison, metric, options, spec)
        grouped = {run_id for aggregate in groups.values() for run_id in aggregate.run_ids}
        for run_id, curve in curves.items():
            if run_id in grouped:
                continue
            legend = run_id not in shown
            shown.add(run_id)
            common = {"cell": cell, "colour": colours[run_id], "options": options, "trace_type": trace_type}
            if smoothed:
                data.append(_line(curve, curve.raw, times[run_id], kind="raw", showlegend=False, **common))
                data.append(_line(curve, curve.y, times[run_id], kind="smoothed", showlegend=legend, **common))
            else:
                data.append(_line(curve, curve.y, times[run_id], kind="line", showlegend=legend, **common))
        if groups:
            raws = banded_groups(comparison, metric, options) if smoothed else {}
            for name, aggregate in groups.items():
                key = f"group:{name}"
                data += _group(aggregate, raws.get(name), cell=cell, colour=colours[key], options=options,
                               trace_type=trace_type, showlegend=key not in shown)
                shown.add(key)
        layout[cell["xaxis"]] = axis(options, esc(x_label(options.x)), domain=cell["xdomain"], anchor=cell["y"],
                                     **({"type": "date"} if options.x == "wall_time" else {}))
        layout[cell["yaxis"]] = axis(options, esc(metric), domain=cell["ydomain"], anchor=cell["x"],
                                     type="log" if options.log_y else "linear")
        annotations.append(subplot_title(cell, esc(metric)))
    if not metrics:
        annotations.append({"text": "no metrics to draw", "showarrow": False, "xref": "paper", "yref": "paper",
                            "x": 0.5, "y": 0.5})
    layout["annotations"] = annotations
    return figure(data, layout, "smoothed" if smoothed else "curves", options)
