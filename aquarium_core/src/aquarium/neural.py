"""Compatibility with the original Neural tracker: its API as thin wrappers, and its folders.

A Neural "experiment" is one Aquarium run; its 8-hex id is kept in the tag
``neural.experiment_id``. ``aquarium import neural DIR`` reads a ``neural_experiments/``
folder as the original tracker wrote it. Differences are listed in docs/neural.md.
"""

from __future__ import annotations

import datetime
import json
import os
import uuid
import warnings
from typing import Any

import numpy as np

from .directions import direction as metric_direction
from .hookspecs import hookimpl
from .interfaces import Importer, Store
from .interop import RunBundle, SourceRun
from .model import Artifact, MetricSeries, RunRecord
from .stores import open_store
from .tracking import Run, resume_run, start_run

ID_TAG = "neural.experiment_id"
EXPERIMENT = "neural"
#: Neural statuses → Aquarium statuses. "created" and "running" mean the run is live.
STATUS_MAP = {"created": "running", "running": "running", "completed": "completed", "failed": "failed",
              "killed": "killed", "stopped": "killed", "cancelled": "killed", "interrupted": "killed"}


def _iso(timestamp: float | None) -> str | None:
    return None if timestamp is None else datetime.datetime.fromtimestamp(timestamp).isoformat()


class ExperimentTracker:
    """The Neural ``ExperimentTracker`` API over an Aquarium run (``base_dir`` is the store)."""

    def __init__(self, experiment_name: str | None = None, base_dir: str = "neural_experiments", *,
                 _run: Run | None = None, _record: RunRecord | None = None) -> None:
        self.base_dir = base_dir
        self.store: Store = open_store(base_dir)
        if _record is not None:  # an existing experiment (ExperimentManager.get_experiment)
            self._run = _run
            self.experiment_name = _record.name
            self.experiment_id = _record.tags.get(ID_TAG, _record.id)
            self.run_id = _record.id
            return
        self.experiment_name = experiment_name or f"experiment_{datetime.datetime.now():%Y%m%d_%H%M%S}"
        self.experiment_id = uuid.uuid4().hex[:8]
        self._run = start_run(name=self.experiment_name, experiment=EXPERIMENT, store=self.store,
                              tags={ID_TAG: self.experiment_id})
        self.run_id = self._run.id

    def _live(self) -> Run:
        if self._run is None:
            self._run = resume_run(self.run_id, store=self.store)
        return self._run

    @property
    def hyperparameters(self) -> dict[str, Any]:
        return self.store.get_run(self.run_id).params

    @property
    def metadata(self) -> dict[str, Any]:
        record = self.store.get_run(self.run_id)
        return {"start_time": _iso(record.started), "end_time": _iso(record.ended), "status": record.status}

    @property
    def metrics_history(self) -> list[dict[str, Any]]:
        return self.get_metrics()

    def log_hyperparameters(self, hyperparameters: dict[str, Any]) -> None:
        self._live().log_params(hyperparameters)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        self._live().log(metrics, step=step)

    def log_artifact(self, artifact_path: str, artifact_name: str | None = None) -> None:
        self._live().log_artifact(artifact_path, artifact_name)

    def log_model(self, model_path: str, framework: str = "unknown") -> None:
        self._live().log_model(model_path, framework=framework)

    def set_status(self, status: str) -> None:
        """Neural statuses map onto Aquarium's; a final one ends the run."""
        mapped = STATUS_MAP.get(status)
        if mapped is None:
            raise ValueError(f"unknown status {status!r}; use one of {', '.join(STATUS_MAP)}")
        if mapped == "running":
            return
        if self._run is not None and self._run.owner:
            self._run.finish(mapped)
        else:
            if self._run is not None:
                self._run.finish()
            self.store.update_run(self.run_id, status=mapped, ended=datetime.datetime.now().timestamp())

    def get_metrics(self, metric_name: str | None = None) -> list[Any]:
        """Values of one metric in logging order, or every logged entry as Neural kept them:
        ``{"timestamp", "step", <metrics>}`` with the metrics of one call together."""
        if self._run is not None and not self._run._closed:
            self._run.flush()
        history = self.store.history(self.run_id)
        if metric_name is not None:
            return history[metric_name].values.tolist() if metric_name in history else []
        entries: dict[tuple[float, int], dict[str, Any]] = {}
        for key, series in history.items():
            for step, value, ts in zip(series.steps.tolist(), series.values.tolist(), series.timestamps.tolist()):
                entries.setdefault((ts, step), {"timestamp": ts, "step": step})[key] = value
        return [entries[k] for k in sorted(entries)]

    def get_best_metric(self, metric_name: str, mode: str | None = None) -> tuple[float | None, int | None]:
        """(best value, its step). ``mode`` is ``"max"`` or ``"min"``; by default the metric's
        direction (losses and errors minimize), not always the maximum as Neural did."""
        record = self.store.get_run(self.run_id)
        summary = record.summaries.get(metric_name)
        if summary is None:
            return None, None
        mode = mode or metric_direction(metric_name, record.directions)
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be 'min' or 'max', not {mode!r}")
        return (summary.min, summary.min_step) if mode == "min" else (summary.max, summary.max_step)

    def finish(self) -> None:
        if self._run is not None:
            self._run.finish()


