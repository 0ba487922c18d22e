"""The embedded store keeps the store contract, plus what only SQLite has (URIs, WAL, schema)."""

from __future__ import annotations

import os
import sqlite3

import pytest

import aquarium
from aquarium.errors import StoreError, UnknownSchemeError
from aquarium.stores import open_store
from aquarium.stores.sqlite import SCHEMA_VERSION, SQLiteStore, parse_uri
from aquarium.testing import StoreSuite


class TestSQLiteStore(StoreSuite):
    @pytest.fixture
    def store(self, tmp_path):
        store = SQLiteStore(str(tmp_path / "store"))
        yield store
        store.close()


def test_uris_name_the_same_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert parse_uri(str(tmp_path / "folder")) == str(tmp_path / "folder" / "aquarium.db")
    assert parse_uri("sqlite:///rel/aquarium.db") == str(tmp_path / "rel" / "aquarium.db")
    assert parse_uri(f"sqlite:///{tmp_path}/abs.db") == f"{tmp_path}/abs.db"
    assert parse_uri(str(tmp_path / "x.db")) == str(tmp_path / "x.db")


def test_default_store_is_dot_aquarium_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AQUARIUM_STORE", raising=False)
    store = open_store()
    assert store.path == str(tmp_path / ".aquarium" / "aquarium.db")
    monkeypatch.setenv("AQUARIUM_STORE", f"sqlite:///{tmp_path}/elsewhere/a.db")
    assert open_store().path == str(tmp_path / "elsewhere" / "a.db")


def test_artifacts_follow_aquarium_artifacts(tmp_path, monkeypatch):
    monkeypatch.setenv("AQUARIUM_ARTIFACTS", str(tmp_path / "shared"))
    f = tmp_path / "f.txt"
    f.write_text("hello")
    with aquarium.start_run(store=tmp_path / "s", capture_source=False) as run:
        (stored,) = run.log_artifact(f)
    assert stored.uri == str(tmp_path / "shared" / run.id / "f.txt")
    with open(stored.uri) as f:
        assert f.read() == "hello"


def test_unknown_scheme_lists_the_known_ones():
    with pytest.raises(UnknownSchemeError, match=r"'mongodb'.*sqlite://"):
        open_store("mongodb://user:secret@host/db")
    with pytest.raises(UnknownSchemeError) as info:
        open_store("mongodb://user:secret@host/db")
    assert "secret" not in str(info.value)


def test_wal_and_full_sync(tmp_path):
    store = SQLiteStore(str(tmp_path))
    conn = store._connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_newer_schema_is_refused(tmp_path):
    SQLiteStore(str(tmp_path)).close()
    with sqlite3.connect(tmp_path / "aquarium.db") as conn:
        conn.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError, match="schema version"):
        SQLiteStore(str(tmp_path))


def test_unwritable_folder_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="store folder"):
        SQLiteStore(str(blocker / "sub"))
    assert os.path.isfile(blocker)


def test_redact_hides_passwords_anywhere_in_a_uri():
    from aquarium.stores import redact

    assert redact("postgresql://u:s3cret@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact("postgresql://u@h/db?sslmode=require&password=s3cret") == \
        "postgresql://u@h/db?sslmode=require&password=***"
    assert redact("/plain/path") == "/plain/path"
