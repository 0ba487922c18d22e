"""``aquarium import mlflow SOURCE``: runs of any MLflow tracking URI into an Aquarium store.

A run that Aquarium exported carries ``aquarium/run.json``: that typed record comes back
exactly (±inf, float64 timestamps, the exact status, nested params), plus whatever was
added in MLflow after the export (new tags, an edited note, new metric keys, models
logged natively). Any other run is read from MLflow's own data: every point of every
metric (``get_metric_history``), params, tags, note, status, times and artifacts,
including the models MLflow 3 keeps apart from the run (logged models).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import warnings
import weakref
from typing import Any

import numpy as np

from aquarium import interop
from aquarium.interfaces import Importer
from aquarium.interop import RunBundle, SourceRun
from aquarium.model import Artifact, MetricSeries, RunRecord, SourceInfo

from . import _common as c


class MlflowImportWarning(UserWarning):
    """A run or an artifact at the source was skipped; the message says which and why."""


def _experiments(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


class MlflowImporter(Importer):
    name = "mlflow"
    description = ("Import runs from MLflow: any tracking URI (http(s)://server, sqlite:///file.db, "
                   "file:///folder), with full metric histories and artifacts.")
    source_help = "MLflow tracking URI, e.g. http://127.0.0.1:5000, sqlite:///mlflow.db or file:///path/mlruns"

    def cli_options(self) -> list[Any]:
        import click

        return [
            click.Option(["--source-experiment"], multiple=True,
                         help="Import only this MLflow experiment (by name; repeat for several; default: all)."),
            click.Option(["--check-timeout"], type=float, default=c.DEFAULT_CHECK_TIMEOUT, show_default=True,
                         help="Seconds to wait for a tracking server while checking it before the import."),
        ]

    def discover(self, source: str, *, source_experiment: Any = None, check_timeout: float | None = None,
                 **options: Any) -> list[SourceRun]:
        client = c.probe(source, check_timeout)  # fails fast, naming the URI
        with c.mlflow_env(source):
            names = _experiments(source_experiment)
            if names:
                experiments = []
                for name in names:
                    found = client.get_experiment_by_name(name)
                    if found is None or found.lifecycle_stage != "active":
                        raise c.MlflowPluginError(f"no MLflow experiment named {name!r} at {source}")
                    experiments.append(found)
            else:
                experiments = _all(lambda token: client.search_experiments(max_results=1000, page_token=token))
            found_runs = []
            for experiment in experiments:
                runs = _all(lambda token, e=experiment: client.search_runs(
                    [e.experiment_id], max_results=1000, page_token=token, order_by=["attributes.start_time ASC"]))
                for run in runs:
                    if run.data.tags.get(c.TAG_STATE) == "partial":
                        warnings.warn(f"MLflow run {run.info.run_id} ({run.info.run_name!r}) at {source} is an "
                                      f"unfinished Aquarium export; skipped (export it again to complete it)",
                                      MlflowImportWarning, stacklevel=2)
                        continue
                    found_runs.append(SourceRun(run.info.run_id, run.info.run_name or run.info.run_id,
                                                {"experiment": experiment.name,
                                                 "experiment_id": experiment.experiment_id}))
            return found_runs

    def read(self, item: SourceRun, source: str, **options: Any) -> RunBundle:
        c.require_mlflow(source)
        with c.mlflow_env(source):
            client = c.client_for(source)
            run = client.get_run(item.source_id)
            folder = tempfile.mkdtemp(prefix="aquarium-mlflow-import-")
            try:
                experiment = item.extra.get("experiment") or _experiment_name(client, run)
                bundle = _read(client, run, experiment, folder, source)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)
                raise
        # the files live until the core has copied them into the store and dropped the bundle
        weakref.finalize(bundle, shutil.rmtree, folder, True)
        return bundle


def _all(fetch: Any) -> list[Any]:
    out, token = [], None
    while True:
        page = fetch(token)
        out.extend(page)
        token = getattr(page, "token", None)
        if not token:
            return out


def _experiment_name(client: Any, run: Any) -> str:
    return client.get_experiment(run.info.experiment_id).name


def _read(client: Any, run: Any, experiment: str, folder: str, uri: str) -> RunBundle:
    run_id = run.info.run_id
    files = _download(client, run_id, folder)
    models = _logged_models(client, run, folder, files, uri)
    typed = files.pop(interop.RUN_JSON, None)
    if typed is not None:
        with open(typed, encoding="utf-8") as f:
            record, history = interop.load_run_json(f.read())
        _merge_mlflow_side(client, run, record, history)
        listed = {a.name for a in record.artifacts}
        for name in files:
            if name not in listed:  # added in MLflow after the export
                record.artifacts.append(models.get(name) or _artifact(name, run))
    else:
        record = _record(run, experiment)
        history = {key: _series(client, run_id, key) for key in sorted(run.data.metrics)}
        record.artifacts = [models.get(name) or _artifact(name, run) for name in files]
    return RunBundle(record, history, files)


# -- artifacts -------------------------------------------------------------------------------
def _download(client: Any, run_id: str, folder: str) -> dict[str, str]:
    """Every artifact of the run into ``folder``: name → local path."""
    if not client.list_artifacts(run_id):
        return {}
    root = os.path.join(folder, "run")
    os.makedirs(root)
    client.download_artifacts(run_id, "", root)
    return _files_under(root)


def _files_under(root: str, prefix: str = "") -> dict[str, str]:
    out = {}
    for where, _dirs, names in os.walk(root):
        for name in sorted(names):
            path = os.path.join(where, name)
            out[prefix + os.path.relpath(path, root).replace(os.sep, "/")] = path
    return dict(sorted(out.items()))


def _flavors(folder: str) -> list[str]:
    """The flavors of the MLflow model in ``folder`` (its ``MLmodel`` file)."""
    path = os.path.join(folder, "MLmodel")
    try:
        import yaml

        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
        return [str(k) for k in (data.get("flavors") or {})]
    except Exception:  # an unreadable MLmodel still marks a model
        return []


def _model_artifact(name: str, run: Any, flavors: list[str], model_dir: str, **extra: Any) -> Artifact:
    framework = next((f for f in flavors if f != "python_function"), flavors[0] if flavors else "unknown")
    metadata = {"framework": framework, "mlflow_flavors": flavors, "mlflow_model": model_dir, **extra}
    return Artifact(name, 0, "", "model", metadata, _artifact_time(run))


def _artifact(name: str, run: Any) -> Artifact:
    return Artifact(name, 0, "", "file", {}, _artifact_time(run))


def _artifact_time(run: Any) -> float:
    ms = run.info.end_time or run.info.start_time
    return ms / 1000.0 if ms else time.time()


def _logged_models(client: Any, run: Any, folder: str, files: dict[str, str], uri: str) -> dict[str, Artifact]:
    """Model artifacts: files of run-artifact folders holding an ``MLmodel`` (MLflow 2), and
    MLflow 3 logged models of this run, downloaded under ``models/<name>/`` (added to ``files``)."""
    out: dict[str, Artifact] = {}
    root = os.path.join(folder, "run")
    dirs = {name.rsplit("/", 1)[0] if "/" in name else "" for name in files if name.endswith("MLmodel")
            and (name == "MLmodel" or name.endswith("/MLmodel"))}
    for model_dir in sorted(dirs):
        flavors = _flavors(os.path.join(root, *model_dir.split("/")) if model_dir else root)
        for name in files:
            if not model_dir or name.startswith(model_dir + "/"):
                out[name] = _model_artifact(name, run, flavors, model_dir or ".")
    search = getattr(client, "search_logged_models", None)
    if search is None:  # MLflow < 3 keeps models inside the run's artifacts
        return out
    try:
        models = _all(lambda token: search(experiment_ids=[run.info.experiment_id],
                                           filter_string=f"source_run_id = '{run.info.run_id}'", page_token=token))
    except Exception as error:
        warnings.warn(f"MLflow run {run.info.run_id}: could not list its logged models ({error}); "
                      f"they are not imported", MlflowImportWarning, stacklevel=3)
        return out
    import mlflow.artifacts

    for model in models:
        prefix = f"models/{model.name}"
        if any(name.startswith(prefix + "/") for name in files):
            prefix = f"models/{model.name}-{model.model_id}"
        dest = os.path.join(folder, "logged-models", model.model_id)
        os.makedirs(dest)
        try:
            path = mlflow.artifacts.download_artifacts(artifact_uri=model.artifact_location, dst_path=dest,
                                                       tracking_uri=uri)
        except Exception as error:
            warnings.warn(f"MLflow run {run.info.run_id}: logged model {model.model_id} ({model.name!r}) could not "
                          f"be downloaded ({error}); skipped", MlflowImportWarning, stacklevel=3)
            continue
        flavors = _flavors(path)
        for name, local in _files_under(path, prefix + "/").items():
            files[name] = local
            out[name] = _model_artifact(name, run, flavors, prefix, mlflow_model_id=model.model_id)
    return out


# -- a run without run.json --------------------------------------------------------------------
def _record(run: Any, experiment: str) -> RunRecord:
    info, data = run.info, run.data
    tags = dict(data.tags)
    for key in (c.RUN_NAME_TAG, c.TAG_STATE, c.TAG_DIGEST, c.TAG_HISTORY, c.TAG_ADJUSTED, c.TAG_MODELS):
        tags.pop(key, None)
    status = tags.pop(c.TAG_STATUS, None)
    if status not in c.STATUS_TO_MLFLOW:
        status = c.STATUS_FROM_MLFLOW.get(info.status, "completed")
    started = info.start_time / 1000.0 if info.start_time is not None else None
    ended = info.end_time / 1000.0 if info.end_time and status != "running" else None
    source = SourceInfo(user=tags.get(c.USER_TAG) or info.user_id or None, git_commit=tags.get(c.GIT_COMMIT_TAG),
                        command=[tags[c.SOURCE_NAME_TAG]] if tags.get(c.SOURCE_NAME_TAG) else [])
    created = started if started is not None else time.time()
    run_id = tags.pop(c.TAG_RUN_ID, None) or info.run_id
    group = tags.pop(c.TAG_GROUP, None)
    parent = tags.pop(c.TAG_PARENT, None) or tags.pop(c.PARENT_TAG, None)
    notes = tags.pop(c.NOTE_TAG, "")
    error = tags.pop(c.TAG_ERROR, None)
    return RunRecord(
        id=run_id, name=info.run_name or info.run_id, experiment=experiment, group=group, status=status,
        created=created, started=started, ended=ended,
        # a run MLflow still shows as running reads as crashed once its last sign of life is stale
        heartbeat=_last_activity(run, created) if status == "running" else None,
        parent=parent, params={key: c.typed_param(value) for key, value in sorted(data.params.items())},
        tags=tags, notes=notes, error=error,
        source=source if (source.user or source.git_commit or source.command) else None,
    )


def _last_activity(run: Any, default: float) -> float:
    times = [m.timestamp / 1000.0 for m in getattr(run.data, "_metric_objs", [])]
    return max([default, *times])


def _series(client: Any, run_id: str, key: str) -> MetricSeries:
    """Every point of one metric, in logging order (by timestamp, then step)."""
    points = sorted(((m.timestamp, m.step, m.value) for m in client.get_metric_history(run_id, key)),
                    key=lambda p: (p[0], p[1]))
    ts = np.array([p[0] for p in points], np.int64)
    return MetricSeries(key, np.array([p[1] for p in points], np.int64),
                        np.array([p[2] for p in points], np.float64), ts / 1000.0)


# -- a run with run.json: add what changed in MLflow after the export ---------------------------
def _merge_mlflow_side(client: Any, run: Any, record: RunRecord, history: dict[str, MetricSeries]) -> None:
    view = c.render(record, history)
    tags = run.data.tags
    for key, value in tags.items():
        if key in view.tags or key.startswith(("mlflow.", "aquarium.")) or key in record.tags:
            continue
        record.tags[key] = value  # set in MLflow after the export
    note = tags.get(c.NOTE_TAG)
    if note is not None and note != view.tags.get(c.NOTE_TAG, "") and not note.endswith(c.TRUNCATED):
        record.notes = note  # edited in MLflow after the export
    exported = set(view.metric_keys.values())
    for key in sorted(run.data.metrics):
        if key not in exported and key not in history:
            history[key] = _series(client, run.info.run_id, key)  # logged in MLflow after the export

