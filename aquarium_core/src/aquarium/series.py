"""Numpy helpers every store and visualizer shares (vectorized, no per-point Python)."""

from __future__ import annotations

import numpy as np

from .model import MetricSeries


def minmax_indices(values: np.ndarray, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` points that keep each bucket's minimum and maximum.

    The series is cut into ``max_points // 2`` equal buckets along its order; from each the
    smallest and the largest value survive (NaN only where a bucket holds nothing else), so
    a spike anywhere in a long series stays visible. Indices come back sorted.
    """
    if isinstance(max_points, bool) or not isinstance(max_points, (int, np.integer)) or max_points < 2:
        raise ValueError(f"max_points {max_points!r} must be an int >= 2")
    n = len(values)
    if n <= max_points:
        return np.arange(n)
    buckets = int(max_points) // 2
    size = -(-n // buckets)
    padded = np.full(buckets * size, np.nan)
    padded[:n] = values
    grid = padded.reshape(buckets, size)
    nan = np.isnan(grid)
    lo = np.where(nan, np.inf, grid).argmin(axis=1)
    hi = np.where(nan, -np.inf, grid).argmax(axis=1)
    base = np.arange(buckets) * size
    keep = np.unique(np.concatenate([base + lo, base + hi]))
    return keep[keep < n]


def downsample(series: MetricSeries, max_points: int) -> MetricSeries:
    """``series`` reduced by :func:`minmax_indices`."""
    keep = minmax_indices(series.values, max_points)
    if len(keep) == len(series):
        return series
    return MetricSeries(series.key, series.steps[keep], series.values[keep], series.timestamps[keep])


def step_range(series: MetricSeries, start_step: int | None, end_step: int | None) -> MetricSeries:
    """The points of ``series`` with ``start_step <= step <= end_step`` (either bound optional)."""
    if start_step is None and end_step is None:
        return series
    mask = np.ones(len(series), dtype=bool)
    if start_step is not None:
        mask &= series.steps >= start_step
    if end_step is not None:
        mask &= series.steps <= end_step
    return MetricSeries(series.key, series.steps[mask], series.values[mask], series.timestamps[mask])
