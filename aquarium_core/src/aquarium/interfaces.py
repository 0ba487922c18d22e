"""The contracts behind the hooks. ``aquarium.testing.StoreSuite`` checks a ``Store``."""

from __future__ import annotations

import abc
import os
from collections.abc import Mapping, Sequence
from typing import Any

from .model import Artifact, MetricSeries, MetricSummary, RunRecord


class Store(abc.ABC):
    """Where runs live. Every method is safe to call from several threads.

    Reads report :meth:`RunRecord.effective_status` as the status (a stale ``running`` run
    is ``crashed``). Unknown run ids raise :class:`aquarium.errors.RunNotFoundError`.
    """

    #: Short name of the store kind, e.g. ``"sqlite"``.
    name: str = ""
    #: The store's URI with any password redacted: safe to print.
    uri: str = ""
    #: A read-only store refuses writes (dashboards turn editing off).
    read_only: bool = False

    # -- writes ---------------------------------------------------------------------------
    @abc.abstractmethod
    def create_run(self, record: RunRecord) -> None:
        """Store a new run (its params, tags and fields); an existing id raises ``ValueError``."""

    @abc.abstractmethod
    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        started: float | None = None,
        ended: float | None = None,
        heartbeat: float | None = None,
        error: str | None = None,
        notes: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        directions: Mapping[str, str] | None = None,
    ) -> None:
        """Change the given fields. ``tags`` and ``directions`` merge into the existing ones;
        ``params`` replaces the nested params (the caller has merged and checked them)."""

    @abc.abstractmethod
    def write_batch(
        self,
        run_id: str,
        writer_id: str,
        seq: int,
        columns: Mapping[str, MetricSeries],
        heartbeat: float | None = None,
    ) -> bool:
        """Append points, update summaries and the heartbeat in one transaction.

        Idempotent per ``(run_id, writer_id, seq)``: a batch already stored is not stored
        again and the call returns ``False``; otherwise ``True``. Points of one key append
        after every point stored before (logging order).
        """

    @abc.abstractmethod
    def put_artifact(self, run_id: str, artifact: Artifact, path: str | os.PathLike) -> Artifact:
        """Copy the file at ``path`` into the store as ``artifact.name`` (its size and sha256
        are computed here); return the stored artifact. A name stored before is replaced."""

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Remove a run with its points and artifacts."""

    # -- reads ----------------------------------------------------------------------------
    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """One run with params, tags, summaries and artifacts."""

    @abc.abstractmethod
    def list_runs(self, experiment: str | None = None) -> list[RunRecord]:
        """Runs (optionally of one experiment), newest first, with summaries, reading no points."""

    @abc.abstractmethod
    def history(
        self,
        run_id: str,
        keys: Sequence[str] | None = None,
        *,
        start_step: int | None = None,
        end_step: int | None = None,
        max_points: int | None = None,
    ) -> dict[str, MetricSeries]:
        """Metric histories in logging order, optionally limited to steps in
        ``[start_step, end_step]`` and downsampled to at most ``max_points`` per key while
        keeping each bucket's minimum and maximum."""

    @abc.abstractmethod
    def summaries(self, run_id: str) -> dict[str, MetricSummary]:
        """Per-key summaries, maintained at write time."""

    @abc.abstractmethod
    def read_artifact(self, run_id: str, name: str) -> bytes:
        """The bytes of a stored artifact."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""
