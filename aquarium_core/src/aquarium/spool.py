"""The offline spool: an append-only journal of what a run could not commit to its store.

When a store stays unreachable past a bound, a run's flush thread appends its pending
batches to a journal file and training goes on. When the store answers again, the journal
is replayed in order and removed; ``aquarium sync`` replays journals that processes left
behind. Replays are harmless when a commit was in doubt: ``Store.write_batch`` is
idempotent per (writer id, sequence number).

Record layout: ``b"AQJ1"``, u32 header length, u32 body length, u32 CRC-32 of header and
body, a JSON header, then the body (per key: steps ``<i8``, values ``<f8``, timestamps
``<f8``). A record cut short by a kill is ignored (its CRC cannot match).
"""

from __future__ import annotations

import json
import os
import socket
import struct
import zlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from .interfaces import Store
from .model import MetricSeries

MAGIC = b"AQJ1"
_HEAD = struct.Struct("<4sIII")
SPOOL_VARIABLE = "AQUARIUM_SPOOL"
SUFFIX = ".journal"


def spool_dir() -> str:
    """``AQUARIUM_SPOOL``, else ``$XDG_STATE_HOME/aquarium/spool`` (``~/.local/state/...``)."""
    if os.environ.get(SPOOL_VARIABLE):
        return os.environ[SPOOL_VARIABLE]
    state = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(state, "aquarium", "spool")


class Journal:
    """One writer's journal for one run."""

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def for_writer(cls, run_id: str, writer_id: str) -> Journal:
        safe = writer_id.replace(":", "_").replace("/", "_")
        return cls(os.path.join(spool_dir(), f"{run_id}.{safe}{SUFFIX}"))

    def exists(self) -> bool:
        return os.path.exists(self.path)

    def _append(self, header: dict[str, Any], body: bytes = b"") -> None:
        head = json.dumps(header, allow_nan=False).encode()
        crc = zlib.crc32(body, zlib.crc32(head))
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)  # it names the store
        try:
            os.write(fd, _HEAD.pack(MAGIC, len(head), len(body), crc) + head + body)
            os.fsync(fd)
        finally:
            os.close(fd)

    def append_batch(self, store_uri: str, run_id: str, writer_id: str, seq: int,
                     columns: Mapping[str, MetricSeries], heartbeat: float | None) -> None:
        keys = [[key, len(series)] for key, series in columns.items()]
        body = b"".join(s.steps.astype("<i8").tobytes() + s.values.astype("<f8").tobytes()
                        + s.timestamps.astype("<f8").tobytes() for s in columns.values())
        self._append({"kind": "batch", "store": store_uri, "run_id": run_id, "writer_id": writer_id, "seq": seq,
                      "keys": keys, "heartbeat": heartbeat}, body)

    def append_update(self, store_uri: str, run_id: str, **fields: Any) -> None:
        """A run update (final status, end time, error) to apply after the batches."""
        self._append({"kind": "update", "store": store_uri, "run_id": run_id, "fields": fields})

    def records(self) -> Iterator[tuple[dict[str, Any], dict[str, MetricSeries]]]:
        """Every intact record in order; stops at a torn or corrupt tail."""
        with open(self.path, "rb") as f:
            data = f.read()
        pos = 0
        while pos + _HEAD.size <= len(data):
            magic, head_len, body_len, crc = _HEAD.unpack_from(data, pos)
            start = pos + _HEAD.size
            head, body = data[start:start + head_len], data[start + head_len:start + head_len + body_len]
            if magic != MAGIC or len(body) != body_len or zlib.crc32(body, zlib.crc32(head)) != crc:
                return
            pos = start + head_len + body_len
            header = json.loads(head)
            columns, offset = {}, 0
            for key, n in header.get("keys", []):
                arrays = []
                for dtype in ("<i8", "<f8", "<f8"):
                    arrays.append(np.frombuffer(body, dtype=dtype, count=n, offset=offset))
                    offset += 8 * n
                columns[key] = MetricSeries(key, *arrays)
            yield header, columns

    def replay(self, store: Store) -> int:
        """Apply every record to ``store`` in order, then remove the journal; returns records applied."""
        count = 0
        for header, columns in self.records():
            if header["kind"] == "batch":
                store.write_batch(header["run_id"], header["writer_id"], header["seq"], columns,
                                  heartbeat=header.get("heartbeat"))
            else:
                store.update_run(header["run_id"], **header["fields"])
            count += 1
        os.unlink(self.path)
        return count

    def store_uri(self) -> str | None:
        """The store the journal's records belong to."""
        for header, _ in self.records():
            return header["store"]
        return None

    def writer_alive(self) -> bool:
        """True when the process that writes this journal still runs on this host."""
        for header, _ in self.records():
            host, _, rest = header.get("writer_id", "").partition(":")
            pid = rest.partition(":")[0]
            if host != socket.gethostname() or not pid.isdigit():
                return False
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                return False
            except PermissionError:
                return True
            return True
        return False


def pending_journals(folder: str | None = None) -> list[Journal]:
    """The journals in the spool folder, oldest first."""
    folder = folder or spool_dir()
    if not os.path.isdir(folder):
        return []
    paths = [os.path.join(folder, name) for name in os.listdir(folder) if name.endswith(SUFFIX)]
    return [Journal(p) for p in sorted(paths, key=os.path.getmtime)]
