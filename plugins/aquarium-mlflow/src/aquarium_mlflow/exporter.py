"""``aquarium export mlflow``: Aquarium runs into any MLflow tracking URI.

One Aquarium run becomes one MLflow run carrying the tag ``aquarium.run_id``. Exporting
again finds that run and brings it up to date in place: only metric points MLflow does not
hold yet are sent (MLflow appends metrics, so re-sending would duplicate them), params and
tags are set, artifacts and ``aquarium/run.json`` are uploaded again, status and end time
updated. The tag ``aquarium.export`` is ``partial`` while this happens and ``complete`` at
the end, so an export that died halfway is completed by running it again. Where MLflow
cannot update in place (the run moved to another experiment, its start time or a param
value changed) the old MLflow run is deleted and a new one written.

Metric points go to HTTP servers with ``log_batch`` in chunks of MLflow's limit; into a
database or ``file:`` store that MLflow's client opens locally they are written in bulk
through that store object, with MLflow's own checks and bookkeeping (:mod:`._bulk`).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from aquarium import interop
from aquarium.interfaces import Exporter
from aquarium.interop import RunBundle, TransferResult
from aquarium.model import MetricSeries, RunRecord

from . import _bulk
from . import _common as c


class MlflowExporter(Exporter):
    name = "mlflow"
    description = ("Export runs to MLflow: any tracking URI (http(s)://server, sqlite:///file.db, "
                   "file:///folder). Idempotent: exporting again updates the same MLflow run.")
    target_help = "MLflow tracking URI, e.g. http://127.0.0.1:5000, sqlite:///mlflow.db or file:///path/mlruns"

    def cli_options(self) -> list[Any]:
        import click

        return [
            click.Option(["--experiment"], default=None,
                         help="MLflow experiment to export into (default: each run's own experiment)."),
            click.Option(["--artifact-location"], default=None,
                         help="Artifact location of experiments this export creates (default: MLflow's; "
                              "beside the database file for sqlite:/// URIs)."),
            click.Option(["--check-timeout"], type=float, default=c.DEFAULT_CHECK_TIMEOUT, show_default=True,
                         help="Seconds to wait for a tracking server while checking it before the export."),
            click.Option(["--log-batch-only"], is_flag=True, default=False,
                         help="Send metric points through MlflowClient.log_batch even to a database or "
                              "file: store (the same data, written many times slower)."),
        ]

    def check(self, to: str, *, check_timeout: float | None = None, **options: Any) -> None:
        """Fail fast: mlflow missing (naming the package), or ``to`` not answering within
        ``check_timeout`` seconds (one try, no retries; the message names the URI)."""
        experiment = options.get("experiment")
        if experiment is not None:
            _check_experiment_name(experiment)
        c.probe(to, check_timeout)

    def export_run(self, bundle: RunBundle, to: str, *, experiment: str | None = None,
                   artifact_location: str | None = None, check_timeout: float | None = None,
                   log_batch_only: bool = False, **options: Any) -> TransferResult:
        c.require_mlflow(to)
        with c.mlflow_env(to):
            target_id = _Export(c.client_for(to), bundle, to, experiment or bundle.record.experiment,
                                artifact_location, log_batch_only).run()
        record = bundle.record
        return TransferResult(record.id, record.name, self.name, target_id, bundle.points,
                              len(bundle.artifact_files))


def _check_experiment_name(name: str) -> None:
    if not name or len(name) > c.MAX_EXPERIMENT_NAME:
        raise ValueError(f"MLflow experiment name {name[:80]!r} must be 1 to {c.MAX_EXPERIMENT_NAME} characters "
                         f"long (it has {len(name)}); pick another with --experiment")


def ms(timestamps: np.ndarray) -> np.ndarray:
    """Float seconds → MLflow's integer milliseconds (nearest; MLflow refuses negatives)."""
    out = np.rint(np.nan_to_num(np.asarray(timestamps, np.float64) * 1000.0, nan=0.0, posinf=0.0, neginf=0.0))
    return np.clip(out, 0, 2**62).astype(np.int64)


_MAX = 1.7976931348623157e308


