"""W&B run files → Aquarium runs: any folder holding ``run-<id>.wandb`` files (offline runs,
and the transaction logs online runs keep too), read through W&B's own record format.

A run written by the Aquarium exporter carries ``files/aquarium/run.json``, read first: it
gives the run back exactly. Any other run is rebuilt from its records: the run record
(name, project, group, notes, tags, start time, host, git commit), config (params),
history (steps from ``_step``, timestamps from ``_timestamp``; our own exports' rows from
``aquarium/step``), summary (numbers never logged to the history become one-point metrics
at the run's last step), exit (status, end time) and logged artifacts. A run resumed into
several folders (same run id) is read as one, its segments in order.
"""

from __future__ import annotations

import math
import os
from typing import Any

import click

from aquarium import interop
from aquarium.ids import new_run_id
from aquarium.interfaces import Importer
from aquarium.interop import RunBundle, SourceRun
from aquarium.model import Artifact, MetricSeries, RunRecord, SourceInfo
from aquarium.validation import artifact_name, check_key

from .records import (
    ARTIFACTS_DIR,
    ENDED_KEY,
    ERROR_KEY,
    EXPERIMENT_KEY,
    KILLED_CODES,
    RUN_ID_KEY,
    STARTED_KEY,
    STATUS_KEY,
    SUMMARY_PREFIX,
    TAGS_KEY,
    ArtifactFile,
    RunFile,
    find_run_files,
    read_run_file,
    read_run_header,
    require_wandb,
)

#: Tag listing history keys whose values were not numbers (images, tables, text...).
SKIPPED_TAG = "wandb.not_imported"
#: Tag listing artifact files whose bytes were no longer on disk.
MISSING_TAG = "wandb.missing_artifacts"
_INTERNAL = ("_wandb", "_step", "_timestamp", "_runtime")


def status_of(exit_code: int | None) -> str:
    if exit_code is None:
        return "crashed"  # no exit record: the process died (or is still writing)
    if exit_code == 0:
        return "completed"
    return "killed" if exit_code in KILLED_CODES else "failed"


