"""The importer: runs back from a folder the exporter wrote (or any folder of the same layout)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aquarium.interfaces import Importer
from aquarium.interop import RunBundle, SourceRun

from .layout import RUNS_FILE, artifact_path, metrics_path, read_metrics, read_runs


class JsonlImporter(Importer):
    """One Aquarium run per line of ``runs.jsonl``; its source id is the exported run's id.

    A bad line fails that run alone (its error names ``runs.jsonl:LINE``) and the other
    lines still import. When two lines carry the same run id, the later one wins.
    """

    name = "jsonl"
    description = "Folders written by `aquarium export jsonl`."
    source_help = "a folder holding runs.jsonl"

    def discover(self, source: str, **options: Any) -> list[SourceRun]:
        folder = Path(source)
        if not folder.is_dir():
            raise FileNotFoundError(f"import source {source!r}: no such folder")
        runs = folder / RUNS_FILE
        if not runs.is_file():
            raise FileNotFoundError(f"import source {source!r} holds no {RUNS_FILE} (write one with "
                                    f"`aquarium export jsonl ... --to {source}`)")
        found: dict[str, SourceRun] = {}
        for number, entry in read_runs(runs):
            if isinstance(entry, ValueError):  # reported by read(), as that run's failure
                found[f"{RUNS_FILE}:{number}"] = SourceRun(f"{RUNS_FILE}:{number}", f"(line {number})",
                                                           {"error": str(entry)})
            else:
                found.pop(entry.id, None)  # a later line replaces an earlier one, keeping file order
                found[entry.id] = SourceRun(entry.id, entry.name, {"record": entry, "line": number})
        return list(found.values())

    def read(self, item: SourceRun, source: str, **options: Any) -> RunBundle:
        if "error" in item.extra:
            raise ValueError(item.extra["error"])
        folder, record = Path(source), item.extra["record"]
        csv_path = metrics_path(folder, record.id)
        if not csv_path.is_file():
            raise FileNotFoundError(f"{csv_path}: no such file (the metric points of run {record.id}, "
                                    f"{RUNS_FILE}:{item.extra['line']})")
        files = {}
        for artifact in record.artifacts:
            path = artifact_path(folder, record.id, artifact.name)
            if not path.is_file():
                raise FileNotFoundError(f"{path}: no such file (artifact {artifact.name!r} of run {record.id})")
            files[artifact.name] = str(path)
        return RunBundle(record, read_metrics(csv_path), files)
