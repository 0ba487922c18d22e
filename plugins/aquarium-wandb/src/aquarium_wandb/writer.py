"""Writing an offline run's ``.wandb`` file directly, in W&B's own record format.

W&B's client hands every ``run.log`` to its ``wandb-core`` service over a socket, one row at a
time, and ``wandb-core`` appends the records to the run's transaction log. For a run whose
whole history is known up front this writes the same records straight into the file:

- the framing of :mod:`.records` (LevelDB log blocks, CRC-32 per chunk), which is what
  ``wandb-core`` writes and reads (``wandb sync``, ``wandb leet inspect``);
- records of ``wandb/proto/wandb_internal.proto``, in the order the client path produces
  them: header, run (config, tags, group, notes), one ``metric`` record per
  ``define_metric``, the history rows, the summary (the last value of each key, the summary
  W&B derives from the rows, then our ``aquarium/*`` keys), one ``artifact`` record per
  file, the ``files`` record of ``aquarium/run.json``, exit;
- config and summary values encoded by W&B's own JSON helpers, artifact records built by
  W&B's own ``Artifact`` class and record builders, history numbers formatted as
  ``wandb-core`` formats them (Go's shortest ``%g``: ``1e-07``, ``1.7e+09``, ``-0``, ``NaN``).

Left out: ``telemetry`` records (which client features a process used), and the summary
record ``wandb-core`` repeats after every row (only the final summary counts; W&B's readers
fold the updates). The run's start time is the Aquarium run's, not the export's.

:func:`available` says whether the installed wandb has the pieces used here; the exporter
falls back to W&B's client otherwise.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from .records import BLOCK, CHUNK, FIRST, FULL, HEADER, LAST, MAGIC, MIDDLE

#: The oldest ``wandb-core`` that reads the records written here (what wandb 0.31's core writes).
MIN_CONSUMER = "0.70.0"


def available() -> bool:
    """Whether the installed wandb has the record builders this module borrows."""
    try:
        from wandb.sdk.interface.interface import InterfaceBase
        from wandb.util import json_dumps_safer, json_friendly  # noqa: F401
    except ImportError:
        return False
    return all(hasattr(InterfaceBase, n) for n in ("_make_artifact", "_make_artifact_manifest", "_make_config"))


class LogWriter:
    """Appends records to a new ``.wandb`` file with W&B's framing (see :mod:`.records`)."""

    def __init__(self, path: str) -> None:
        self._file = open(path, "wb")  # noqa: SIM115 - closed by close()
        self._file.write(HEADER.pack(*MAGIC))
        self._offset = HEADER.size  # position within the current block
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        parts, offset, first = self._parts, self._offset, True
        while True:
            left = BLOCK - offset
            if left < CHUNK.size:  # too small for a chunk header: zero padding
                if left:
                    parts.append(b"\0" * left)
                offset, left = 0, BLOCK
            piece = data[: left - CHUNK.size]
            data = data[len(piece):]
            kind = (FULL if not data else FIRST) if first else (LAST if not data else MIDDLE)
            parts.append(CHUNK.pack(zlib.crc32(piece, zlib.crc32(bytes((kind,)))), len(piece), kind))
            parts.append(piece)
            offset += CHUNK.size + len(piece)
            first = False
            if not data:
                break
        self._offset = offset
        if len(parts) > 4096:
            self._file.write(b"".join(parts))
            parts.clear()

    def close(self) -> None:
        self._file.write(b"".join(self._parts))
        self._parts.clear()
        self._file.close()


def go_float(x: float) -> str:
    """``x`` as ``wandb-core`` writes a float in a history row: Go's shortest ``%g`` (exponent
    from 1e+06 and below 1e-04), ``NaN``, ``Infinity``, ``-Infinity``; exact like ``repr``."""
    if x != x:
        return "NaN"
    if x in (math.inf, -math.inf):
        return "Infinity" if x > 0 else "-Infinity"
    text = repr(x)
    if "e" in text:  # repr uses an exponent from 1e+16 and below 1e-04, as Go does there
        return text
    if text.endswith(".0"):
        text = text[:-2]
    sign, body = ("-", text[1:]) if text[0] == "-" else ("", text)
    whole, _, frac = body.partition(".")
    if len(whole) <= 6 or whole == "0":
        return text
    digits = (whole + frac).rstrip("0")
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return f"{sign}{mantissa}e+{len(whole) - 1:02d}"


def _encode(value: Any) -> str:
    """A config or summary value as W&B's client encodes it."""
    from wandb.util import json_dumps_safer, json_friendly

    return json_dumps_safer(json_friendly(value)[0])


