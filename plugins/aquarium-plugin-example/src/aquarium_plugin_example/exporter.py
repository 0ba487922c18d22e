"""The exporter: Aquarium runs out to a folder of JSON Lines and CSV files."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

from aquarium.interfaces import Exporter
from aquarium.interop import RunBundle, TransferResult

from .layout import RUNS_FILE, artifact_path, artifacts_dir, metrics_path, read_runs, upsert_run, write_metrics


class JsonlExporter(Exporter):
    """Writes each run as a line of ``runs.jsonl``, its points as a CSV file, its artifacts as files.

    Exporting a run again replaces its line and files (the run id is the key), so the
    export is idempotent; the line is written last, so a run whose export died halfway is
    not listed and is completed by the next export.
    """

    name = "jsonl"
    description = "JSON Lines (one run a line) and CSV (metric points) in a folder."
    target_help = "the folder to write (created if missing)"

    def cli_options(self) -> list[Any]:
        import click  # the CLI's library; imported only when the CLI asks

        return [click.Option(["--artifacts/--no-artifacts"], default=True, show_default=True,
                              help="Copy the runs' artifact files too.")]

    def check(self, to: str, **options: Any) -> None:
        """Fail before anything is written: ``to`` is a file, or its runs.jsonl has a bad line."""
        folder = Path(to)
        if folder.exists() and not folder.is_dir():
            raise NotADirectoryError(f"export target {to!r} is a file, not a folder")
        runs = folder / RUNS_FILE
        if runs.is_file():
            for _, entry in read_runs(runs):
                if isinstance(entry, ValueError):
                    raise ValueError(f"{entry}; fix or remove that line before exporting to {to!r}")

    def export_run(self, bundle: RunBundle, to: str, *, artifacts: bool = True, **options: Any) -> TransferResult:
        record, folder = bundle.record, Path(to)
        write_metrics(metrics_path(folder, record.id), bundle.history)
        shutil.rmtree(artifacts_dir(folder, record.id), ignore_errors=True)
        if artifacts:
            for name, path in bundle.artifact_files.items():
                dest = artifact_path(folder, record.id, name)
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, dest)
        else:
            record = copy.copy(record)  # the bundle is the caller's: change a copy
            record.artifacts = []
        upsert_run(folder / RUNS_FILE, record)  # last: the line says the run is complete
        return TransferResult(record.id, record.name, self.name, target_id=record.id, points=bundle.points,
                              artifacts=len(bundle.artifact_files) if artifacts else 0)

