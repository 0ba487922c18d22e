"""The data model: plain attrs classes that every store, exporter and view shares."""

from __future__ import annotations

import math
import os
import time
from typing import Any, Literal

import attrs
import numpy as np

Status = Literal["running", "completed", "failed", "killed", "crashed"]
STATUSES: tuple[str, ...] = ("running", "completed", "failed", "killed", "crashed")
FINAL_STATUSES: tuple[str, ...] = ("completed", "failed", "killed")

#: A ``running`` run whose heartbeat is older than this many seconds reads as ``crashed``
#: (unless the environment variable ``AQUARIUM_HEARTBEAT_TIMEOUT`` says otherwise).
STALE_AFTER = 60.0


def heartbeat_timeout() -> float:
    """Seconds without a heartbeat after which a running run reads as crashed:
    ``AQUARIUM_HEARTBEAT_TIMEOUT`` (read at call time), else :data:`STALE_AFTER`."""
    return float(os.environ.get("AQUARIUM_HEARTBEAT_TIMEOUT", STALE_AFTER))


@attrs.define
class SourceInfo:
    """Where a run came from: code version, machine and environment."""

    git_commit: str | None = None
    git_dirty: bool | None = None
    git_diff_sha256: str | None = None
    host: str | None = None
    user: str | None = None
    python: str | None = None
    command: list[str] = attrs.field(factory=list)
    packages: dict[str, str] = attrs.field(factory=dict)


def _same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN (stored data compares equal to what was logged)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


@attrs.define(eq=False)
class MetricSummary:
    """What is known about one metric of one run without reading its points.

    ``min``/``max`` ignore NaN; their steps are ``None`` when every value is NaN.
    "Last" means last in logging order.
    """

    count: int
    first: float
    first_step: int
    first_time: float
    last: float
    last_step: int
    last_time: float
    min: float
    min_step: int | None
    min_time: float | None
    max: float
    max_step: int | None
    max_time: float | None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetricSummary):
            return NotImplemented
        return all(_same(getattr(self, f.name), getattr(other, f.name)) for f in attrs.fields(MetricSummary))

    @classmethod
    def of(cls, series: MetricSeries) -> MetricSummary:
        """Summarize a non-empty series."""
        return summarize(series.steps, series.values, series.timestamps)

    def merge(self, later: MetricSummary) -> MetricSummary:
        """Combine with the summary of points logged after these."""
        lo = _pick(self.min, self.min_step, self.min_time, later.min, later.min_step, later.min_time, min)
        hi = _pick(self.max, self.max_step, self.max_time, later.max, later.max_step, later.max_time, max)
        return MetricSummary(
            self.count + later.count,
            self.first, self.first_step, self.first_time,
            later.last, later.last_step, later.last_time,
            *lo, *hi,
        )


def _pick(a, a_step, a_time, b, b_step, b_time, choose) -> tuple:
    """The extreme of two (value, step, time) triples; NaN loses, the earlier wins ties."""
    if a_step is None:
        return b, b_step, b_time
    if b_step is None:
        return a, a_step, a_time
    return (b, b_step, b_time) if choose(a, b) != a else (a, a_step, a_time)


def summarize(steps: np.ndarray, values: np.ndarray, timestamps: np.ndarray) -> MetricSummary:
    """Summarize columns in logging order (vectorized; at least one point)."""
    finite = ~np.isnan(values)
    if finite.any():
        masked = np.where(finite, values, np.inf)
        i_min = int(np.argmin(masked))
        masked = np.where(finite, values, -np.inf)
        i_max = int(np.argmax(masked))
        lo = (float(values[i_min]), int(steps[i_min]), float(timestamps[i_min]))
        hi = (float(values[i_max]), int(steps[i_max]), float(timestamps[i_max]))
    else:
        lo = hi = (math.nan, None, None)
    return MetricSummary(
        len(values),
        float(values[0]), int(steps[0]), float(timestamps[0]),
        float(values[-1]), int(steps[-1]), float(timestamps[-1]),
        *lo, *hi,
    )


def _array(dtype):
    return lambda value: np.ascontiguousarray(value, dtype=dtype)


def _arrays_equal(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.array_equal(a, b, equal_nan=a.dtype.kind == "f"))


@attrs.define(eq=False)
class MetricSeries:
    """One metric's history as columns, in logging order."""

    key: str
    steps: np.ndarray = attrs.field(converter=_array(np.int64), factory=lambda: np.empty(0, np.int64))
    values: np.ndarray = attrs.field(converter=_array(np.float64), factory=lambda: np.empty(0))
    timestamps: np.ndarray = attrs.field(converter=_array(np.float64), factory=lambda: np.empty(0))

    def __attrs_post_init__(self) -> None:
        if not len(self.steps) == len(self.values) == len(self.timestamps):
            raise ValueError(f"metric {self.key!r}: steps, values and timestamps differ in length")

    def __len__(self) -> int:
        return len(self.steps)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetricSeries):
            return NotImplemented
        return (
            self.key == other.key
            and _arrays_equal(self.steps, other.steps)
            and _arrays_equal(self.values, other.values)
            and _arrays_equal(self.timestamps, other.timestamps)
        )


@attrs.define
class Artifact:
    """A file stored with a run; ``kind`` is ``"file"`` or ``"model"``."""

    name: str
    size: int
    sha256: str
    kind: str = "file"
    metadata: dict[str, Any] = attrs.field(factory=dict)
    created: float = attrs.field(factory=time.time)
    uri: str | None = None


@attrs.define
class RunRecord:
    """A run as stored. ``Run`` (in :mod:`aquarium.tracking`) is the live handle that writes one.

    ``status`` is the stored status; :attr:`effective_status` is what readers report, with a
    ``running`` run whose heartbeat went stale shown as ``crashed``. ``heartbeat`` is ``None``
    for runs driven from the shell, which never go stale.
    """

    id: str
    name: str
    experiment: str = "default"
    group: str | None = None
    status: str = "running"
    created: float = attrs.field(factory=time.time)
    started: float | None = None
    ended: float | None = None
    heartbeat: float | None = None
    parent: str | None = None
    params: dict[str, Any] = attrs.field(factory=dict)
    tags: dict[str, str] = attrs.field(factory=dict)
    notes: str = ""
    error: str | None = None
    directions: dict[str, str] = attrs.field(factory=dict)
    source: SourceInfo | None = None
    summaries: dict[str, MetricSummary] = attrs.field(factory=dict)
    artifacts: list[Artifact] = attrs.field(factory=list)

    def effective_status(self, now: float | None = None, stale_after: float | None = None) -> str:
        """The status readers see: a running run with a stale heartbeat is ``crashed``.

        ``stale_after`` defaults to :func:`heartbeat_timeout` (``AQUARIUM_HEARTBEAT_TIMEOUT`` or 60 s).
        """
        if self.status != "running" or self.heartbeat is None:
            return self.status
        limit = heartbeat_timeout() if stale_after is None else stale_after
        return "crashed" if (time.time() if now is None else now) - self.heartbeat > limit else "running"
