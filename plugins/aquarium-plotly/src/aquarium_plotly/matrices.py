"""``correlation`` (Pearson and Spearman) and ``heatmap`` (runs × steps, each metric normalized)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from aquarium import series
from aquarium.charts import ChartOptions, n_runs

from ._common import axis, esc, figure, grid, meta, metrics_of, numeric, subplot_title, theme_layout

METHODS = ("pearson", "spearman")
ROW_HEIGHT = 360
#: Above this many rows, a heatmap names its runs on hover only.
TICKS_UP_TO = 60


# -- correlation ------------------------------------------------------------------------------


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, tied values sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    out = np.empty(len(values))
    out[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return out


def correlation(columns: Sequence[np.ndarray], method: str) -> np.ndarray:
    """Pairwise-complete correlations: per pair, over the observations where both are finite;
    NaN when fewer than two remain or one side is constant there. Spearman's is Pearson's on
    the ranks (ties averaged) of those observations."""
    k = len(columns)
    out = np.full((k, k), np.nan)
    arrays = [np.asarray(c, dtype=np.float64) for c in columns]
    finite = [np.isfinite(a) for a in arrays]
    for a in range(k):
        for b in range(a, k):
            both = finite[a] & finite[b]
            x, y = arrays[a][both], arrays[b][both]
            if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
                continue
            if method == "spearman":
                x, y = ranks(x), ranks(y)
            out[a, b] = out[b, a] = float(np.corrcoef(x, y)[0, 1])
    return out


def _across_runs(comparison: Any, options: ChartOptions) -> tuple[list[str], list[np.ndarray], str]:
    runs = comparison.runs
    labels, columns = [], []
    for key in comparison.params.differing:
        values = comparison.params[key]
        if numeric(list(values.values())):
            labels.append(f"params.{key}")
            columns.append(np.array([values.get(r.id, np.nan) for r in runs], dtype=np.float64))
    for metric in metrics_of(comparison, options):
        labels.append(f"metrics.{metric}.last")
        columns.append(np.array([r.summaries[metric].last if metric in r.summaries else np.nan for r in runs]))
    return labels, columns, f"Correlation of numeric params and final metrics across {n_runs(len(runs))}"


def _within_run(comparison: Any, options: ChartOptions) -> tuple[list[str], list[np.ndarray], str]:
    run = next((r for r in comparison.runs if r.id == options.run), None)
    if run is None:
        raise ValueError(f"run {options.run!r} is not in this comparison (chart option run= takes a compared run's id)")
    keys = [m for m in metrics_of(comparison, options) if m in run.summaries]
    history = comparison.store.history(run.id, keys) if keys else {}
    reduced = [series.last_per_step(history[k].steps, history[k].values) for k in keys]
    common = reduced[0][0] if reduced else np.empty(0, np.int64)
    for steps, _ in reduced[1:]:
        common = np.intersect1d(common, steps, assume_unique=True)
    columns = [values[np.searchsorted(steps, common)] for steps, values in reduced]
    title = f"Correlation of metrics within run {esc(run.name)} ({len(common)} steps paired)"
    return [f"metrics.{k}" for k in keys], columns, title


def render_correlation(comparison: Any, options: ChartOptions) -> Any:
    labels, columns, title = (_within_run if options.run is not None else _across_runs)(comparison, options)
    shown = [esc(label) for label in labels]
    cells = grid(2, gap_x=0.16)
    size = max(420, min(900, 110 + 28 * len(labels)))
    layout = theme_layout(options, title=title, height=size)
    data, annotations = [], []
    for method, cell in zip(METHODS, cells):
        z = correlation(columns, method)
        data.append({
            "type": "heatmap", "name": method, "x": shown, "y": shown, "z": z, "zmin": -1.0, "zmax": 1.0,
            "zmid": 0.0, "colorscale": "RdBu", "reversescale": True, "showscale": method == "spearman",
            "colorbar": {"title": {"text": "r"}, "len": 0.9},
            **({"texttemplate": "%{z:.2f}"} if len(labels) <= 20 else {}), "xgap": 1, "ygap": 1,
            "hovertemplate": f"{method}<br>%{{y}}<br>%{{x}}<br>r = %{{z:.4f}}<extra></extra>",
            "xaxis": cell["x"], "yaxis": cell["y"], "meta": meta(method, labels=len(labels)),
        })
        layout[cell["xaxis"]] = axis(options, "", domain=cell["xdomain"], anchor=cell["y"], type="category",
                                     tickangle=-40, showgrid=False)
        layout[cell["yaxis"]] = axis(options, "", domain=cell["ydomain"], anchor=cell["x"], type="category",
                                     autorange="reversed", showgrid=False)
        annotations.append(subplot_title(cell, f"{method.capitalize()} correlation"))
    if not labels:
        annotations.append({"text": "nothing numeric to correlate", "showarrow": False, "xref": "paper",
                            "yref": "paper", "x": 0.5, "y": 0.5})
    layout["annotations"] = annotations
    return figure(data, layout, "correlation", options)


# -- heatmap ----------------------------------------------------------------------------------


def _unique_labels(comparison: Any, run_ids: list[str]) -> list[str]:
    names = {r.id: r.name for r in comparison.runs}
    counts: dict[str, int] = {}
    for run_id in run_ids:
        counts[names[run_id]] = counts.get(names[run_id], 0) + 1
    return [esc(names[i]) if counts[names[i]] == 1 else f"{esc(names[i])} · {i[:8]}" for i in run_ids]


def heatmap_grid(parts: list[tuple[np.ndarray, np.ndarray]], max_points: int) -> tuple[np.ndarray, np.ndarray, bool]:
    """Runs × columns of values. With at most ``max_points`` distinct steps, a column per step
    holding each run's (last) value there; beyond, ``max_points`` equal step ranges, each cell
    holding the run's value in that range farthest from the metric's mean, so spikes and dips
    (divergence) stay visible. Returns the columns' first steps, the grid and whether bucketed."""
    reduced = [series.last_per_step(steps, values) for steps, values in parts]
    union = np.unique(np.concatenate([s for s, _ in reduced])) if reduced else np.empty(0, np.int64)
    grid_ = np.full((len(reduced), 0), np.nan)
    if len(union) <= max_points:
        grid_ = np.full((len(reduced), len(union)), np.nan)
        for row, (steps, values) in enumerate(reduced):
            grid_[row, np.searchsorted(union, steps)] = values
        return union, grid_, False
    everything = np.concatenate([v for _, v in reduced])
    finite = everything[np.isfinite(everything)]
    centre = float(finite.mean()) if len(finite) else 0.0
    first, last = int(union[0]), int(union[-1])
    width = (last - first + 1) / max_points
    grid_ = np.full((len(reduced), max_points), np.nan)
    for row, (steps, values) in enumerate(reduced):
        if not len(steps):
            continue
        bins = np.minimum(((steps - first) / width).astype(np.int64), max_points - 1)
        with np.errstate(invalid="ignore"):
            deviation = np.where(np.isnan(values), -1.0, np.abs(values - centre))
        order = np.lexsort((-deviation, bins))
        taken, at = np.unique(bins[order], return_index=True)
        grid_[row, taken] = values[order[at]]
    columns = np.floor(first + np.arange(max_points) * width).astype(np.int64)
    return columns, grid_, True


