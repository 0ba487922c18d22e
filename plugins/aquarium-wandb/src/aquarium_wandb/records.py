"""Reading W&B run files (``run-<id>.wandb``) without a server, and the names we use in them.

A ``.wandb`` file is W&B's transaction log of one run: every record the client sent to
``wandb-core`` (run, config, history rows, summary, artifacts, files, exit), as protobuf
messages of ``wandb/proto/wandb_internal.proto``. The framing is LevelDB's log format:

- a 7-byte header: ``b":W&B"``, u16 ``0xBEE1``, u8 version ``0``;
- then blocks of 32,768 bytes (the header counts in the first); each block holds chunks of
  ``u32 crc32, u16 length, u8 type`` + payload, where type 1 is a whole record and 2, 3, 4
  are the first, middle and last pieces of one split across blocks; a block's last < 7
  bytes, and zero chunk headers, are padding;
- the checksum is ``zlib.crc32(payload, zlib.crc32(bytes([type])))`` (not masked).

Values in history, summary and config items are JSON text. ``wandb-core`` writes history
keys as ``nested_key`` (one element per level of a nested dict), older clients as ``key``.
Floats are written in their shortest exact form, so ``float(value_json)`` gives back the
float64 that was logged, including ``"NaN"``, ``"Infinity"`` and ``"-0"``.
"""

from __future__ import annotations

import json
import os
import re
import struct
import time
import zlib
from collections.abc import Iterator
from typing import Any

import attrs

from aquarium.errors import AquariumError

MAGIC = (b":W&B", 0xBEE1, 0)
HEADER = struct.Struct("<4sHB")
CHUNK = struct.Struct("<IHB")
BLOCK = 32768
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4

# -- what Aquarium writes into a W&B run ------------------------------------------------------
#: Our step metric: the x-axis of every metric (``define_metric``); W&B's ``_step`` is a row counter.
STEP_KEY = "aquarium/step"
#: Summary keys holding what W&B's run model has no field for (exact copies are in run.json).
SUMMARY_PREFIX = "aquarium/"
RUN_ID_KEY = "aquarium/run_id"
EXPERIMENT_KEY = "aquarium/experiment"
TAGS_KEY = "aquarium/tags"
STATUS_KEY = "aquarium/status"
STARTED_KEY = "aquarium/started"
ENDED_KEY = "aquarium/ended"
ERROR_KEY = "aquarium/error"
#: Where artifact files are copied inside an offline run folder (the manifest points at them).
ARTIFACTS_DIR = os.path.join("aquarium", "artifacts")
#: Keys W&B adds to every history row.
W_STEP, W_TIMESTAMP, W_RUNTIME = "_step", "_timestamp", "_runtime"
RESERVED_KEYS = frozenset({W_STEP, W_TIMESTAMP, W_RUNTIME, STEP_KEY, "_wandb"})

#: Exit codes we write per status, and how exit codes read back. 255 is W&B's own for Ctrl-C.
EXIT_CODES = {"completed": 0, "failed": 1, "killed": 255, "crashed": 1, "running": 1}
KILLED_CODES = frozenset({255, 130, 137, 143, -2, -9, -15})

_RUN_FILE = re.compile(r"^run-(.+)\.wandb$")


def require_wandb() -> Any:
    """The ``wandb`` module, or an error naming the package to install."""
    try:
        import wandb
        from wandb.proto import wandb_internal_pb2  # noqa: F401 - the record format
    except ImportError as error:
        raise AquariumError(
            "the W&B exporter and importer need the package `wandb` "
            f"(pip install wandb, or pip install aquarium-wandb): {error}") from error
    return wandb


def _pb() -> Any:
    require_wandb()
    from wandb.proto import wandb_internal_pb2

    return wandb_internal_pb2


