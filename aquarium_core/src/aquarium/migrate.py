"""Copying runs between any two stores (SQLite → PostgreSQL and back): ``aquarium migrate``."""

from __future__ import annotations

import tempfile
from typing import Any

from .interfaces import Store
from .interop import TransferResult, _progress, copy_bundle, load_bundle
from .stores import open_store, redact


def migrate(source: Store | str, target: Store | str, query: str = "", *,
            progress: bool | None = None) -> list[TransferResult]:
    """Copy the runs matching ``query`` (all by default) with history, artifacts and statuses.

    Runs keep their ids. Run again, a run already copied whole is left alone (``exists``);
    one that differs in the target (copied halfway, or still growing at the source) is
    copied again (``ok``); nothing is ever duplicated.
    """
    src, dst = open_store(source), open_store(target)
    if src.connect_uri and src.connect_uri == dst.connect_uri:
        raise ValueError(f"source and target are the same store ({redact(src.uri)})")
    records = src.search(query) if query else src.list_runs()
    results = []
    with _progress(records, progress, f"Migrating to {redact(dst.uri)}") as bar:
        for record in bar:
            try:
                results.append(_copy(src, dst, record.id))
            except Exception as error:
                results.append(TransferResult(record.id, record.name, redact(dst.uri), status="failed",
                                              error=f"{type(error).__name__}: {error}"))
    return results


def _fingerprint(record: Any) -> tuple:
    """What must match for a copy to count as whole and current."""
    return (record.status, record.ended, record.summaries, record.tags, record.params, record.notes,
            sorted((a.name, a.sha256) for a in record.artifacts))


def _copy(src: Store, dst: Store, run_id: str) -> TransferResult:
    record = src.get_run(run_id)
    target = redact(dst.uri)
    try:
        existing = dst.get_run(run_id)
    except KeyError:
        existing = None
    if existing is not None:
        if _fingerprint(existing) == _fingerprint(record):
            return TransferResult(run_id, record.name, target, run_id, status="exists")
        dst.delete_run(run_id)
    with tempfile.TemporaryDirectory(prefix="aquarium-migrate-") as folder:
        bundle = load_bundle(src, run_id, folder)
        copy_bundle(dst, bundle, writer=f"migrate:{run_id}")
    return TransferResult(run_id, record.name, target, run_id, bundle.points, len(bundle.artifact_files))
