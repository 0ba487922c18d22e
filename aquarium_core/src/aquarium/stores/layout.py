"""The chunked storage layout that SQL stores share (DESIGN.md, "Storage layout").

Points of one (run, key) are stored as chunks holding packed little-endian columns; a
per-(run, key) summary row is updated on each write, so tables, filters and sorting never
touch the points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import attrs
import numpy as np

from ..model import MetricSeries, MetricSummary
from ..series import downsample, step_range

#: Points per stored chunk at most; a larger batch is split.
CHUNK_POINTS = 65_536

SUMMARY_COLUMNS = (
    "count", "first", "first_step", "first_time", "last", "last_step", "last_time",
    "min", "min_step", "min_time", "max", "max_step", "max_time",
)
_FLOAT_COLUMNS = {"first", "last", "min", "max"}


def _nan_to_none(value: Any) -> Any:
    return None if isinstance(value, float) and math.isnan(value) else value


def summary_row(summary: MetricSummary) -> tuple:
    """Column values for :data:`SUMMARY_COLUMNS` (NaN as NULL: SQL has no NaN)."""
    return tuple(_nan_to_none(getattr(summary, c)) for c in SUMMARY_COLUMNS)


_FLOAT_INDEXES = tuple(SUMMARY_COLUMNS.index(c) for c in sorted(_FLOAT_COLUMNS))
_NAN = math.nan
if tuple(f.name for f in attrs.fields(MetricSummary)) != SUMMARY_COLUMNS:  # rows are built positionally
    raise ImportError("SUMMARY_COLUMNS must list MetricSummary's fields in order")


def summary_from_row(row: Sequence[Any]) -> MetricSummary:
    """Inverse of :func:`summary_row` (hot: search builds one per run and key)."""
    if None in row:
        row = list(row)
        for index in _FLOAT_INDEXES:
            if row[index] is None:
                row[index] = _NAN
    return MetricSummary(*row)


def pack(series: MetricSeries) -> Iterator[tuple[int, int, int, bytes, bytes, bytes]]:
    """Chunks of a series as (n, min_step, max_step, steps, values, timestamps) blobs."""
    for start in range(0, len(series), CHUNK_POINTS):
        steps = series.steps[start:start + CHUNK_POINTS]
        yield (
            len(steps),
            int(steps.min()),
            int(steps.max()),
            steps.astype("<i8").tobytes(),
            series.values[start:start + CHUNK_POINTS].astype("<f8").tobytes(),
            series.timestamps[start:start + CHUNK_POINTS].astype("<f8").tobytes(),
        )


def unpack(
    rows: Iterable[tuple[str, bytes, bytes, bytes]],
    *,
    start_step: int | None = None,
    end_step: int | None = None,
    max_points: int | None = None,
) -> dict[str, MetricSeries]:
    """Series from (key, steps, values, timestamps) rows ordered by key, then chunk."""
    parts: dict[str, list[tuple[bytes, bytes, bytes]]] = {}
    for key, steps, values, times in rows:
        parts.setdefault(key, []).append((steps, values, times))
    out = {}
    for key, chunks in parts.items():
        series = MetricSeries(key, _column([c[0] for c in chunks], "<i8", np.int64),
                              _column([c[1] for c in chunks], "<f8", np.float64),
                              _column([c[2] for c in chunks], "<f8", np.float64))
        series = step_range(series, start_step, end_step)
        if max_points is not None:
            series = downsample(series, max_points)
        out[key] = series
    return out


def _column(blobs: list[bytes], stored: str, native: type) -> np.ndarray:
    """One writable array from a column's chunk blobs: a single copy (no joined bytes in between)."""
    if not blobs:
        return np.empty(0, dtype=native)
    return np.concatenate([np.frombuffer(blob, dtype=stored) for blob in blobs]).astype(native, copy=False)
