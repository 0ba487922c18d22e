"""``parallel_coordinates`` (params to a metric, a line per run) and ``scatter`` (a param
against a metric's best value, a point per run)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from aquarium.charts import ChartOptions, entity_colors, n_runs

from ._common import (
    axis,
    esc,
    figure,
    first_metric,
    keep,
    meta,
    numeric,
    template_text,
    text,
    theme_layout,
)


def _metric(comparison: Any, options: ChartOptions, chart: str) -> str:
    metric = first_metric(comparison, options)
    if metric is None:
        raise ValueError(f"{chart} needs a metric, and the compared runs have none")
    return metric


def _numeric_dimension(label: str, values: np.ndarray) -> tuple[dict[str, Any], float | None]:
    """A numeric axis. Plotly drops a whole line that has NaN on any axis, so a run lacking the
    value is drawn at a ``—`` tick just below the axis' range instead (returned as the sentinel)."""
    missing = ~np.isfinite(values)
    if not missing.any():
        return {"label": label, "values": values}, None
    present = values[~missing]
    low, high = (float(present.min()), float(present.max())) if len(present) else (0.0, 1.0)
    sentinel = low - ((high - low) * 0.15 or 1.0)
    shown = np.unique(present)
    ticks = shown if len(shown) <= 8 else np.linspace(low, high, 5)
    return {"label": label, "values": np.where(missing, sentinel, values), "range": [sentinel, high],
            "tickvals": [sentinel, *ticks.tolist()], "ticktext": ["—", *(f"{t:.4g}" for t in ticks)]}, sentinel


def render_parallel(comparison: Any, options: ChartOptions) -> Any:
    metric = _metric(comparison, options, "parallel_coordinates")
    runs = [r for r in comparison.runs if metric in r.summaries]
    dimensions, missing = [], {}
    for key in comparison.params.differing:
        values = [comparison.params[key].get(r.id) for r in runs]
        label = esc(f"params.{key}")  # axis labels are plotly pseudo-HTML; tick texts are plain text
        if numeric([v for v in values if v is not None]):
            dim, sentinel = _numeric_dimension(label, np.array([np.nan if v is None else v for v in values],
                                                               dtype=np.float64))
        else:
            texts = [text(v) for v in values]
            categories = sorted(set(texts))
            code = {c: i for i, c in enumerate(categories)}
            dim, sentinel = {"label": label, "values": [code[t] for t in texts],
                             "tickvals": list(range(len(categories))), "ticktext": categories}, None
            if len(categories) == 1:
                dim["range"] = [-0.5, 0.5]
        if sentinel is not None:
            missing[str(len(dimensions))] = sentinel
        dimensions.append(dim)
    best = np.array([comparison.summary[r.id][metric].best for r in runs], dtype=np.float64)
    dim, sentinel = _numeric_dimension(esc(f"metrics.{metric}.best"), best)
    if sentinel is not None:
        missing[str(len(dimensions))] = sentinel
    dimensions.append(dim)
    finite = best[np.isfinite(best)]
    colours = options.colors
    layout = theme_layout(options, title=f"Params of {n_runs(len(runs))} against the best {esc(metric)}",
                          height=480)
    layout["margin"] = {"l": 80, "r": 80, "t": 110, "b": 40}
    trace = {
        "type": "parcoords", "dimensions": dimensions,
        "line": {"color": dim["values"], "colorscale": "Viridis", "showscale": True,
                 **({"cmin": float(finite.min()), "cmax": float(finite.max())} if len(finite) else {}),
                 "reversescale": comparison.direction_of(metric) == "min" if _agreed(comparison, metric) else False,
                 "colorbar": {"title": {"text": esc(f"{metric} best")}}},
        "labelfont": {"color": colours["text"]}, "tickfont": {"color": colours["text"]},
        "rangefont": {"color": colours["text"]},
        "meta": meta("parallel_coordinates", metric=metric, run_ids=[r.id for r in runs], missing=missing),
    }
    return figure([trace], layout, "parallel_coordinates", options)


def _agreed(comparison: Any, metric: str) -> bool:
    try:
        comparison.direction_of(metric)
    except Exception:  # the runs disagree on the direction: colour without preference
        return False
    return True


def default_param(comparison: Any) -> str | None:
    """The first numeric param that differs, else the first that differs, else the first."""
    params = comparison.params
    for key in params.differing:
        if numeric(list(params[key].values())):
            return key
    if params.differing:
        return params.differing[0]
    return params.keys[0] if params.keys else None


def render_scatter(comparison: Any, options: ChartOptions) -> Any:
    metric = _metric(comparison, options, "scatter")
    param = options.param if options.param is not None else default_param(comparison)
    if param is None:
        raise ValueError("scatter needs a param, and the compared runs have none")
    if param not in comparison.params:
        raise ValueError(f"param {param!r} is not a param of the compared runs; they have: "
                         f"{', '.join(comparison.params.keys) or 'none'}")
    values = comparison.params[param]
    as_numbers = numeric(list(values.values()))
    colours = entity_colors(comparison, options)
    groups: dict[str, list[tuple[Any, Any, Any]]] = {}
    for run in comparison.runs:
        if run.id not in values or metric not in run.summaries:
            continue
        stats = comparison.summary[run.id][metric]
        if not math.isfinite(stats.best):
            continue
        key = f"group:{run.group}" if run.group is not None else ""
        groups.setdefault(key, []).append((run, values[run.id], stats))
    data = []
    palette = options.colors["palette"]
    for index, (key, points) in enumerate(groups.items()):
        y = np.array([s.best for _, _, s in points], dtype=np.float64)
        idx = keep(y, options.max_points)
        x = [points[i][1] if as_numbers else esc(text(points[i][1])) for i in idx]
        name = esc(key[len("group:"):]) if key else "runs"
        colour = colours.get(key) or (palette[index % len(palette)] if key else options.colors["info"])
        data.append({
            "type": "scatter", "mode": "markers", "name": name,
            "x": np.array(x, dtype=np.float64) if as_numbers else x, "y": y[idx],
            "text": [esc(points[i][0].name) for i in idx],
            "customdata": np.array([points[i][2].best_step if points[i][2].best_step is not None else -1
                                    for i in idx], dtype=np.int64),
            "hovertemplate": (f"<b>%{{text}}</b><br>params.{template_text(param)} %{{x}}<br>"
                              f"metrics.{template_text(metric)}.best %{{y:.6g}} at step %{{customdata}}"
                              "<extra></extra>"),
            "marker": {"size": 10, "color": colour, "line": {"width": 1, "color": options.colors["paper"]}},
            "meta": meta("points", metric=metric, param=param, group=key[len("group:"):] if key else None),
        })
    layout = theme_layout(options, title=f"{esc(param)} against the best {esc(metric)}", height=460)
    layout["xaxis"] = axis(options, esc(f"params.{param}"), **({} if as_numbers else {"type": "category"}))
    layout["yaxis"] = axis(options, esc(f"metrics.{metric}.best"), type="log" if options.log_y else "linear")
    layout["hovermode"] = "closest"
    return figure(data, layout, "scatter", options)