def normalize(grid_: np.ndarray) -> np.ndarray:
    """``(v - min) / (max - min)`` over the finite cells (0.5 when they are all equal); +inf
    becomes 1, -inf 0, NaN stays empty."""
    finite = grid_[np.isfinite(grid_)]
    if not len(finite):
        return np.full(grid_.shape, np.nan)
    low, high = float(finite.min()), float(finite.max())
    with np.errstate(invalid="ignore"):
        if high == low:
            out = np.where(np.isnan(grid_), np.nan, 0.5)
            out[grid_ == np.inf] = 1.0
            out[grid_ == -np.inf] = 0.0
            return out
        return np.clip((grid_ - low) / (high - low), 0.0, 1.0)


def render_heatmap(comparison: Any, options: ChartOptions) -> Any:
    metrics = metrics_of(comparison, options)
    cells = grid(len(metrics), columns=1, gap_y=0.16 / max(1, len(metrics) - 1) if len(metrics) > 1 else 0.0)
    rows_total = sum(sum(1 for r in comparison.runs if m in r.summaries) for m in metrics)
    height = 120 + sum(max(220, min(700, 18 * sum(1 for r in comparison.runs if m in r.summaries) + 90))
                       for m in metrics)
    layout = theme_layout(options, title=f"Heatmap of {n_runs(len(comparison.runs))} × steps (each metric normalized "
                                         "to 0–1)", height=height)
    data, annotations = [], []
    for index, (metric, cell) in enumerate(zip(metrics, cells)):
        curves = comparison.curves(metric)
        run_ids = list(curves)
        columns, values, bucketed = heatmap_grid([(c.steps, c.raw) for c in curves.values()], options.max_points)
        labels = _unique_labels(comparison, run_ids)
        data.append({
            "type": "heatmap", "name": esc(metric), "x": columns, "y": labels, "z": normalize(values),
            "customdata": values, "zmin": 0.0, "zmax": 1.0, "colorscale": "Viridis", "showscale": index == 0,
            "colorbar": {"title": {"text": "normalized"}, "len": 0.5, "y": 1.0, "yanchor": "top"},
            "hovertemplate": (f"%{{y}}<br>step {'≥ ' if bucketed else ''}%{{x}}<br>"
                              f"{esc(metric).replace('%', '&#37;')} %{{customdata:.6g}}<br>normalized %{{z:.3f}}"
                              "<extra></extra>"),
            "hoverongaps": False, "xaxis": cell["x"], "yaxis": cell["y"],
            "meta": meta("heatmap", metric=metric, bucketed=bucketed, rows=len(labels)),
        })
        label = "step (farthest-from-mean value per step range)" if bucketed else "step"
        last = index == len(metrics) - 1  # one x title, under the last heatmap
        layout[cell["xaxis"]] = axis(options, label if last else "", domain=cell["xdomain"], anchor=cell["y"],
                                     showgrid=False)
        layout[cell["yaxis"]] = axis(options, "", domain=cell["ydomain"], anchor=cell["x"], type="category",
                                     autorange="reversed", showgrid=False,
                                     showticklabels=len(labels) <= TICKS_UP_TO)
        annotations.append(subplot_title(cell, esc(metric)))
    if not rows_total:
        annotations.append({"text": "no metrics to draw", "showarrow": False, "xref": "paper", "yref": "paper",
                            "x": 0.5, "y": 0.5})
    layout["annotations"] = annotations
    return figure(data, layout, "heatmap", options)