class ExperimentManager:
    """The Neural ``ExperimentManager`` API over an Aquarium store (``base_dir``)."""

    def __init__(self, base_dir: str = "neural_experiments") -> None:
        self.base_dir = base_dir
        self.store = open_store(base_dir)

    def create_experiment(self, experiment_name: str | None = None) -> ExperimentTracker:
        return ExperimentTracker(experiment_name, self.base_dir)

    def _find(self, experiment_id: str) -> RunRecord | None:
        for record in self.store.list_runs():
            if record.tags.get(ID_TAG) == experiment_id or record.id == experiment_id:
                return record
        return None

    def get_experiment(self, experiment_id: str) -> ExperimentTracker | None:
        """The experiment with this id, or ``None``. Never creates anything."""
        record = self._find(experiment_id)
        return None if record is None else ExperimentTracker(base_dir=self.base_dir, _record=record)

    def list_experiments(self) -> list[dict[str, Any]]:
        """Dicts as Neural returned them, newest first."""
        out = []
        for record in self.store.list_runs():
            summary = {key: {"last": s.last, "best": s.min if metric_direction(key, record.directions) == "min"
                             else s.max} for key, s in record.summaries.items()}
            out.append({"experiment_name": record.name, "experiment_id": record.tags.get(ID_TAG, record.id),
                        "status": record.status, "start_time": _iso(record.started),
                        "end_time": _iso(record.ended), "summary": summary or None})
        return out

    def delete_experiment(self, experiment_id: str) -> bool:
        record = self._find(experiment_id)
        if record is None:
            return False
        self.store.delete_run(record.id)
        return True

    def compare_experiments(self, experiment_ids: list[str], metric_names: list[str] | None = None) -> Any:
        """An :class:`aquarium.compare.Comparison` of the experiments (Neural returned figures;
        call ``.plot()`` on the result for those)."""
        from .compare import compare

        ids = [r.id for r in (self._find(i) for i in experiment_ids) if r is not None]
        return compare(ids, metric_names, store=self.store)


# -- the importer of neural_experiments/ folders -----------------------------------------------
def _load_json(path: str, default: Any) -> Any:
    if not os.path.exists(path):
        return default
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError) as error:
        warnings.warn(f"neural import: skipping corrupt file {path}: {error}", stacklevel=3)
        return default


def _timestamp(text: Any, default: float) -> float:
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except (TypeError, ValueError):
        return default


class NeuralImporter(Importer):
    """Reads the folders the original Neural tracker wrote (``<name>_<id8>/``)."""

    name = "neural"
    description = "experiment folders written by the original Neural tracker"
    source_help = "a neural_experiments/ folder"

    def discover(self, source: str, **options: Any) -> list[SourceRun]:
        if not os.path.isdir(source):
            raise FileNotFoundError(f"no folder {source!r}")
        found = []
        for entry in sorted(os.listdir(source)):
            folder = os.path.join(source, entry)
            if os.path.isfile(os.path.join(folder, "metadata.json")) and "_" in entry:
                name, _, experiment_id = entry.rpartition("_")
                found.append(SourceRun(entry, name, {"experiment_id": experiment_id, "folder": folder}))
        return found

    def read(self, item: SourceRun, source: str, **options: Any) -> RunBundle:
        folder = item.extra["folder"]
        metadata = _load_json(os.path.join(folder, "metadata.json"), {})
        params = _load_json(os.path.join(folder, "hyperparameters.json"), {})
        entries = _load_json(os.path.join(folder, "metrics.json"), [])
        artifacts = _load_json(os.path.join(folder, "artifacts.json"), {})
        history = _history(entries if isinstance(entries, list) else [])
        times = [float(s.timestamps[-1]) for s in history.values() if len(s)]
        started = _timestamp(metadata.get("start_time"), min(times, default=os.path.getmtime(folder)))
        status = STATUS_MAP.get(metadata.get("status", "created"), "killed")
        ended = _timestamp(metadata.get("end_time"), max(times, default=started)) if status != "running" else None
        record = RunRecord(
            id=item.source_id, name=item.name, experiment=EXPERIMENT, status=status, created=started,
            started=started, ended=ended,
            # a run that never finished reads as crashed: its last sign of life is long past
            heartbeat=max(times, default=started) if status == "running" else None,
            params=params if isinstance(params, dict) else {},
            tags={ID_TAG: item.extra["experiment_id"]},
        )
        files = {}
        for name, info in (artifacts if isinstance(artifacts, dict) else {}).items():
            info = info if isinstance(info, dict) else {}
            path = next((p for p in (os.path.join(folder, "artifacts", name), os.path.join(folder, "plots", name),
                                     info.get("path") or "") if p and os.path.isfile(p)), None)
            if path is None:
                warnings.warn(f"neural import: artifact {name!r} of {item.source_id} has no file; skipped",
                              stacklevel=2)
                continue
            kind = "model" if info.get("type") == "model" else "file"
            meta = {k: info[k] for k in ("type", "framework") if k in info}
            record.artifacts.append(Artifact(name, 0, "", kind, meta, float(info.get("timestamp", started))))
            files[name] = path
        return RunBundle(record, history, files)


def _history(entries: list[Any]) -> dict[str, MetricSeries]:
    """Neural's entries ``{timestamp, step, **metrics}`` as columns; a null step is the index."""
    columns: dict[str, tuple[list[int], list[float], list[float]]] = {}
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            continue
        step = entry.get("step")
        step = index if step is None else int(step)
        ts = float(entry.get("timestamp") or 0.0)
        for key, value in entry.items():
            if key in ("timestamp", "step") or isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            steps, values, times = columns.setdefault(key, ([], [], []))
            steps.append(step)
            values.append(float(value))
            times.append(ts)
    return {k: MetricSeries(k, np.array(s, np.int64), np.array(v), np.array(t)) for k, (s, v, t) in columns.items()}


@hookimpl
def aquarium_register_importers(register: Any) -> None:
    register("neural", NeuralImporter())