def iter_records(path: str | os.PathLike, from_block: int = 0) -> Iterator[Any]:
    """Every ``wandb_internal_pb2.Record`` of a ``.wandb`` file, in order, read block by block.

    A file cut short (a run still writing, or killed mid-write) ends at its last whole
    record; a checksum that does not match raises ``ValueError`` naming the file and offset.
    ``from_block`` starts at that block instead (the pieces of a record begun before it are
    skipped): a cheap look at a file's last records.
    """
    pb = _pb()
    with open(path, "rb") as f:
        head = f.read(HEADER.size)
        if len(head) < HEADER.size or HEADER.unpack(head) != MAGIC:
            raise ValueError(f"{os.fspath(path)} is not a W&B run file (bad header)")
        pieces: list[bytes] | None = None
        if from_block > 0:
            f.seek(from_block * BLOCK)
            block = f.read(BLOCK)
            start, pos = from_block * BLOCK, 0
            pieces = None
        else:
            block = head + f.read(BLOCK - HEADER.size)
            start, pos = 0, HEADER.size  # file offset of the block; position in it
        skipping = from_block > 0  # continuation pieces of a record that began in an earlier block
        while block:
            while pos + CHUNK.size <= len(block):
                crc, size, kind = CHUNK.unpack_from(block, pos)
                if kind == 0 and size == 0:  # zero padding up to the block's end
                    break
                end = pos + CHUNK.size + size
                if end > len(block):
                    if len(block) < BLOCK:  # the file ends inside this chunk: cut short
                        return
                    raise ValueError(f"{os.fspath(path)}: chunk at byte {start + pos} runs past its block")
                payload = block[pos + CHUNK.size:end]
                if zlib.crc32(payload, zlib.crc32(bytes((kind,)))) != crc:
                    if len(block) < BLOCK and end == len(block):  # a torn last write
                        return
                    raise ValueError(f"{os.fspath(path)}: bad checksum at byte {start + pos}")
                pos = end
                if skipping and kind in (MIDDLE, LAST):
                    continue
                skipping = False
                if kind == FULL:
                    data = payload
                elif kind == FIRST:
                    pieces = [payload]
                    continue
                elif kind == MIDDLE and pieces is not None:
                    pieces.append(payload)
                    continue
                elif kind == LAST and pieces is not None:
                    pieces.append(payload)
                    data, pieces = b"".join(pieces), None
                else:
                    raise ValueError(f"{os.fspath(path)}: unexpected chunk type {kind} at byte {start + pos}")
                record = pb.Record()
                record.ParseFromString(data)
                yield record
            start += len(block)
            block, pos = f.read(BLOCK), 0


