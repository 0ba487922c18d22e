"""The embedded default store: one SQLite file in WAL mode, artifacts in a folder beside it.

URIs: a folder path (holding ``aquarium.db`` and ``artifacts/``), a path to a ``.db``
file, ``sqlite:///relative/aquarium.db`` or ``sqlite:////absolute/aquarium.db``.
Registered through the ``aquarium`` entry-point group like any third-party store.
"""

from __future__ import annotations

import contextlib
import gc
import json
import os
import random
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .. import serialization
from ..artifacts import ArtifactRepository
from ..errors import RunNotFoundError, StoreError
from ..hookspecs import hookimpl
from ..interfaces import Store
from ..model import Artifact, MetricSeries, MetricSummary, RunRecord, SourceInfo, heartbeat_timeout
from ..query import Query, SQLCompiler, register_sqlite_functions
from ..validation import artifact_name, flatten
from .layout import SUMMARY_COLUMNS, pack, summary_from_row, summary_row, unpack

SCHEMA_VERSION = 1
DB_NAME = "aquarium.db"
#: How long a writer keeps retrying a locked database before it gives up (seconds).
LOCK_PATIENCE = 600.0

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE runs (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, experiment TEXT NOT NULL, grp TEXT,
        status TEXT NOT NULL, created REAL NOT NULL, started REAL, ended REAL, heartbeat REAL,
        parent TEXT, notes TEXT NOT NULL DEFAULT '', error TEXT,
        params TEXT NOT NULL DEFAULT '{}', directions TEXT NOT NULL DEFAULT '{}', source TEXT
    );
    CREATE INDEX runs_by_created ON runs (created, id);
    CREATE INDEX runs_by_experiment ON runs (experiment, created, id);
    CREATE INDEX runs_by_name ON runs (name);
    CREATE TABLE params (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        key TEXT NOT NULL, value TEXT NOT NULL, num REAL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX params_by_key ON params (key, num);
    CREATE TABLE tags (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        key TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX tags_by_key ON tags (key, value);
    CREATE TABLE metric_chunks (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        key TEXT NOT NULL, seq INTEGER NOT NULL, n INTEGER NOT NULL,
        min_step INTEGER NOT NULL, max_step INTEGER NOT NULL,
        steps BLOB NOT NULL, vals BLOB NOT NULL, times BLOB NOT NULL
    );
    CREATE UNIQUE INDEX metric_chunks_order ON metric_chunks (run_id, key, seq);
    CREATE TABLE summaries (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, key TEXT NOT NULL,
        count INTEGER NOT NULL, first REAL, first_step INTEGER NOT NULL, first_time REAL NOT NULL,
        last REAL, last_step INTEGER NOT NULL, last_time REAL NOT NULL,
        min REAL, min_step INTEGER, min_time REAL, max REAL, max_step INTEGER, max_time REAL,
        PRIMARY KEY (run_id, key)
    ) WITHOUT ROWID;
    CREATE INDEX summaries_by_key ON summaries (key, last);
    CREATE TABLE writes (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
        writer_id TEXT NOT NULL, seq INTEGER NOT NULL,
        PRIMARY KEY (run_id, writer_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE artifacts (
        run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE, name TEXT NOT NULL,
        kind TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL,
        metadata TEXT NOT NULL DEFAULT '{}', created REAL NOT NULL, uri TEXT,
        PRIMARY KEY (run_id, name)
    ) WITHOUT ROWID;
    """,
}

_RUN_COLUMNS = ("id, name, experiment, grp, status, created, started, ended, heartbeat, parent,"
                " notes, error, params, directions, source")
_SUMMARY_SELECT = ", ".join(SUMMARY_COLUMNS)
_QUALIFIED_RUN_COLUMNS = ", ".join(f"runs.{c.strip()}" for c in _RUN_COLUMNS.split(","))
#: Up to this many runs, tags and summaries are read by an IN list; beyond, by one JSON array of ids.
_ID_LIST = 500


def _locked(error: sqlite3.OperationalError) -> bool:
    text = str(error).lower()
    return "locked" in text or "busy" in text


def parse_uri(uri: str) -> str:
    """The database file a URI or path names."""
    if uri.startswith("sqlite://"):
        path = uri[len("sqlite://"):]
        if not path.startswith("/"):
            raise StoreError(f"bad SQLite URI {uri!r}: write sqlite:///relative.db or sqlite:////absolute.db")
        path = path[1:] or DB_NAME
        return os.path.abspath(path)
    path = uri.removeprefix("file://")
    if os.path.isdir(path) or not path.endswith((".db", ".sqlite", ".sqlite3")):
        return os.path.join(path, DB_NAME)
    return path


class SQLiteStore(Store):
    """The embedded store; see the module docstring for URIs."""

    name = "sqlite"

    def __init__(self, uri: str, *, artifacts: str | None = None) -> None:
        self.path = parse_uri(uri)
        self.uri = uri
        folder = os.path.dirname(self.path)
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create the store folder {folder!r}: {error}") from None
        self.artifacts = ArtifactRepository(artifacts or os.path.join(folder, "artifacts"))
        self._local = threading.local()
        self._pid = os.getpid()
        self._migrate()

    # -- connections and transactions ----------------------------------------------------------
    def _connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or self._pid != os.getpid():
            self._pid = os.getpid()
            try:
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None, check_same_thread=False)
            except sqlite3.Error as error:
                raise StoreError(f"cannot open the SQLite store {self.path!r}: {error}") from None
            conn.execute("PRAGMA busy_timeout = 60000")
            self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            register_sqlite_functions(conn)  # regexp() and aquarium_contains() for compiled queries
            self._local.conn = conn
        return conn

    @staticmethod
    def _retry(action: Any) -> Any:
        deadline = time.monotonic() + LOCK_PATIENCE
        delay = 0.005
        while True:
            try:
                return action()
            except sqlite3.OperationalError as error:
                if not _locked(error) or time.monotonic() > deadline:
                    raise
            time.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, 0.5)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One IMMEDIATE transaction, retried while another process holds the lock."""
        conn = self._connection()
        self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        self._retry(lambda: conn.execute("COMMIT"))

    def _read(self, sql: str, args: Sequence[Any] = ()) -> list[tuple]:
        conn = self._connection()
        return self._retry(lambda: conn.execute(sql, args).fetchall())

    def _migrate(self) -> None:
        with self._write() as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
            version = row[0] or 0
            if version > SCHEMA_VERSION:
                raise StoreError(f"{self.path} has schema version {version}; this Aquarium knows up to "
                                 f"{SCHEMA_VERSION}: upgrade aquarium-core")
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (?)", (target,))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # -- writes ---------------------------------------------------------------------------
    def create_run(self, record: RunRecord) -> None:
        source = serialization.dumps(record.source) if record.source else None
        with self._write() as conn:
            if conn.execute("SELECT 1 FROM runs WHERE id = ?", (record.id,)).fetchone():
                raise ValueError(f"a run with id {record.id!r} exists already")
            conn.execute(
                f"INSERT INTO runs ({_RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (record.id, record.name, record.experiment, record.group, record.status, record.created,
                 record.started, record.ended, record.heartbeat, record.parent, record.notes,
                 record.error, json.dumps(record.params), json.dumps(record.directions), source),
            )
            self._put_params(conn, record.id, record.params)
            self._put_tags(conn, record.id, record.tags)

    @staticmethod
    def _put_params(conn: sqlite3.Connection, run_id: str, params: Mapping[str, Any]) -> None:
        conn.execute("DELETE FROM params WHERE run_id = ?", (run_id,))
        conn.executemany(
            "INSERT INTO params (run_id, key, value, num) VALUES (?, ?, ?, ?)",
            [(run_id, key, json.dumps(value),
              float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None)
             for key, value in flatten(params).items()],
        )

    @staticmethod
    def _put_tags(conn: sqlite3.Connection, run_id: str, tags: Mapping[str, str]) -> None:
        conn.executemany("INSERT OR REPLACE INTO tags (run_id, key, value) VALUES (?, ?, ?)",
                         [(run_id, k, v) for k, v in tags.items()])

    @staticmethod
    def _require(conn: sqlite3.Connection, run_id: str) -> tuple:
        row = conn.execute("SELECT directions FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(run_id)
        return row

    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        started: float | None = None,
        ended: float | None = None,
        heartbeat: float | None = None,
        error: str | None = None,
        notes: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        directions: Mapping[str, str] | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            "status": status, "started": started, "ended": ended, "heartbeat": heartbeat,
            "error": error, "notes": notes,
        }
        with self._write() as conn:
            (stored_directions,) = self._require(conn, run_id)
            if params is not None:
                fields["params"] = json.dumps(params)
                self._put_params(conn, run_id, params)
            if directions is not None:
                fields["directions"] = json.dumps({**json.loads(stored_directions), **directions})
            if tags:
                self._put_tags(conn, run_id, tags)
            changes = {k: v for k, v in fields.items() if v is not None}
            if changes:
                conn.execute(f"UPDATE runs SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?",
                             (*changes.values(), run_id))

    def write_batch(
        self,
        run_id: str,
        writer_id: str,
        seq: int,
        columns: Mapping[str, MetricSeries],
        heartbeat: float | None = None,
    ) -> bool:
        with self._write() as conn:
            self._require(conn, run_id)
            try:
                conn.execute("INSERT INTO writes (run_id, writer_id, seq) VALUES (?, ?, ?)",
                             (run_id, writer_id, seq))
            except sqlite3.IntegrityError:
                return False
            for key, series in columns.items():
                if not len(series):
                    continue
                (next_seq,) = conn.execute(
                    "SELECT coalesce(max(seq) + 1, 0) FROM metric_chunks WHERE run_id = ? AND key = ?",
                    (run_id, key)).fetchone()
                conn.executemany(
                    "INSERT INTO metric_chunks (run_id, key, seq, n, min_step, max_step, steps, vals, times)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(run_id, key, next_seq + i, *chunk) for i, chunk in enumerate(pack(series))])
                summary = MetricSummary.of(series)
                row = conn.execute(f"SELECT {_SUMMARY_SELECT} FROM summaries WHERE run_id = ? AND key = ?",
                                   (run_id, key)).fetchone()
                if row is not None:
                    summary = summary_from_row(row).merge(summary)
                conn.execute(
                    f"INSERT OR REPLACE INTO summaries (run_id, key, {_SUMMARY_SELECT})"
                    f" VALUES (?, ?, {', '.join('?' * len(SUMMARY_COLUMNS))})",
                    (run_id, key, *summary_row(summary)))
            if heartbeat is not None:
                conn.execute("UPDATE runs SET heartbeat = ? WHERE id = ?", (heartbeat, run_id))
        return True

    def put_artifact(self, run_id: str, artifact: Artifact, path: str | os.PathLike) -> Artifact:
        name = artifact_name(artifact.name)
        self._require(self._connection(), run_id)
        uri, size, sha256 = self.artifacts.put(run_id, name, path)
        stored = Artifact(name, size, sha256, artifact.kind, dict(artifact.metadata), artifact.created, uri)
        with self._write() as conn:
            self._require(conn, run_id)
            conn.execute(
                "INSERT OR REPLACE INTO artifacts (run_id, name, kind, size, sha256, metadata, created, uri)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, name, stored.kind, size, sha256, json.dumps(stored.metadata), stored.created, uri))
        return stored

    def delete_run(self, run_id: str) -> None:
        with self._write() as conn:
            self._require(conn, run_id)
            conn.execute("DELETE FROM runs WHERE id = ?", (run_id,))
        self.artifacts.delete_run(run_id)

    # -- reads ----------------------------------------------------------------------------
    def _snapshot(self, action: Any) -> Any:
        """``action(conn)`` inside one read transaction: its queries see one consistent state."""
        conn = self._connection()

        def attempt() -> Any:
            conn.execute("BEGIN")
            try:
                return action(conn)
            finally:
                conn.execute("COMMIT")

        return self._retry(attempt)

    def _records(self, where: str, args: Sequence[Any] | Mapping[str, Any], *, joins: str = "",
                 order: str = "", window: str = "") -> list[RunRecord]:
        """Runs selected by ``FROM runs {joins} {where} {order} {window}`` with their tags and
        summaries, in one read transaction and three queries: the selection is evaluated once,
        then tags and summaries are read for its ids (a short IN list, or one JSON array
        argument for many), or the tables whole when every run is selected."""

        def read(conn: sqlite3.Connection) -> list[RunRecord]:
            rows = conn.execute(f"SELECT {_QUALIFIED_RUN_COLUMNS} FROM runs {joins} {where} {order} {window}",
                                args).fetchall()
            if not rows:
                return []
            now, stale_after = time.time(), heartbeat_timeout()
            records = {row[0]: _record(row, now, stale_after) for row in rows}
            selection: str
            selected: Sequence[Any]
            if not where and not window:  # every run: read the tables whole
                selection, selected = "", ()
            elif len(records) <= _ID_LIST:
                selection, selected = f"WHERE run_id IN ({','.join('?' * len(records))})", list(records)
            else:  # the selected ids as one JSON argument: the filter is not evaluated again
                selection, selected = "WHERE run_id IN (SELECT value FROM json_each(?))", (json.dumps(list(records)),)
            for run_id, key, value in conn.execute(f"SELECT run_id, key, value FROM tags {selection}", selected):
                record = records.get(run_id)
                if record is not None:
                    record.tags[key] = value
            for row in conn.execute(
                    f"SELECT run_id, key, {_SUMMARY_SELECT} FROM summaries {selection} ORDER BY run_id, key",
                    selected):
                record = records.get(row[0])
                if record is not None:
                    record.summaries[row[1]] = summary_from_row(row[2:])
            return list(records.values())

        with _gc_paused():
            return self._snapshot(read)

    def search(
        self,
        query: str | Query = "",
        *,
        experiment: str | None = None,
        order_by: str | Sequence[str] | None = ("-created",),
        limit: int | None = None,
        offset: int = 0,
        directions: Mapping[str, str] | None = None,
    ) -> list[RunRecord]:
        compiled = SQLCompiler(directions=directions).compile(
            query, experiment=experiment, order_by=order_by, limit=limit, offset=offset)
        return self._records(compiled.where, compiled.args, joins=compiled.joins, order=compiled.order,
                             window=compiled.window)

    def get_run(self, run_id: str) -> RunRecord:
        found = self._records("WHERE runs.id = ?", (run_id,))
        if not found:
            raise RunNotFoundError(run_id)
        record = found[0]
        for name, kind, size, sha256, metadata, created, uri in self._read(
                "SELECT name, kind, size, sha256, metadata, created, uri FROM artifacts"
                " WHERE run_id = ? ORDER BY name", (run_id,)):
            record.artifacts.append(Artifact(name, size, sha256, kind, json.loads(metadata), created, uri))
        return record

    def list_runs(self, experiment: str | None = None) -> list[RunRecord]:
        order = "ORDER BY runs.created DESC, runs.id DESC"
        if experiment is None:
            return self._records("", (), order=order)
        return self._records("WHERE runs.experiment = ?", (experiment,), order=order)

    def history(
        self,
        run_id: str,
        keys: Sequence[str] | None = None,
        *,
        start_step: int | None = None,
        end_step: int | None = None,
        max_points: int | None = None,
    ) -> dict[str, MetricSeries]:
        sql = "SELECT key, steps, vals, times FROM metric_chunks WHERE run_id = ?"
        args: list[Any] = [run_id]
        if keys is not None:
            keys = [keys] if isinstance(keys, str) else list(keys)
            sql += f" AND key IN ({','.join('?' * len(keys))})"
            args += keys
        if start_step is not None:
            sql += " AND max_step >= ?"
            args.append(start_step)
        if end_step is not None:
            sql += " AND min_step <= ?"
            args.append(end_step)
        rows = self._read(sql + " ORDER BY key, seq", args)
        if not rows and not self._read("SELECT 1 FROM runs WHERE id = ?", (run_id,)):
            raise RunNotFoundError(run_id)
        return unpack(rows, start_step=start_step, end_step=end_step, max_points=max_points)

    def summaries(self, run_id: str) -> dict[str, MetricSummary]:
        rows = self._read(f"SELECT key, {_SUMMARY_SELECT} FROM summaries WHERE run_id = ? ORDER BY key",
                          (run_id,))
        if not rows and not self._read("SELECT 1 FROM runs WHERE id = ?", (run_id,)):
            raise RunNotFoundError(run_id)
        return {key: summary_from_row(rest) for key, *rest in rows}

    def ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        upper = prefix + "\U0010ffff"
        return [row[0] for row in self._read("SELECT id FROM runs WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                                              (prefix, upper, limit))]

    def read_artifact(self, run_id: str, name: str) -> bytes:
        name = artifact_name(name)
        if not self._read("SELECT 1 FROM artifacts WHERE run_id = ? AND name = ?", (run_id, name)):
            self._require(self._connection(), run_id)
            raise KeyError(f"run {run_id!r} has no artifact {name!r}")
        return self.artifacts.read(run_id, name)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Hold the cyclic garbage collector while many records are built: they hold no cycles,
    and collections triggered by their allocation nearly double the time of a large search."""
    enabled = gc.isenabled()
    if enabled:
        gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _record(row: tuple, now: float | None = None, stale_after: float | None = None) -> RunRecord:
    (run_id, name, experiment, group, status, created, started, ended, heartbeat, parent,
     notes, error, params, directions, source) = row
    record = RunRecord(
        id=run_id, name=name, experiment=experiment, group=group, status=status, created=created,
        started=started, ended=ended, heartbeat=heartbeat, parent=parent, notes=notes, error=error,
        params=json.loads(params), directions=json.loads(directions) if directions != "{}" else {},
        source=serialization.loads(source, SourceInfo) if source else None,
    )
    record.status = record.effective_status(now, stale_after)
    return record


@hookimpl
def aquarium_register_stores(register: Any) -> None:
    """The built-in SQLite store: plain paths, ``file://`` and ``sqlite://`` URIs."""
    for scheme in ("", "file", "sqlite"):
        register(scheme, SQLiteStore)
