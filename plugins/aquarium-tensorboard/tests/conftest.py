"""Fixtures of the TensorBoard plugin's tests: real event files, read with TensorBoard's reader."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Callable
from typing import Any

import pytest

from aquarium import interop
from aquarium.ids import new_run_id
from aquarium.interop import RunBundle
from aquarium.model import Artifact, MetricSeries, RunRecord
from aquarium.stores.sqlite import SQLiteStore


def make_png(width: int, height: int, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """A real RGB PNG (no PIL needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def png() -> Callable[..., bytes]:
    return make_png


@pytest.fixture
def store(tmp_path: Any) -> SQLiteStore:
    return SQLiteStore(str(tmp_path / "store"))


@pytest.fixture
def put_run(store: SQLiteStore, tmp_path: Any) -> Callable[..., str]:
    """Write a run into ``store``: ``put_run(history, files={name: bytes}, **record fields)``."""

    def put(history: dict[str, MetricSeries] | None = None, files: dict[str, bytes] | None = None,
            kinds: dict[str, tuple[str, dict]] | None = None, **fields: Any) -> str:
        fields.setdefault("name", "run")
        fields.setdefault("status", "completed")
        fields.setdefault("started", 1.7e9)
        fields.setdefault("ended", 1.7e9 + 60)
        record = RunRecord(id=fields.pop("id", new_run_id()), **fields)
        paths = {}
        for name, data in (files or {}).items():
            path = tmp_path / "in" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            paths[name] = str(path)
            kind, meta = (kinds or {}).get(name, ("file", {}))
            record.artifacts.append(Artifact(name, len(data), "", kind, meta))
        return interop.write_bundle(store, RunBundle(record, history or {}, paths), "test:" + record.id)

    return put


SIZE_GUIDANCE = {"scalars": 0, "tensors": 0, "images": 0, "histograms": 0, "audio": 0,
                 "compressedHistograms": 0}


@pytest.fixture
def accumulate() -> Callable[[str], Any]:
    """TensorBoard's own EventAccumulator over one run directory, keeping every point."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    def load(folder: str | os.PathLike) -> Any:
        acc = EventAccumulator(str(folder), size_guidance=SIZE_GUIDANCE)
        acc.Reload()
        return acc

    return load