def has_exit_record(path: str | os.PathLike) -> bool:
    """Whether the run file ends with its run's exit: the last blocks are read, not the file."""
    try:
        size = os.path.getsize(path)
        if size <= HEADER.size:
            return False
        last = max(0, (size - 1) // BLOCK - 1)
        return any(r.WhichOneof("record_type") == "exit" for r in iter_records(path, from_block=last))
    except (OSError, ValueError):
        return False


def wait_until_written(path: str | os.PathLike, timeout: float = 60.0) -> None:
    """Wait until W&B has written a finished run's file to the end.

    ``run.finish()`` returns once ``wandb-core`` has the run's last records, before its
    writer has put them in the ``.wandb`` file (measured: up to about a second later), so
    reading the file right away can find it empty. This polls for the exit record.
    """
    deadline = time.monotonic() + timeout
    delay = 0.005
    while not has_exit_record(path):
        if time.monotonic() > deadline:
            raise AquariumError(f"W&B did not finish writing {os.fspath(path)} within {timeout:g} s")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def item_key(item: Any) -> str:
    """The key of a history item: ``key``, or ``nested_key`` joined with dots (as W&B shows it)."""
    if item.key:
        return item.key
    nested = item.nested_key
    return nested[0] if len(nested) == 1 else ".".join(nested)


_OWN = frozenset({W_STEP, W_TIMESTAMP, W_RUNTIME, STEP_KEY})


def _key_of(item: Any) -> str | None:
    """The key of a one-level item (``None`` for a nested path)."""
    if item.key:
        return item.key
    nested = item.nested_key
    return nested[0] if len(nested) == 1 else None


def _item_path(item: Any) -> tuple[str, ...]:
    if item.key:
        return (item.key,)
    nested = item.nested_key
    return (nested[0],) if len(nested) == 1 else tuple(nested)


def _set(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = target
    for part in path[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[path[-1]] = value


class Updates:
    """Config or summary ``update``/``remove`` items, applied in order to a nested dict.

    W&B writes a summary record after every history row, so a run holds thousands of updates
    of the same few keys: only the last value of each path is decoded (at :meth:`result`),
    which gives the same dict as decoding every update in turn.
    """

    def __init__(self) -> None:
        self._base: dict[str, Any] = {}
        self._raw: dict[tuple[str, ...], str] = {}  # path -> latest JSON, in order of latest write

    def update(self, items: Any) -> None:
        raw = self._raw
        for item in items:
            path = _item_path(item)
            raw.pop(path, None)
            raw[path] = item.value_json

    def remove(self, items: Any) -> None:
        if not items:
            return
        self._base = self.result()  # removals are rare: decode what came before, then remove
        self._raw = {}
        for item in items:
            path = _item_path(item)
            node: Any = self._base
            for part in path[:-1]:
                node = node.get(part) if isinstance(node.get(part), dict) else {}
            node.pop(path[-1], None)

    def result(self) -> dict[str, Any]:
        out = json.loads(json.dumps(self._base))
        for path, text in self._raw.items():
            _set(out, path, json.loads(text))
        return out


def number(value_json: str) -> float | None:
    """A history value as a float64 (exact), or ``None`` when it is not a number."""
    first = value_json[:1]
    if first in ("t", "f"):
        return 1.0 if value_json == "true" else 0.0 if value_json == "false" else None
    if first.isdigit() or first in ("-", "N", "I", "+", "."):
        try:
            return float(value_json)
        except ValueError:
            return None
    return None


def integer(value_json: str) -> int:
    try:
        return int(value_json)
    except ValueError:
        return int(float(value_json))


@attrs.define
class ArtifactFile:
    """One file of a logged W&B artifact."""

    artifact: str  # the W&B artifact's name
    type: str
    metadata: dict[str, Any]
    path: str  # the file's path inside the artifact
    size: int
    digest: str  # base64 MD5
    local_path: str  # where the bytes were when the run logged it ("" for references)
    record: int = 0  # which artifact record of its file (one per ``log_artifact``)
    segment: int = 0  # which file of a resumed run (set by the importer)


@attrs.define
class RunFile:
    """What one ``.wandb`` file says about a run (one offline run folder, one segment of a run)."""

    path: str
    run_id: str
    project: str = ""
    display_name: str = ""
    group: str = ""
    notes: str = ""
    tags: list[str] = attrs.field(factory=list)
    host: str = ""
    git_commit: str = ""
    start_time: float | None = None
    config: dict[str, Any] = attrs.field(factory=dict)
    summary: dict[str, Any] = attrs.field(factory=dict)
    #: key -> (steps, values, timestamps) in logging order
    history: dict[str, tuple[list[int], list[float], list[float]]] = attrs.field(factory=dict)
    #: history keys whose values were not numbers (media, tables, text): not imported
    skipped_keys: set[str] = attrs.field(factory=set)
    last_step: int | None = None
    last_timestamp: float | None = None
    exit_code: int | None = None
    exit_runtime: float | None = None
    artifacts: list[ArtifactFile] = attrs.field(factory=list)
    files: list[str] = attrs.field(factory=list)

    @property
    def folder(self) -> str:
        return os.path.dirname(self.path)


def _run_fields(run: RunFile, rec: Any, config: Updates, summary: Updates) -> None:
    r = rec.run
    run.run_id = r.run_id or run.run_id
    run.project, run.display_name, run.group, run.notes = r.project, r.display_name, r.run_group, r.notes
    run.tags = list(r.tags)
    run.host, run.git_commit = r.host, r.git.commit
    if r.HasField("start_time"):
        run.start_time = r.start_time.seconds + r.start_time.nanos / 1e9
    config.update(r.config.update)
    summary.update(r.summary.update)


def read_run_header(path: str) -> RunFile:
    """The run record only (id, project, name, start time): reads the first few records."""
    run = RunFile(path, run_id_of(path))
    config, summary = Updates(), Updates()
    for rec in iter_records(path):
        if rec.WhichOneof("record_type") == "run":
            _run_fields(run, rec, config, summary)
            break
    run.config, run.summary = config.result(), summary.result()
    return run


def read_run_file(path: str, history: bool = True) -> RunFile:
    """Everything in one ``.wandb`` file; ``history=False`` skips the history rows' values."""
    run = RunFile(path, run_id_of(path))
    series = run.history
    config, summary = Updates(), Updates()
    logged = 0
    for rec in iter_records(path):
        kind = rec.WhichOneof("record_type")
        if kind == "history":
            step = timestamp = ours = None
            values = []
            media = None  # W&B media and histograms are dicts flattened into items under a "_type"
            for item in rec.history.item:
                if len(item.nested_key) > 1 and item.nested_key[-1] == "_type":
                    media = media or set()
                    media.add(".".join(item.nested_key[:-1]))
                key = item_key(item)
                if key == W_STEP:
                    step = integer(item.value_json)
                elif key == W_TIMESTAMP:
                    timestamp = float(item.value_json)
                elif key == STEP_KEY:
                    ours = integer(item.value_json)
                elif key == W_RUNTIME or not history:
                    continue
                else:
                    values.append((key, item.value_json))
            if step is None:
                step = rec.history.step.num
            run.last_step = step if run.last_step is None else max(run.last_step, step)
            if timestamp is not None:
                run.last_timestamp = timestamp
            when = timestamp if timestamp is not None else run.last_timestamp or run.start_time or 0.0
            at = ours if ours is not None else step
            if media:
                kept = []
                for key, text in values:
                    owner = next((m for m in media if key == m or key.startswith(m + ".")), None)
                    if owner is None:
                        kept.append((key, text))
                    else:
                        run.skipped_keys.add(owner)
                values = kept
            for key, text in values:
                value = number(text)
                if value is None:
                    run.skipped_keys.add(key)
                    continue
                column = series.get(key)
                if column is None:
                    column = series[key] = ([], [], [])
                column[0].append(at)
                column[1].append(value)
                column[2].append(when)
        elif kind == "run":
            _run_fields(run, rec, config, summary)
        elif kind == "config":
            config.update(rec.config.update)
            config.remove(rec.config.remove)
        elif kind == "summary":
            # W&B follows every history row with a summary of its values: skip those keys
            summary.update(it for it in rec.summary.update if _key_of(it) not in series and _key_of(it) not in _OWN)
            summary.remove(rec.summary.remove)
        elif kind == "exit":
            run.exit_code = rec.exit.exit_code
            run.exit_runtime = float(rec.exit.runtime)
        elif kind == "files":
            run.files.extend(f.path for f in rec.files.files)
        elif kind == "artifact":
            logged += 1
            a = rec.artifact
            metadata = json.loads(a.metadata) if a.metadata else {}
            for entry in a.manifest.contents:
                run.artifacts.append(ArtifactFile(a.name, a.type, metadata if isinstance(metadata, dict) else {},
                                                  entry.path, entry.size, entry.digest,
                                                  "" if entry.ref else entry.local_path, logged))
    run.config, run.summary = config.result(), summary.result()
    return run


def run_id_of(path: str | os.PathLike) -> str:
    """The W&B run id in a run file's name (``run-<id>.wandb``)."""
    match = _RUN_FILE.match(os.path.basename(os.fspath(path)))
    if not match:
        raise ValueError(f"{os.fspath(path)} is not named like a W&B run file (run-<id>.wandb)")
    return match.group(1)


def find_run_files(source: str | os.PathLike) -> list[str]:
    """Every ``run-*.wandb`` under ``source`` (a file, a run folder, a ``wandb/`` folder or any
    folder above), without following symlinks (W&B's ``latest-run`` points at a sibling)."""
    source = os.fspath(source)
    if os.path.isfile(source):
        run_id_of(source)
        return [source]
    if not os.path.isdir(source):
        raise FileNotFoundError(f"no such W&B folder or run file: {source!r}")
    found = []
    for folder, dirs, files in os.walk(source):
        here = [os.path.join(folder, name) for name in sorted(files) if _RUN_FILE.match(name)]
        found.extend(here)
        # a run folder holds no other run (its files/, logs/... can be large); symlinks are not followed
        dirs[:] = [] if here else sorted(d for d in dirs if not os.path.islink(os.path.join(folder, d)))
    return found


def run_folders(wandb_root: str | os.PathLike, run_id: str) -> list[str]:
    """Offline run folders under ``<root>/wandb`` (or ``.wandb``) holding ``run-<run_id>.wandb``."""
    out = []
    for stage in ("wandb", ".wandb"):
        parent = os.path.join(os.fspath(wandb_root), stage)
        if not os.path.isdir(parent):
            continue
        for entry in sorted(os.scandir(parent), key=lambda e: e.name):
            if (entry.is_dir(follow_symlinks=False) and entry.name.startswith("offline-run-")
                    and os.path.isfile(os.path.join(entry.path, f"run-{run_id}.wandb"))):
                out.append(entry.path)
    return out
