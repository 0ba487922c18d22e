"""Moving runs between Aquarium and other trackers: ``export()`` and ``import_runs()``.

Exporters and importers are plugins (see :class:`aquarium.interfaces.Exporter` and
``Importer``); this module is the one driver they share: selection, progress, per-run error
isolation, the final report, and de-duplication of imports.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import attrs
import click

from . import plugins, serialization
from .errors import AquariumError
from .interfaces import Exporter, Importer, Store
from .model import Artifact, MetricSeries, RunRecord
from .selection import resolve_runs
from .stores import open_store

#: Tag on an imported run naming where it came from: ``"<importer>:<source id>"``.
SOURCE_TAG = "aquarium.source"
#: Tag on an imported run while its import is incomplete; ``"partial"`` runs are redone.
IMPORT_STATE_TAG = "aquarium.import"
#: Prefix of tags recording where a run was exported: ``aquarium.exported.<target>``.
EXPORTED_TAG = "aquarium.exported."
#: Points per ``write_batch`` when importing.
IMPORT_BATCH = 100_000


@attrs.define
class SourceRun:
    """A run found at an import source, before reading it."""

    source_id: str
    name: str
    extra: dict[str, Any] = attrs.field(factory=dict)


@attrs.define
class RunBundle:
    """Everything about one run that moves between trackers.

    ``artifact_files`` maps each artifact's name to a local file holding its bytes.
    """

    record: RunRecord
    history: dict[str, MetricSeries]
    artifact_files: dict[str, str] = attrs.field(factory=dict)

    @property
    def points(self) -> int:
        return sum(len(s) for s in self.history.values())


#: Where every exporter puts the typed record of a run in its target.
RUN_JSON = "aquarium/run.json"
RUN_JSON_FORMAT = 1


def dump_run_json(bundle: RunBundle) -> str:
    """The typed ``aquarium/run.json`` of a run (record and full history, through the converter).

    Importers read it first when present, so what a target's own data model cannot hold
    (±inf, float64 values, exact timestamps, repeated steps) still comes back exactly.
    """
    return serialization.dumps({"format": RUN_JSON_FORMAT, "record": bundle.record,
                                "history": list(bundle.history.values())})


def load_run_json(text: str | bytes) -> tuple[RunRecord, dict[str, MetricSeries]]:
    """Inverse of :func:`dump_run_json`."""
    data = json.loads(text)
    if not isinstance(data, dict) or data.get("format") != RUN_JSON_FORMAT:
        raise ValueError(f"not an {RUN_JSON} of format {RUN_JSON_FORMAT}")
    record = serialization.from_dict(data["record"], RunRecord)
    series = [serialization.from_dict(s, MetricSeries) for s in data["history"]]
    return record, {s.key: s for s in series}


@attrs.define
class TransferResult:
    """One row of the report of an export or import."""

    run_id: str | None
    run_name: str
    target: str
    target_id: str | None = None
    points: int = 0
    artifacts: int = 0
    status: str = "ok"  # ok | exists | failed
    error: str | None = None


def exporters() -> dict[str, Exporter]:
    """Installed exporters by name."""
    return plugins.registered("aquarium_register_exporters")


def importers() -> dict[str, Importer]:
    """Installed importers by name."""
    return plugins.registered("aquarium_register_importers")


def get_exporter(name: str) -> Exporter:
    found = exporters()
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise AquariumError(f"no exporter named {name!r} (installed: {known}); "
                            f"try `pip install aquarium-{name}`")
    return found[name]


def get_importer(name: str) -> Importer:
    found = importers()
    if name not in found:
        known = ", ".join(sorted(found)) or "none"
        raise AquariumError(f"no importer named {name!r} (installed: {known}); "
                            f"try `pip install aquarium-{name}`")
    return found[name]


@contextmanager
def _progress(items: list[Any], show: bool | None, label: str) -> Iterator[Iterable[Any]]:
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        yield items
        return
    with click.progressbar(items, label=label, file=sys.stderr, show_pos=True) as bar:
        yield bar


def load_bundle(store: Store, run_id: str, folder: str) -> RunBundle:
    """Read a run with its full history; artifacts not on local disk are copied into ``folder``."""
    record = store.get_run(run_id)
    files = {}
    for artifact in record.artifacts:
        if artifact.uri and os.path.isfile(artifact.uri):
            files[artifact.name] = artifact.uri
        else:
            path = os.path.join(folder, *artifact.name.split("/"))
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(store.read_artifact(run_id, artifact.name))
            files[artifact.name] = path
    return RunBundle(record, store.history(run_id), files)


def local_path(location: str) -> str | None:
    """The local file or folder a target location names (a path, ``file:`` or ``sqlite:`` URI),
    or None for anything else (a server, a bucket)."""
    for prefix in ("sqlite:///", "file://", "file:"):
        if location.startswith(prefix):
            return location[len(prefix):] or None
    return None if "://" in location else location


def refuse_inside_store(store: Store, destination: str) -> None:
    """An export must not write into the files of the store it reads (the store's folder or its
    artifact root): ``AquariumError`` naming both."""
    target = local_path(str(destination))
    if target is None:
        return
    target = os.path.realpath(os.path.expanduser(target))
    path = getattr(store, "path", None)
    artifacts = getattr(getattr(store, "artifacts", None), "root", None)
    folders = [os.path.dirname(path) if isinstance(path, str) else None,
               artifacts if isinstance(artifacts, str) and "://" not in artifacts else None]
    for folder in filter(None, folders):
        folder = os.path.realpath(folder)
        if os.path.commonpath([folder, target]) == folder:
            raise AquariumError(f"export target {destination!r} is inside the store's own folder {folder!r}; "
                                f"export somewhere outside it")


def export(runs: Any, target: str | Mapping[str, str], *, to: str | None = None, store: Store | str | None = None,
           progress: bool | None = None, **options: Any) -> list[TransferResult]:
    """Export runs (ids, run objects or a query string) to ``target`` (``"mlflow"``, ...) at ``to``,
    or to several targets at once: ``export(runs, {"mlflow": uri, "tensorboard": "logs/"})``.

    Every target is checked before anything is written. Each run is read once and written to
    every target. Idempotent: exporting again updates the same target runs. A run that fails
    on a target is reported in its row (status ``failed``) and the others continue.
    """
    if isinstance(target, str):
        if to is None:
            raise TypeError(f"export to {target!r} needs to=")
        targets = {target: to}
    else:
        if to is not None:
            raise TypeError("give either target and to=, or a mapping of targets to destinations")
        targets = dict(target)
    exporters = {name: get_exporter(name) for name in targets}
    source = open_store(store)
    for destination in targets.values():
        refuse_inside_store(source, destination)
    records = resolve_runs(runs, source)
    for name, exporter in exporters.items():
        exporter.check(targets[name], **options)
    results = []
    with _progress(records, progress, f"Exporting to {', '.join(targets)}") as bar:
        for record in bar:
            with tempfile.TemporaryDirectory(prefix="aquarium-export-") as folder:
                try:
                    bundle = load_bundle(source, record.id, folder)
                except Exception as error:
                    results += [TransferResult(record.id, record.name, name, status="failed",
                                               error=f"{type(error).__name__}: {error}") for name in targets]
                    continue
                for name, exporter in exporters.items():
                    results.append(_export_one(source, exporter, name, bundle, targets[name], options))
    return results


def _export_one(source: Store, exporter: Exporter, name: str, bundle: RunBundle, to: str,
                options: Mapping[str, Any]) -> TransferResult:
    record = bundle.record
    try:
        result = attrs.evolve(exporter.export_run(bundle, to, **options), target=name)
        if result.target_id:
            source.update_run(record.id, tags={EXPORTED_TAG + name: result.target_id})
    except Exception as error:
        result = TransferResult(record.id, record.name, name, status="failed", error=f"{type(error).__name__}: {error}")
    return result


def import_runs(source_kind: str, source: str, *, store: Store | str | None = None,
                experiment: str | None = None, progress: bool | None = None,
                **options: Any) -> list[TransferResult]:
    """Import every run found at ``source`` with the importer ``source_kind``.

    A run imported before (same importer and source id) is not imported again (status
    ``exists``); one whose import died halfway is replaced.
    """
    importer = get_importer(source_kind)
    target = open_store(store)
    found = importer.discover(source, **options)
    known = _imported(target)
    results = []
    with _progress(found, progress, f"Importing from {source_kind}") as bar:
        for item in bar:
            key = f"{source_kind}:{item.source_id}"
            previous = known.get(key)
            if previous is not None and previous.tags.get(IMPORT_STATE_TAG) == "complete":
                results.append(TransferResult(previous.id, previous.name, source_kind, item.source_id,
                                              status="exists"))
                continue
            try:
                if previous is not None:
                    target.delete_run(previous.id)
                bundle = importer.read(item, source, **options)
                if experiment is not None:
                    bundle.record.experiment = experiment
                run_id = write_bundle(target, bundle, key)
                results.append(TransferResult(run_id, bundle.record.name, source_kind, item.source_id,
                                              bundle.points, len(bundle.artifact_files)))
            except Exception as error:
                results.append(TransferResult(None, item.name, source_kind, item.source_id, status="failed",
                                              error=f"{type(error).__name__}: {error}"))
    return results


def _imported(store: Store) -> dict[str, RunRecord]:
    if hasattr(store, "search"):
        runs = store.search(f"tags.`{SOURCE_TAG}` is not null")
    else:
        runs = [r for r in store.list_runs() if SOURCE_TAG in r.tags]
    return {r.tags[SOURCE_TAG]: r for r in runs}


def write_bundle(store: Store, bundle: RunBundle, source_key: str) -> str:
    """Write an imported run through the store interface, tagged with where it came from.

    The run is tagged ``partial`` until its last artifact is stored, so an import that died
    halfway is redone. Returns the run id (see :func:`copy_bundle`).
    """
    tags = {**bundle.record.tags, SOURCE_TAG: source_key, IMPORT_STATE_TAG: "partial"}
    run_id = copy_bundle(store, attrs.evolve(bundle, record=attrs.evolve(bundle.record, tags=tags)),
                         writer=f"import:{source_key}")
    store.update_run(run_id, tags={IMPORT_STATE_TAG: "complete"})
    return run_id


def copy_bundle(store: Store, bundle: RunBundle, *, writer: str) -> str:
    """Create the bundle's run in ``store`` with its full history and artifact files.

    The bundle's run id is kept when the store has no run with it (a round trip or a
    migration gives the original id back); otherwise a new id is made.
    """
    from .errors import RunNotFoundError
    from .ids import new_run_id

    record = attrs.evolve(bundle.record, summaries={}, artifacts=[])
    if record.status == "crashed":  # as read; stored, it is a running run with a stale heartbeat
        record.status = "running"
    try:
        store.get_run(record.id)
        record.id = new_run_id()
    except RunNotFoundError:
        pass
    store.create_run(record)
    seq = 0
    for series in bundle.history.values():
        for start in range(0, len(series), IMPORT_BATCH):
            part = MetricSeries(series.key, series.steps[start:start + IMPORT_BATCH],
                                series.values[start:start + IMPORT_BATCH],
                                series.timestamps[start:start + IMPORT_BATCH])
            store.write_batch(record.id, writer, seq, {series.key: part})
            seq += 1
    by_name = {a.name: a for a in bundle.record.artifacts}
    for name, path in bundle.artifact_files.items():
        meta = by_name.get(name) or Artifact(name, 0, "")
        store.put_artifact(record.id, Artifact(name, 0, "", meta.kind, dict(meta.metadata), meta.created), path)
    return record.id