def point_key(step: int, timestamp: int, value: float) -> tuple[int, int, Any]:
    """A point as MLflow's stores tell points apart: ±inf and ±float64 max are one value (the
    sqlite and server stores hold inf as the max), -0.0 is 0.0, every NaN is one."""
    if value != value:
        return step, timestamp, "nan"
    if value == 0:
        return step, timestamp, 0.0
    return step, timestamp, max(-_MAX, min(_MAX, value))


def history_digest(history: dict[str, MetricSeries], keys: dict[str, str]) -> str:
    h = hashlib.sha256(c.EXPORT_FORMAT.encode())
    for key in sorted(history):
        series = history[key]
        h.update(keys[key].encode("utf-8", "surrogatepass") + b"\0")
        h.update(len(series).to_bytes(8, "little"))
        h.update(series.steps.tobytes())
        h.update(ms(series.timestamps).tobytes())
        h.update(series.values.tobytes())
    return h.hexdigest()


#: Tags an export sets from the record's fields: removed again when the field is emptied.
_CLEARABLE = (c.NOTE_TAG, c.TAG_GROUP, c.TAG_ERROR, c.TAG_PARENT, c.PARENT_TAG, c.TAG_MODELS, c.TAG_ADJUSTED)


def metric_batches(points: Sequence[_bulk.Points]) -> Iterator[list[Any]]:
    """``log_batch``-sized lists of ``Metric``, key by key in logging order."""
    from mlflow.entities import Metric

    size = c.MAX_METRICS_PER_BATCH
    pending: list[Any] = []
    for key, steps, times, values in points:
        steps_, times_, values_ = steps.tolist(), times.tolist(), values.tolist()
        for start in range(0, len(steps_), size):
            end = start + size
            pending.extend(map(Metric, repeat(key), values_[start:end], times_[start:end], steps_[start:end]))
            while len(pending) >= size:
                yield pending[:size]
                pending = pending[size:]
    if pending:
        yield pending


