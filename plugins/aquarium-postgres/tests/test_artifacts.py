"""Artifacts of a server store go to AQUARIUM_ARTIFACTS; without it, an error naming it."""

from __future__ import annotations

import hashlib
import os

import pytest

import aquarium
from aquarium.errors import StoreError
from aquarium.ids import new_run_id
from aquarium.model import Artifact, RunRecord
from aquarium.stores import close_stores, open_store
from aquarium_postgres.store import PostgresStore


@pytest.fixture(autouse=True)
def _fresh_stores():
    yield
    close_stores()


def test_without_the_variable_an_artifact_is_refused(pg_url, tmp_path, monkeypatch):
    monkeypatch.delenv("AQUARIUM_ARTIFACTS", raising=False)
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "model.pt"
    path.write_bytes(b"weights")
    with aquarium.start_run("no-artifacts", store=pg_url, capture_source=False) as run:
        with pytest.raises(StoreError, match="AQUARIUM_ARTIFACTS") as caught:
            run.log_model(path, framework="torch")
        run.log({"loss": 1.0})  # the run itself goes on
    assert "is not set" in str(caught.value) and "\n" not in str(caught.value)
    assert run.store.get_run(run.id).artifacts == []
    assert sorted(os.listdir(tmp_path)) == ["model.pt"]  # no silent local copy anywhere


def test_a_shared_folder(pg_url, tmp_path, monkeypatch):
    shared = tmp_path / "shared"
    monkeypatch.setenv("AQUARIUM_ARTIFACTS", str(shared))
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\x00\x01" * 1000)
    with aquarium.start_run("artifacts", store=pg_url, capture_source=False) as run:
        (stored,) = run.log_artifact(path, "models/weights.bin")
    assert (shared / run.id / "models" / "weights.bin").read_bytes() == path.read_bytes()
    assert stored.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    store = open_store(pg_url)
    assert store.read_artifact(run.id, "models/weights.bin") == path.read_bytes()
    # a dashboard without the variable still reads files by the path recorded with them
    monkeypatch.delenv("AQUARIUM_ARTIFACTS")
    reader = PostgresStore(pg_url)
    try:
        assert reader.read_artifact(run.id, "models/weights.bin") == path.read_bytes()
        (listed,) = reader.get_run(run.id).artifacts
        assert listed.uri == str(shared / run.id / "models" / "weights.bin")
    finally:
        reader.close()
    store.delete_run(run.id)
    assert not (shared / run.id).exists()


def test_an_fsspec_url(pg_url, tmp_path):
    pytest.importorskip("fsspec")  # in the [test] extra, so never skipped there
    store = PostgresStore(pg_url, artifacts="memory://aquarium-test")
    try:
        record = RunRecord(id=new_run_id(), name="remote")
        store.create_run(record)
        path = tmp_path / "a.txt"
        path.write_text("remote bytes")
        stored = store.put_artifact(record.id, Artifact("a.txt", 0, ""), path)
        assert stored.uri.startswith("memory://") and stored.uri.endswith(f"aquarium-test/{record.id}/a.txt")
        assert store.read_artifact(record.id, "a.txt") == b"remote bytes"
        with pytest.raises(KeyError, match="b.txt"):
            store.read_artifact(record.id, "b.txt")
    finally:
        store.close()