class WandbImporter(Importer):
    name = "wandb"
    description = "Import W&B offline run folders (.wandb files)."
    source_help = "A folder holding W&B runs: a WANDB_DIR, its wandb/ folder, one run folder or a .wandb file."

    def cli_options(self) -> list[click.Parameter]:
        return [click.Option(["--source-experiment", "source_experiment"], default=None,
                             help="Import only the runs of this W&B project.")]

    def discover(self, source: str, source_experiment: str | None = None, **options: Any) -> list[SourceRun]:
        require_wandb()
        segments: dict[str, list[RunFile]] = {}
        for path in find_run_files(source):
            header = read_run_header(path)
            segments.setdefault(header.run_id, []).append(header)
        found = []
        for run_id, parts in segments.items():
            parts.sort(key=lambda p: (p.start_time or 0.0, p.path))
            last = parts[-1]
            if source_experiment is not None and source_experiment not in {p.project for p in parts}:
                continue
            found.append(SourceRun(run_id, last.display_name or run_id,
                                   {"files": [p.path for p in parts], "project": last.project}))
        found.sort(key=lambda s: s.source_id)
        return found

    def read(self, item: SourceRun, source: str, **options: Any) -> RunBundle:
        require_wandb()
        paths = item.extra.get("files")
        if not paths:
            (match,) = [s for s in self.discover(source) if s.source_id == item.source_id]
            paths = match.extra["files"]
        run_json = os.path.join(os.path.dirname(paths[-1]), "files", *interop.RUN_JSON.split("/"))
        if os.path.isfile(run_json):
            return self._read_ours(run_json, paths)
        return self._read_native([read_run_file(p) for p in paths])

    # -- runs the exporter wrote ------------------------------------------------------------
    def _read_ours(self, run_json: str, paths: list[str]) -> RunBundle:
        with open(run_json, encoding="utf-8") as f:
            record, history = interop.load_run_json(f.read())
        folder = os.path.dirname(paths[-1])
        files, missing = {}, []
        logged: dict[str, ArtifactFile] | None = None
        for artifact in record.artifacts:
            path = os.path.join(folder, ARTIFACTS_DIR, *artifact.name.split("/"))
            if not os.path.isfile(path):  # not where we put it: ask the run's artifact records
                if logged is None:
                    logged = {a.path: a for a in read_run_file(paths[-1], history=False).artifacts}
                entry = logged.get(artifact.name)
                path = entry.local_path if entry else ""
            if path and os.path.isfile(path):
                files[artifact.name] = path
            else:
                missing.append(artifact.name)
        if missing:
            record.artifacts = [a for a in record.artifacts if a.name not in missing]
            record.tags[MISSING_TAG] = ", ".join(missing)
        return RunBundle(record, history, files)

    # -- any other run ------------------------------------------------------------------------
    def _read_native(self, parts: list[RunFile]) -> RunBundle:
        last = parts[-1]
        config: dict[str, Any] = {}
        summary: dict[str, Any] = {}
        columns: dict[str, tuple[list[int], list[float], list[float]]] = {}
        skipped: set[str] = set()
        for part in parts:
            config.update(part.config)
            summary.update(part.summary)
            skipped |= part.skipped_keys
            for key, (steps, values, stamps) in part.history.items():
                column = columns.setdefault(key, ([], [], []))
                column[0].extend(steps)
                column[1].extend(values)
                column[2].extend(stamps)
        starts = [p.start_time for p in parts if p.start_time is not None]
        started = min(starts) if starts else None
        last_step = max((p.last_step for p in parts if p.last_step is not None), default=None)
        last_ts = next((p.last_timestamp for p in reversed(parts) if p.last_timestamp is not None), None)
        ended = None
        if last.exit_code is not None:
            candidates = [t for t in (last_ts, (last.start_time or 0.0) + (last.exit_runtime or 0.0)
                                      if last.start_time is not None else None) if t is not None]
            ended = max(candidates) if candidates else None

        history = {key: MetricSeries(key, *column) for key, column in columns.items() if _good_key(key)}
        for key, value in _summary_numbers(summary).items():
            if key not in history and key not in skipped and _good_key(key):
                when = last_ts if last_ts is not None else ended if ended is not None else started or 0.0
                history[key] = MetricSeries(key, [last_step or 0], [value], [when])

        tags = {t: "" for t in last.tags if _good_key(t)}
        stored_tags = summary.get(TAGS_KEY)
        if isinstance(stored_tags, dict):  # written by the exporter (run.json missing)
            tags = {str(k): str(v) for k, v in stored_tags.items() if _good_key(str(k))}
        if skipped:
            tags[SKIPPED_TAG] = ", ".join(sorted(skipped))

        status = summary[STATUS_KEY] if isinstance(summary.get(STATUS_KEY), str) else status_of(last.exit_code)
        if STATUS_KEY in summary:  # our export: W&B's start and exit time the export, not the run
            started, ended = _number(summary.get(STARTED_KEY), None), _number(summary.get(ENDED_KEY), None)
        # Aquarium stores a crashed run as running with a stale heartbeat. With no exit record
        # the last sign of life is the file's last write: such a run reads as running while W&B
        # may still be writing it, and as crashed once that is stale.
        heartbeat = None
        if last.exit_code is None:
            heartbeat = max(os.path.getmtime(last.path), last_ts or 0.0)
        elif status in ("crashed", "running"):  # exported so; the original's heartbeat is in run.json only
            heartbeat = last_ts if last_ts is not None else started or 0.0
        created = os.path.getmtime(parts[0].path) if started is None else started
        run_id = summary.get(RUN_ID_KEY)
        experiment = summary.get(EXPERIMENT_KEY)
        record = RunRecord(
            id=run_id if isinstance(run_id, str) and run_id else new_run_id(),
            name=last.display_name or last.run_id,
            experiment=experiment if isinstance(experiment, str) and experiment else last.project or "default",
            group=last.group or None, status=status, created=created,
            started=started, ended=ended, heartbeat=heartbeat, params=_params(config), tags=tags, notes=last.notes,
            error=summary.get(ERROR_KEY) if isinstance(summary.get(ERROR_KEY), str) else None,
            source=SourceInfo(git_commit=last.git_commit or None, host=last.host or None)
            if (last.git_commit or last.host) else None,
        )

        for segment, part in enumerate(parts):
            for a in part.artifacts:
                a.segment = segment
        files, artifacts, missing = _artifacts([a for p in parts for a in p.artifacts], last.folder)
        record.artifacts = artifacts
        if missing:
            record.tags[MISSING_TAG] = ", ".join(missing)
        return RunBundle(record, history, files)