class _Export:
    """One run into one tracking URI."""

    def __init__(self, client: Any, bundle: RunBundle, uri: str, experiment: str,
                 artifact_location: str | None, log_batch_only: bool = False) -> None:
        self.client, self.bundle, self.uri = client, bundle, uri
        self.log_batch_only = log_batch_only
        self.record: RunRecord = bundle.record
        self.experiment = experiment
        self.artifact_location = artifact_location
        _check_experiment_name(experiment)
        if interop.RUN_JSON in bundle.artifact_files:
            raise ValueError(f"artifact name {interop.RUN_JSON!r} is reserved for Aquarium's typed record in "
                             f"MLflow; rename that artifact")
        self.view = c.render(self.record, bundle.history)
        self.run_json = interop.dump_run_json(bundle)
        self.history_digest = history_digest(bundle.history, self.view.metric_keys)
        content = hashlib.sha256(c.EXPORT_FORMAT.encode())
        for part in (experiment, self.run_json, self.history_digest,
                     *(f"{a.name}\0{a.sha256}" for a in sorted(self.record.artifacts, key=lambda a: a.name))):
            content.update(part.encode("utf-8", "surrogatepass") + b"\0")
        self.digest = content.hexdigest()

    # -- the steps -------------------------------------------------------------------------
    def run(self) -> str:
        from mlflow.entities import Param, RunTag

        experiment_id = self._experiment_id()
        existing = self._existing(experiment_id)
        if existing is not None:
            held = existing.data.tags
            if held.get(c.TAG_STATE) == "complete" and held.get(c.TAG_DIGEST) == self.digest:
                return existing.info.run_id  # unchanged since the last export: nothing to write
            if self._must_recreate(existing, experiment_id):
                self.client.delete_run(existing.info.run_id)
                existing = None
        if existing is None:
            run = self.client.create_run(experiment_id, start_time=self._start_ms(), run_name=self.view.run_name,
                                         tags={c.TAG_RUN_ID: self.record.id, c.TAG_STATE: "partial"})
            run_id, old_params, old_history = run.info.run_id, {}, None
        else:
            run_id, old_params = existing.info.run_id, existing.data.params
            self.client.set_tag(run_id, c.TAG_STATE, "partial")
            if existing.info.run_name != self.view.run_name:
                self.client.update_run(run_id, name=self.view.run_name)
            same = existing.data.tags.get(c.TAG_HISTORY) == self.history_digest
            old_history = "same" if same else "read"

        tags = dict(self.view.tags)
        parent = self._parent_run_id(experiment_id)
        if parent is not None:
            tags[c.PARENT_TAG] = parent
        if existing is not None:  # what an earlier export set and this one does not (notes cleared...)
            for key in _CLEARABLE:
                if key in existing.data.tags and key not in tags:
                    self.client.delete_tag(run_id, key)
        params = [Param(k, v) for k, v in self.view.params.items() if k not in old_params]
        tag_list = [RunTag(k, v) for k, v in tags.items()]
        for i in range(0, max(len(params), len(tag_list)), c.MAX_PARAMS_TAGS_PER_BATCH):
            self.client.log_batch(run_id, params=params[i:i + c.MAX_PARAMS_TAGS_PER_BATCH],
                                  tags=tag_list[i:i + c.MAX_PARAMS_TAGS_PER_BATCH])

        if old_history != "same":
            self._send_metrics(run_id, self._held_points(run_id) if old_history == "read" else None)
            self.client.set_tag(run_id, c.TAG_HISTORY, self.history_digest)

        self._upload(run_id)

        status = c.STATUS_TO_MLFLOW.get(self.record.status, "FAILED")
        if status == "RUNNING":
            if existing is not None:
                self.client.update_run(run_id, status="RUNNING")
        else:
            # a crashed run has no end: its last sign of life stands in
            end = next((t for t in (self.record.ended, self.record.heartbeat, self.record.started) if t is not None),
                       None)
            self.client.set_terminated(run_id, status, end_time=None if end is None else int(ms([end])[0]))
        self.client.log_batch(run_id, tags=[RunTag(c.TAG_DIGEST, self.digest), RunTag(c.TAG_STATE, "complete")])
        c.report(self.view.adjustments, self.record, self.uri)
        return run_id

    def _start_ms(self) -> int:
        start = self.record.started if self.record.started is not None else self.record.created
        return int(ms([start])[0])

    def _experiment_id(self) -> str:
        from mlflow.exceptions import MlflowException

        found = self.client.get_experiment_by_name(self.experiment)
        if found is None:
            try:
                return self.client.create_experiment(self.experiment, artifact_location=self._artifact_location())
            except MlflowException:  # created meanwhile by another export
                found = self.client.get_experiment_by_name(self.experiment)
                if found is None:
                    raise
        if found.lifecycle_stage != "active":
            raise c.MlflowPluginError(
                f"MLflow experiment {self.experiment!r} at {self.uri} is deleted: restore it "
                f"(`mlflow experiments restore --experiment-id {found.experiment_id}`), remove it for good "
                f"(`mlflow gc`), or export into another one with --experiment")
        return found.experiment_id

    def _artifact_location(self) -> str | None:
        if self.artifact_location is not None:
            return self.artifact_location
        match = re.match(r"^sqlite:///([^?]+)", self.uri)
        if match is None or match.group(1) == ":memory:":
            return None
        folder = os.path.dirname(os.path.abspath(match.group(1)))
        slug = re.sub(r"[^\w.-]+", "_", self.experiment).strip("._")[:80] or "experiment"
        from pathlib import Path

        return Path(folder, "mlartifacts", slug).as_uri()

    def _search(self, experiment_id: str, run_id: str) -> list[Any]:
        """Active MLflow runs of the experiment tagged with this Aquarium run id."""
        safe = re.match(r"[\w.:-]*", run_id).group()  # type: ignore[union-attr]
        key = f"tags.`{c.TAG_RUN_ID}`"
        where = f"{key} = '{run_id}'" if safe == run_id else f"{key} LIKE '{safe}%'"
        found, token = [], None
        while True:
            page = self.client.search_runs([experiment_id], filter_string=where, max_results=1000,
                                           page_token=token, order_by=["attributes.start_time ASC"])
            found.extend(r for r in page if r.data.tags.get(c.TAG_RUN_ID) == run_id)
            token = page.token
            if not token:
                return found

    def _existing(self, experiment_id: str) -> Any | None:
        found = self._search(experiment_id, self.record.id)
        # the run may have been exported into another experiment before: the core keeps the
        # last target id on the Aquarium run
        hint = self.record.tags.get(interop.EXPORTED_TAG + "mlflow")
        if hint and all(r.info.run_id != hint for r in found):
            other = self._get(hint)
            if (other is not None and other.info.lifecycle_stage == "active"
                    and other.data.tags.get(c.TAG_RUN_ID) == self.record.id):
                found.append(other)
        if not found:
            return None
        keep = next((r for r in found if r.info.experiment_id == experiment_id), found[0])
        for extra in found:  # never more than one MLflow run per Aquarium run
            if extra is not keep:
                self.client.delete_run(extra.info.run_id)
        return keep

    def _get(self, run_id: str) -> Any | None:
        from mlflow.exceptions import MlflowException

        try:
            return self.client.get_run(run_id)
        except MlflowException:
            return None

    def _must_recreate(self, existing: Any, experiment_id: str) -> bool:
        if existing.info.experiment_id != experiment_id:
            return True  # MLflow cannot move a run between experiments
        if existing.info.start_time != self._start_ms():
            return True  # nor change its start time
        old = existing.data.params
        return any(k in old and old[k] != v for k, v in self.view.params.items())  # nor a param

    def _parent_run_id(self, experiment_id: str) -> str | None:
        if not self.record.parent:
            return None
        found = self._search(experiment_id, self.record.parent)
        return found[0].info.run_id if found else None

    def _held_points(self, run_id: str) -> dict[str, Counter]:
        """The points MLflow already holds, per metric key, as :func:`point_key`."""
        held = {}
        for key in self.bundle.history:
            mkey = self.view.metric_keys[key]
            held[mkey] = Counter(point_key(m.step, m.timestamp, m.value)
                                 for m in self.client.get_metric_history(run_id, mkey))
        return held

    def _points(self, skip: dict[str, Counter] | None) -> list[_bulk.Points]:
        """Each key's points in logging order, as MLflow takes them, without the points in
        ``skip`` (each held point skips one of ours)."""
        out = []
        for key, series in self.bundle.history.items():
            mkey = self.view.metric_keys[key]
            steps, values, times = series.steps, series.values, ms(series.timestamps)
            held = skip.get(mkey) if skip is not None else None
            if held:
                keep = []
                for i, point in enumerate(zip(steps.tolist(), times.tolist(), values.tolist())):
                    k = point_key(*point)
                    if held.get(k):
                        held[k] -= 1
                    else:
                        keep.append(i)
                steps, values, times = steps[keep], values[keep], times[keep]
            out.append((mkey, np.asarray(steps, np.int64), times, np.asarray(values, np.float64)))
        return out

    def _send_metrics(self, run_id: str, skip: dict[str, Counter] | None) -> None:
        """Every point not in ``skip``: in bulk into a local store MLflow's client opened
        (:mod:`._bulk`), else with ``log_batch`` in chunks of MLflow's limit."""
        points = self._points(skip)
        writer = None if self.log_batch_only else _bulk.writer_for(self.client)
        if writer is None:
            self._log_batches(run_id, points)
        else:
            writer(run_id, points, lambda rest: self._log_batches(run_id, rest))

    def _log_batches(self, run_id: str, points: Sequence[_bulk.Points]) -> None:
        for batch in metric_batches(points):
            self.client.log_batch(run_id, metrics=batch)

    def _upload(self, run_id: str) -> None:
        """Every artifact at its name, plus ``aquarium/run.json``, in one ``log_artifacts``."""
        with tempfile.TemporaryDirectory(prefix="aquarium-mlflow-") as stage:
            for name, path in self.bundle.artifact_files.items():
                dest = os.path.join(stage, *name.split("/"))
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                try:
                    os.symlink(os.path.abspath(path), dest)  # every artifact store reads through it
                except OSError:
                    shutil.copyfile(path, dest)
            dest = os.path.join(stage, *interop.RUN_JSON.split("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "w", encoding="utf-8") as f:
                f.write(self.run_json)
            self.client.log_artifacts(run_id, stage)
