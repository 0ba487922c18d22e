"""Aquarium runs → W&B offline runs (``TO/wandb/offline-run-<time>-<id>/``), for ``wandb sync``.

One W&B run per Aquarium run, with the W&B run id derived from the Aquarium run id (the id
itself when W&B accepts it). Every metric point is its own entry of a history row: rows
carry our step metric ``aquarium/step`` (declared with ``define_metric`` as every metric's
x-axis) and the point's original ``_timestamp``, while W&B's own ``_step`` is just the row
counter, so repeated and decreasing steps survive (W&B drops a ``step=`` lower than the
last one and merges rows that share one). Keys logged together (same steps and timestamps)
share rows, so a run logged with ``run.log(dict, step=s)`` becomes as many rows as W&B's own
client would write.
"""

from __future__ import annotations

import hashlib
import heapq
import math
import os
import re
import shutil
import time
from collections.abc import Iterator
from typing import Any

from aquarium import interop
from aquarium.errors import AquariumError
from aquarium.interfaces import Exporter
from aquarium.interop import RunBundle, TransferResult

from . import writer as direct
from .records import (
    ARTIFACTS_DIR,
    ENDED_KEY,
    ERROR_KEY,
    EXIT_CODES,
    EXPERIMENT_KEY,
    RESERVED_KEYS,
    RUN_ID_KEY,
    STARTED_KEY,
    STATUS_KEY,
    STEP_KEY,
    TAGS_KEY,
    W_TIMESTAMP,
    require_wandb,
    run_folders,
    wait_until_written,
)

_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_PROJECT_BAD = re.compile(r"[/\\#?%:]")
_ARTIFACT_BAD = re.compile(r"[^A-Za-z0-9_.-]")
_TYPE_BAD = re.compile(r"[^A-Za-z0-9_.-]")
MAX_TAG = 64


def wandb_run_id(run_id: str) -> str:
    """The W&B run id of an Aquarium run: the same id when W&B accepts it, else a stable hash."""
    if _RUN_ID.match(run_id):
        return run_id
    return "aq-" + hashlib.sha256(run_id.encode()).hexdigest()[:24]


def project_name(experiment: str) -> str:
    """A W&B project name for an experiment (W&B refuses ``/\\#?%:`` and more than 128 characters)."""
    name = _PROJECT_BAD.sub("-", experiment).strip()[:128]
    return name or "default"


def wandb_tags(tags: dict[str, str]) -> list[str]:
    """W&B's tag list, for its UI: ``key`` or ``key:value``. W&B allows 1-64 characters, so longer
    ones (and ones with control characters or outer spaces) are left out of the list; the exact
    tags are in the summary key ``aquarium/tags`` and in run.json."""
    out = []
    for key, value in sorted(tags.items()):
        if key.startswith("aquarium."):
            continue
        label = f"{key}:{value}" if value else key
        if 1 <= len(label) <= MAX_TAG and label.strip() == label and label.isprintable():
            out.append(label)
    return out


