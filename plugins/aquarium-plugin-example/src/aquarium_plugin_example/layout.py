"""The folder an export writes, and its two file formats.

```text
OUT/
  runs.jsonl                  one JSON object a line, one line a run: {"format", "run"}
  metrics/<run id>.csv        the run's metric points: key,step,value,timestamp
  artifacts/<run id>/<name>   the run's artifact files
```

``run`` is the typed :class:`aquarium.RunRecord` through the core converter (params, tags,
notes, status, times, source, summaries, artifact names with kind and metadata); the CSV
holds every point, floats written with ``repr`` so that they read back bit for bit.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO

from aquarium import serialization
from aquarium.model import MetricSeries, RunRecord

#: The runs file inside an export folder.
RUNS_FILE = "runs.jsonl"
#: The ``format`` of every line; a reader refuses lines of another format.
FORMAT = "aquarium-jsonl/1"
#: The CSV header of the metric files.
CSV_HEADER = ["key", "step", "value", "timestamp"]

_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,128}")


def metrics_path(folder: Path, run_id: str) -> Path:
    return folder / "metrics" / f"{run_id}.csv"


def artifacts_dir(folder: Path, run_id: str) -> Path:
    return folder / "artifacts" / run_id


def artifact_path(folder: Path, run_id: str, name: str) -> Path:
    """Where the artifact ``name`` of a run lives; a name that could leave the folder raises."""
    parts = name.split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"run {run_id}: refusing the artifact name {name!r} (absolute or climbing out)")
    return artifacts_dir(folder, run_id).joinpath(*parts)


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[IO[str]]:
    """Write a text file under a temporary name, then rename it: never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


# -- runs.jsonl ------------------------------------------------------------------------------

def run_line(record: RunRecord) -> str:
    """One line of runs.jsonl (no newline): the record through the core converter."""
    return serialization.dumps({"format": FORMAT, "run": record})


def parse_run_line(text: str, where: str) -> RunRecord:
    """The record of one line; ``where`` (``"runs.jsonl:3"``) starts every error message."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{where}: not valid JSON ({error})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("run"), dict):
        raise ValueError(f"{where}: not a run line of format {FORMAT!r} (an object with \"format\" and \"run\")")
    try:
        record = serialization.from_dict(data["run"], RunRecord)
    except Exception as error:
        raise ValueError(f"{where}: not a valid run record ({type(error).__name__}: {error})") from None
    if not _SAFE_ID.fullmatch(record.id):
        raise ValueError(f"{where}: refusing the run id {record.id!r} (letters, digits, '-' and '_' only)")
    return record


def _lines(path: Path) -> list[str]:
    """The lines of a JSON Lines file: split on "\\n" alone, since JSON strings may hold U+0085 or
    U+2028, which ``str.splitlines`` would also split on."""
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    return [line.rstrip("\r") for line in text.split("\n")[:-1 if text.endswith("\n") else None]]


def read_runs(path: Path) -> list[tuple[int, RunRecord | ValueError]]:
    """``(line number, record or the error of that line)`` for every non-blank line."""
    lines = _lines(path)
    out: list[tuple[int, RunRecord | ValueError]] = []
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            out.append((number, parse_run_line(text, f"{path}:{number}")))
        except ValueError as error:
            out.append((number, error))
    return out


def upsert_run(path: Path, record: RunRecord) -> None:
    """Replace the line of ``record.id`` in runs.jsonl, or append one; rewrites the file atomically."""
    lines = _lines(path) if path.exists() else []
    new, replaced, out = run_line(record), False, []
    for number, text in enumerate(lines, start=1):
        # Cheap test first: only lines mentioning the id are parsed.
        if record.id in text and parse_run_line(text, f"{path}:{number}").id == record.id:
            if not replaced:
                out.append(new)
                replaced = True
            continue
        out.append(text)
    if not replaced:
        out.append(new)
    with atomic_write(path) as f:
        f.write("\n".join(out) + "\n")


# -- metrics/<run id>.csv --------------------------------------------------------------------

def write_metrics(path: Path, history: Mapping[str, MetricSeries]) -> None:
    """Every point, key by key in logging order; ``repr`` keeps float64 exact (``nan``, ``inf``)."""
    with atomic_write(path) as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(CSV_HEADER)
        for key, series in history.items():
            for step, value, stamp in zip(series.steps.tolist(), series.values.tolist(),
                                          series.timestamps.tolist()):
                writer.writerow([key, step, repr(value), repr(stamp)])


def read_metrics(path: Path) -> dict[str, MetricSeries]:
    """Inverse of :func:`write_metrics`; a bad row raises ``ValueError`` naming ``file:line``."""
    columns: dict[str, tuple[list[int], list[float], list[float]]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header != CSV_HEADER:
            raise ValueError(f"{path}:1: expected the header {','.join(CSV_HEADER)!r}, found {header!r}")
        for row in reader:
            where = f"{path}:{reader.line_num}"
            if len(row) != len(CSV_HEADER):
                raise ValueError(f"{where}: expected {len(CSV_HEADER)} columns ({','.join(CSV_HEADER)}), "
                                 f"found {len(row)}")
            key, step, value, stamp = row
            try:
                point = (int(step), float(value), float(stamp))
            except ValueError as error:
                raise ValueError(f"{where}: metric {key!r}: {error}") from None
            steps, values, stamps = columns.setdefault(key, ([], [], []))
            steps.append(point[0])
            values.append(point[1])
            stamps.append(point[2])
    return {key: MetricSeries(key, *cols) for key, cols in columns.items()}