def _good_key(key: str) -> bool:
    try:
        check_key(key)
    except ValueError:
        return False
    return True


def _number(value: Any, default: float | None) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return default


def _summary_numbers(summary: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Numeric summary values by dotted key, leaving out W&B's own, ours and media/histograms."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        full = prefix + key
        if not prefix and (key in _INTERNAL or key.startswith(SUMMARY_PREFIX)):
            continue
        if isinstance(value, dict):
            if "_type" not in value:
                out.update(_summary_numbers(value, full + "."))
        elif isinstance(value, (int, float)):
            out[full] = float(value)
    return out


def _params(config: dict[str, Any]) -> dict[str, Any]:
    """W&B config as Aquarium params: ``_wandb`` dropped, non-finite floats as text."""
    def plain(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items() if isinstance(k, str) and _good_key(k)}
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, float) and not math.isfinite(value):
            return repr(value)
        return value

    return plain({k: v for k, v in config.items() if k != "_wandb"})


def _artifacts(entries: list[ArtifactFile], folder: str) -> tuple[dict[str, str], list[Artifact], list[str]]:
    """Aquarium artifacts for the files of logged W&B artifacts.

    A one-file artifact is named by its file's path, a larger one ``<artifact>/<path>``. When a
    name comes again (an artifact logged once per epoch), the last logging keeps it and the
    earlier ones become ``<artifact>/v<n>/<path>``, ``n`` counting the loggings of that artifact.
    """
    logged: dict[tuple[int, int], list[ArtifactFile]] = {}
    for e in entries:
        logged.setdefault((e.segment, e.record), []).append(e)
    versions: dict[str, int] = {}
    names: list[tuple[str, str, ArtifactFile]] = []  # (name, name if not the last, entry)
    for files in logged.values():
        artifact = files[0].artifact
        version = versions.get(artifact, 0)
        versions[artifact] = version + 1
        for e in files:
            base = e.path if len(files) == 1 else f"{artifact}/{e.path}"
            names.append((base, f"{artifact}/v{version}/{e.path}", e))
    last = {base: i for i, (base, _, _) in enumerate(names)}
    chosen = {(base if last[base] == i else earlier): e for i, (base, earlier, e) in enumerate(names)}
    files, artifacts, missing = {}, [], []
    for name, e in chosen.items():
        try:
            name = artifact_name(name)
        except ValueError:
            missing.append(name)
            continue
        path = e.local_path
        if not (path and os.path.isfile(path)):  # the copy the exporter keeps in the run folder
            path = os.path.join(folder, ARTIFACTS_DIR, *e.path.split("/"))
        if not os.path.isfile(path):  # e.g. W&B's staging copy, removed after `wandb sync`
            missing.append(name)
            continue
        metadata = dict(e.metadata)
        if e.type not in ("model", "file"):
            metadata.setdefault("wandb.type", e.type)
        files[name] = path
        artifacts.append(Artifact(name, e.size, "", "model" if e.type == "model" else "file", metadata))
    return files, artifacts, missing