def history_rows(history: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """History rows to log, each point exactly once, each key's points in logging order.

    Keys with identical steps and timestamps share rows; rows of different groups are
    interleaved by timestamp (then step), which keeps every key's own order.
    """
    groups: dict[bytes, list[Any]] = {}
    for series in history.values():
        if len(series):
            ident = series.steps.tobytes() + series.timestamps.tobytes()
            groups.setdefault(ident, []).append(series)

    def rows_of(members: list[Any]) -> Iterator[tuple[float, int, int, dict[str, Any]]]:
        first = members[0]
        keys = [s.key for s in members]
        columns = [s.values.tolist() for s in members]
        for i, (step, ts, values) in enumerate(zip(first.steps.tolist(), first.timestamps.tolist(), zip(*columns))):
            row = dict(zip(keys, values))
            row[STEP_KEY] = step
            row[W_TIMESTAMP] = ts
            yield ts, step, i, row

    streams = [rows_of(members) for members in groups.values()]
    if len(streams) == 1:
        for *_, row in streams[0]:
            yield row
        return
    for _, row in heapq.merge(*(_keyed(stream, g) for g, stream in enumerate(streams)), key=lambda t: t[0]):
        yield row


def _keyed(stream: Iterator[tuple[float, int, int, dict]], group: int) -> Iterator[tuple[tuple, dict]]:
    for ts, step, i, row in stream:
        # NaN timestamps sort first rather than breaking the merge's ordering
        yield (ts if ts == ts else -math.inf, step, group, i), row


class WandbExporter(Exporter):
    name = "wandb"
    description = "Write W&B offline runs (upload them later with `wandb sync`)."
    target_help = ("Folder for the offline runs, like WANDB_DIR: each run goes to "
                   "TO/wandb/offline-run-<time>-<id>/.")

    def check(self, to: str, **options: Any) -> None:
        require_wandb()
        if os.path.exists(to) and not os.path.isdir(to):
            raise AquariumError(f"W&B export target {to!r} is a file, not a folder")

    def cli_options(self) -> list[Any]:
        import click

        return [click.Option(
            ["--writer"], type=click.Choice(["direct", "client"]), default="direct", show_default=True,
            help="direct: write the offline run's .wandb file in W&B's record format; client: log "
                 "every row through W&B's own client (wandb.init offline), several times slower.")]

    def export_run(self, bundle: RunBundle, to: str, *, writer: str = "direct", **options: Any) -> TransferResult:
        wandb = require_wandb()
        record = bundle.record
        for key in bundle.history:
            if key in RESERVED_KEYS:
                raise AquariumError(f"metric key {key!r} is reserved by W&B or by this exporter; "
                                    "rename the metric to export the run")
        if writer not in ("direct", "client"):
            raise AquariumError(f"unknown W&B writer {writer!r}: use 'direct' or 'client'")
        wid = wandb_run_id(record.id)
        to = os.path.abspath(to)
        os.makedirs(to, exist_ok=True)
        for folder in run_folders(to, wid):  # re-export replaces the earlier offline run
            shutil.rmtree(folder)
        if writer == "direct" and direct.available():
            folder = _run_folder(to, wid)
            try:
                _write_direct(folder, wid, bundle, wandb.__version__)
            except BaseException:
                shutil.rmtree(folder, ignore_errors=True)  # a half-written run is not left behind
                raise
            _point_latest_run(to, folder)
            return TransferResult(record.id, record.name, self.name, wid, bundle.points,
                                  len(bundle.artifact_files))
        run = wandb.init(
            dir=to, id=wid, project=project_name(record.experiment), name=record.name, group=record.group,
            notes=record.notes or None, tags=wandb_tags(record.tags), config=record.params,
            mode="offline", reinit="create_new", settings=wandb.Settings(**_settings(wandb)),
        )
        try:
            self._write(run, bundle)
            path = os.path.join(run.settings.sync_dir, f"run-{wid}.wandb")
            run.finish(exit_code=EXIT_CODES.get(record.status, 1))
            wait_until_written(path)
        except BaseException:
            try:
                run.finish(exit_code=1)
            finally:
                for folder in run_folders(to, wid):  # a half-written run is not left behind
                    shutil.rmtree(folder, ignore_errors=True)
            raise
        return TransferResult(record.id, record.name, self.name, wid, bundle.points, len(bundle.artifact_files))

    def _write(self, run: Any, bundle: RunBundle) -> None:
        import wandb

        record = bundle.record
        # every metric's x-axis is our step (one definition per key: cheaper for wandb-core than a
        # "*" glob matched on every row; every row carries the step, so no step_sync is needed)
        run.define_metric(STEP_KEY)
        for key in bundle.history:
            run.define_metric(key, step_metric=STEP_KEY, step_sync=False)
        log = run.log
        for row in history_rows(bundle.history):
            log(row)
        run.summary.update(_summary(record))

        folder = run.settings.sync_dir
        by_name = {a.name: a for a in record.artifacts}
        used: set[str] = set()
        for name, path in sorted(bundle.artifact_files.items()):
            meta = by_name.get(name)
            kind = meta.kind if meta else "file"
            copy = os.path.join(folder, ARTIFACTS_DIR, *name.split("/"))
            os.makedirs(os.path.dirname(copy), exist_ok=True)
            shutil.copyfile(path, copy)  # inside the run folder: self-contained, and what `wandb sync` uploads
            artifact = wandb.Artifact(_artifact_name(name, used), type=_TYPE_BAD.sub("-", kind) or "file",
                                      metadata=dict(meta.metadata) if meta else {})
            artifact.add_file(copy, name=name, policy="immutable")
            run.log_artifact(artifact)

        run_json = os.path.join(run.dir, *interop.RUN_JSON.split("/"))
        os.makedirs(os.path.dirname(run_json), exist_ok=True)
        with open(run_json, "w", encoding="utf-8") as f:
            f.write(interop.dump_run_json(bundle))
        run.save(run_json, base_path=run.dir, policy="now")


def _run_folder(to: str, wid: str) -> str:
    """A new ``TO/wandb/offline-run-<now>-<id>`` folder, named as W&B names it."""
    stamp = time.strftime("%Y%m%d_%H%M%S")
    folder = os.path.join(to, "wandb", f"offline-run-{stamp}-{wid}")
    for sub in ("files", "logs", "tmp"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    return folder


def _point_latest_run(to: str, folder: str) -> None:
    """W&B's ``latest-run`` symlink, pointed at ``folder`` (where symlinks can be made)."""
    link = os.path.join(to, "wandb", "latest-run")
    try:
        if os.path.islink(link):
            os.unlink(link)
        if not os.path.exists(link):
            os.symlink(os.path.basename(folder), link)
    except OSError:
        pass


def _summary(record: Any) -> dict[str, Any]:
    """The ``aquarium/*`` summary keys: what W&B's run model has no field for."""
    summary = {RUN_ID_KEY: record.id, EXPERIMENT_KEY: record.experiment, TAGS_KEY: dict(record.tags),
               STATUS_KEY: record.status, STARTED_KEY: record.started, ENDED_KEY: record.ended}
    if record.error is not None:
        summary[ERROR_KEY] = record.error
    return {k: v for k, v in summary.items() if v is not None}


def _write_direct(folder: str, wid: str, bundle: RunBundle, wandb_version: str) -> None:
    """The offline run in ``folder``: its ``.wandb`` file (:mod:`.writer`), artifact copies, run.json."""
    import wandb

    from . import __version__

    record = bundle.record
    project = project_name(record.experiment)
    run_json = os.path.join(folder, "files", *interop.RUN_JSON.split("/"))
    os.makedirs(os.path.dirname(run_json), exist_ok=True)
    with open(run_json, "w", encoding="utf-8") as f:
        f.write(interop.dump_run_json(bundle))

    by_name = {a.name: a for a in record.artifacts}
    used: set[str] = set()
    artifacts = []
    for name, path in sorted(bundle.artifact_files.items()):
        meta = by_name.get(name)
        kind = meta.kind if meta else "file"
        copy = os.path.join(folder, ARTIFACTS_DIR, *name.split("/"))
        os.makedirs(os.path.dirname(copy), exist_ok=True)
        shutil.copyfile(path, copy)
        artifact = wandb.Artifact(_artifact_name(name, used), type=_TYPE_BAD.sub("-", kind) or "file",
                                  metadata=dict(meta.metadata) if meta else {})
        artifact.add_file(copy, name=name, policy="immutable")
        artifacts.append(artifact)

    out = direct.RunFileWriter(os.path.join(folder, f"run-{wid}.wandb"), wid)
    try:
        out.header(f"aquarium-wandb {__version__} (wandb {wandb_version})")
        out.run(project=project, name=record.name, group=record.group, notes=record.notes or None,
                tags=wandb_tags(record.tags), config=record.params,
                host=record.source.host if record.source is not None else None, start_time=record.started)
        out.define_metric(STEP_KEY)
        for key in bundle.history:
            out.define_metric(key, step_metric=STEP_KEY)
        derived = out.history(direct.history_texts(history_rows(bundle.history), record.started))
        if derived:
            out.summary(derived, raw=True)
        out.summary(_summary(record), nested=False)
        for artifact in artifacts:
            out.artifact(artifact, project)
        out.files([interop.RUN_JSON])
        out.exit(EXIT_CODES.get(record.status, 1))
    finally:
        out.close()


def _artifact_name(name: str, used: set[str]) -> str:
    """A W&B artifact name (letters, digits, ``_.-``; at most 128) unique within the run."""
    base = _ARTIFACT_BAD.sub("-", name)[:120] or "artifact"
    candidate, n = base, 1
    while candidate in used:
        n += 1
        candidate = f"{base}-{n}"
    used.add(candidate)
    return candidate


_SETTINGS = {"x_disable_stats": True, "x_disable_meta": True, "x_disable_machine_info": True,
             "x_save_requirements": False, "console": "off", "save_code": False, "disable_git": True,
             "silent": True, "mode": "offline"}


def _settings(wandb: Any) -> dict[str, Any]:
    """Quiet, offline, no system metrics or code capture (names the installed wandb knows)."""
    fields = getattr(wandb.Settings, "model_fields", None)
    return {k: v for k, v in _SETTINGS.items() if fields is None or k in fields}