class RunFileWriter:
    """One offline run's ``.wandb`` file, record by record, in the client path's order."""

    def __init__(self, path: str, run_id: str) -> None:
        from wandb.proto import wandb_internal_pb2 as pb

        self.pb, self.run_id = pb, run_id
        self._log = LogWriter(path)
        self._num = 0

    def _put(self, record: Any, stream: bool = True) -> None:
        self._num += 1
        record.num = self._num
        if stream:
            record._info.stream_id = self.run_id
        self._log.write(record.SerializeToString())

    def header(self, producer: str) -> None:
        record = self.pb.Record()
        record.header.version_info.producer = producer
        record.header.version_info.min_consumer = MIN_CONSUMER
        self._put(record)

    def run(self, *, project: str, name: str, group: str | None, notes: str | None, tags: list[str],
            config: dict[str, Any], host: str | None, start_time: float | None) -> None:
        record = self.pb.Record()
        run = record.run
        run.run_id, run.project, run.display_name = self.run_id, project, name
        if group:
            run.run_group = group
        if notes:
            run.notes = notes
        run.tags.extend(tags)
        if host:
            run.host = host
        if start_time is not None and math.isfinite(start_time):
            run.start_time.FromNanoseconds(round(start_time * 1e9))
        for key, value in {"_wandb": {}, **config}.items():
            run.config.update.add(key=key, value_json=_encode(value))
        self._put(record)

    def define_metric(self, name: str, step_metric: str | None = None) -> None:
        record = self.pb.Record()
        record.metric.name = name
        if step_metric:
            record.metric.step_metric = step_metric
        record.metric.options.defined = True
        self._put(record)

    def history(self, rows: Iterable[tuple[list[str], list[str]]]) -> dict[str, str]:
        """Rows of (keys, value_json texts), ``_step`` numbered from 0 in order. Returns the
        summary W&B derives from them: each key's last value_json."""
        Record = self.pb.Record
        write = self._log.write
        num = self._num
        last: dict[str, str] = {}
        for step, (keys, texts) in enumerate(rows):
            last.update(zip(keys, texts))
            last["_step"] = str(step)
            num += 1
            record = Record(num=num)
            history = record.history
            history.step.num = step
            add = history.item.add
            for key, text in zip(keys, texts):
                add(nested_key=(key,), value_json=text)
            add(nested_key=("_step",), value_json=str(step))
            write(record.SerializeToString())
        self._num = num
        return last

    def summary(self, values: dict[str, Any], *, raw: bool = False, nested: bool = True) -> None:
        """A summary update; ``raw``: the values are value_json texts already."""
        record = self.pb.Record()
        for key, value in values.items():
            item = record.summary.update.add(value_json=value if raw else _encode(value))
            if nested:
                item.nested_key.append(key)
            else:
                item.key = key
        self._put(record, stream=not nested)

    def artifact(self, artifact: Any, project: str) -> None:
        from wandb.sdk.interface.interface import InterfaceBase

        record = self.pb.Record()
        # W&B's own builders of the artifact record and its manifest (what run.log_artifact sends)
        record.artifact.CopyFrom(InterfaceBase._make_artifact(_ArtifactRecordMaker, artifact))
        a = record.artifact
        a.run_id, a.project = self.run_id, project
        a.user_created = False
        a.use_after_commit = False
        a.finalize = True
        a.aliases.append("latest")
        self._put(record)

    def files(self, paths: list[str]) -> None:
        record = self.pb.Record()
        for path in paths:
            record.files.files.add(path=path)
        self._put(record)

    def exit(self, exit_code: int) -> None:
        """The exit record (no runtime: ``wandb-core`` leaves it 0 offline; the summary keeps the times)."""
        record = self.pb.Record()
        record.exit.exit_code = exit_code
        self._put(record)

    def close(self) -> None:
        self._log.close()


class _ArtifactRecordMaker:
    """Borrows W&B's record builders (they use ``self`` only to call each other)."""

    @classmethod
    def _make_artifact_manifest(cls, manifest: Any, obj: Any = None) -> Any:
        from wandb.sdk.interface.interface import InterfaceBase

        return InterfaceBase._make_artifact_manifest(cls, manifest, obj=obj)

    @classmethod
    def _write_artifact_manifest_file(cls, manifest: Any) -> Any:
        from wandb.sdk.interface.interface import InterfaceBase

        return InterfaceBase._write_artifact_manifest_file(cls, manifest)


def history_texts(rows: Iterator[dict[str, Any]], started: float | None) -> Iterator[tuple[list[str], list[str]]]:
    """Exporter rows (``{key: value, aquarium/step: s, _timestamp: t}``) as value_json texts,
    with ``_runtime`` = seconds since the run started."""
    fmt = go_float
    for row in rows:
        keys = list(row)
        texts = []
        for value in row.values():
            texts.append(str(value) if type(value) is int else fmt(value))
        ts = row.get("_timestamp")
        if ts is not None and started is not None:
            keys.append("_runtime")
            runtime = ts - started
            texts.append(fmt(runtime if runtime > 0 else 0.0))
        yield keys, texts

