"""The PostgreSQL store: one database for every trainer and dashboard of a team or cluster.

URIs are libpq's: ``postgresql://user[:password]@host[:port]/database[?param=value...]``
(``postgres://`` too), e.g. ``postgresql://aquarium@db.lab:5432/aquarium?sslmode=require``.
Aquarium's tables go to the first schema of the ``search_path``, which the URI may set with
``?options=-csearch_path%3Dteam_a`` (several stores in one database); a missing schema is
created. The password may come from the URI, ``PGPASSWORD`` or ``~/.pgpass``; it never
appears in :attr:`PostgresStore.uri`, in errors or in logs.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from aquarium import serialization
from aquarium.artifacts import ArtifactRepository
from aquarium.errors import RunNotFoundError, StoreError
from aquarium.interfaces import Store
from aquarium.model import Artifact, MetricSeries, MetricSummary, RunRecord, SourceInfo, heartbeat_timeout
from aquarium.query import Query
from aquarium.stores import ARTIFACTS_VARIABLE, redact
from aquarium.stores.layout import SUMMARY_COLUMNS, pack, summary_from_row, summary_row, unpack
from aquarium.validation import artifact_name, flatten

from .compiler import NeedsPython, PostgresCompiler
from .schema import WRITE_PRIVILEGES, migrate

log = logging.getLogger("aquarium.postgres")
# While a server is away, psycopg's pool logs every reconnection attempt. Without logging
# configured those would all reach stderr through logging's last resort; the run's flush
# thread already reports the outage once. With logging configured, they arrive as before.
logging.getLogger("psycopg").addHandler(logging.NullHandler())

#: Connections one store keeps open at most (a training process needs one or two).
POOL_SIZE = 4
#: Seconds to wait for a connection (from the pool, or a new one) before giving up.
CONNECT_TIMEOUT = 10.0
#: A pooled connection idle for longer than this is checked before use (it may have died
#: with a server restart); one used more recently is trusted.
CHECK_AFTER = 2.0
#: Seconds to wait for a pooled connection before asking whether the server is there at all.
QUICK_WAIT = 1.5

_RUN_COLUMNS = ("id", "name", "experiment", "grp", "status", "created", "started", "ended", "heartbeat",
                "parent", "notes", "error", "params", "directions", "source")
_RUN_SELECT = ", ".join(f"runs.{c}" for c in _RUN_COLUMNS)
_SUMMARY_SELECT = ", ".join(SUMMARY_COLUMNS)
_SUMMARY_UPSERT = (
    f"INSERT INTO summaries (run_id, key, chunks, {_SUMMARY_SELECT})"
    f" VALUES ({', '.join(['%s'] * (3 + len(SUMMARY_COLUMNS)))})"
    f" ON CONFLICT (run_id, key) DO UPDATE SET chunks = EXCLUDED.chunks, "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in SUMMARY_COLUMNS)
)
_CHUNK_INSERT = ("INSERT INTO metric_chunks (run_id, key, seq, n, min_step, max_step, steps, vals, times)"
                 " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)")
_READ = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
#: Pools of stores whose process forked: the child must neither use nor close the parent's
#: connections (closing would end the parent's sessions), so they are only kept from the GC.
_ABANDONED: list[Any] = []
_PASSWORD_PARAM = re.compile(r"([?&]password=)[^&#]*", re.IGNORECASE)


def safe_uri(uri: str) -> str:
    """``uri`` with the password (in the user part or a ``password=`` parameter) as ``***``."""
    return _PASSWORD_PARAM.sub(r"\1***", redact(uri))


def _secrets(uri: str) -> list[str]:
    """Every form of a password the URI holds, to scrub from messages that might echo it."""
    found = []
    match = re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*://[^:/@]*:([^@/]*)@", uri)
    if match and match.group(1):
        found.append(match.group(1))
    found += [m.group(1) for m in re.finditer(r"[?&]password=([^&#]*)", uri, re.IGNORECASE) if m.group(1)]
    found += [urllib.parse.unquote(s) for s in found]
    return sorted({s for s in found if s}, key=len, reverse=True)


def _one_line(error: BaseException, secrets: Sequence[str] = ()) -> str:
    """A psycopg/libpq message as one line: the server's own words, without libpq's
    'connection to server at ... failed:' preambles, and without any password."""
    text = str(error).strip() or type(error).__name__
    line = ""
    for raw in re.split(r"\n|(?<=failed:) ", text):
        part = raw.strip()
        if not part or part.endswith("failed:") or part.startswith("Multiple connection attempts"):
            continue
        part = re.sub(r"^(connection failed:\s*|connection is bad:\s*)+", "", part)
        part = re.sub(r"^(FATAL|ERROR):\s+", "", part)
        continued = raw[:1].isspace() and part[:1].islower()  # libpq wraps a sentence onto a tab-indented line
        if line and not continued and not line.endswith((".", ":", ";", "?", "!")):
            line += ";"
        line = f"{line} {part}".strip()
    line = re.sub(r"\s+", " ", line).strip()
    for secret in secrets:
        line = line.replace(secret, "***")
    return line or type(error).__name__


def _text(what: str, value: Any) -> Any:
    """PostgreSQL text cannot hold NUL: refuse it naming the field (SQLite would keep it)."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError(f"{what} {value!r} contains a NUL character, which PostgreSQL cannot store")
    return value


def _record(row: Sequence[Any], now: float, stale_after: float) -> RunRecord:
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


def _param_rows(run_id: str, params: Mapping[str, Any]) -> list[tuple]:
    from aquarium.query import param_text

    rows = []
    for key, value in flatten(params).items():
        _text("param key", key)
        number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        text = param_text(value).replace("\x00", "\ufffd")  # the JSON form keeps the exact value
        rows.append((run_id, key, json.dumps(value), number, text))
    return rows


class PostgresStore(Store):
    """A :class:`aquarium.interfaces.Store` on a PostgreSQL database (see the module docstring).

    Artifacts go to ``artifacts`` (``AQUARIUM_ARTIFACTS``: a shared folder or an fsspec URL);
    without it, storing an artifact raises :class:`StoreError` naming the variable.
    """

    name = "postgresql"

    def __init__(self, uri: str, *, artifacts: str | None = None, pool_size: int = POOL_SIZE,
                 timeout: float = CONNECT_TIMEOUT) -> None:
        self.uri = safe_uri(uri)
        self.connect_uri = uri
        self._secrets = _secrets(uri)
        self._conninfo = uri
        self._timeout = timeout
        self._pool_size = pool_size
        try:
            params = conninfo_to_dict(uri)
        except psycopg.Error as error:
            raise StoreError(f"bad PostgreSQL URI {self.uri}: {_one_line(error, self._secrets)}") from None
        host = params.get("host") or os.environ.get("PGHOST") or "localhost"
        port = params.get("port") or os.environ.get("PGPORT") or "5432"
        user = params.get("user") or os.environ.get("PGUSER")
        database = params.get("dbname") or os.environ.get("PGDATABASE") or user or "(default)"
        self.where = f"{host}:{port}/{database}"
        self._kwargs: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in params and "PGCONNECT_TIMEOUT" not in os.environ:
            self._kwargs["connect_timeout"] = max(1, round(timeout))
        if "application_name" not in params and "PGAPPNAME" not in os.environ:
            self._kwargs["application_name"] = "aquarium"
        self._artifacts_location = artifacts
        self.artifacts = ArtifactRepository(artifacts) if artifacts else None
        self._lock = threading.Lock()
        self._pool: ConnectionPool | None = None
        self._in_use = 0
        self._pid = os.getpid()
        with self._direct() as conn:
            migrate(conn, where=f"the database at {self.where}")
            self.read_only = self._detect_read_only(conn)
            (icu,) = conn.execute("SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu')"
                                  " AND current_setting('server_encoding') = 'UTF8'").fetchone()
            self._lower_collation = "und-x-icu" if icu else None

    def __repr__(self) -> str:
        return f"<PostgresStore {self.uri}>"

    # -- connections ------------------------------------------------------------------------------
    def _fail(self, error: BaseException, doing: str = "cannot connect to") -> StoreError:
        return StoreError(f"{doing} the PostgreSQL store at {self.where}: {_one_line(error, self._secrets)}")

    @contextlib.contextmanager
    def _direct(self) -> Iterator[psycopg.Connection]:
        """A connection outside the pool (opening the store, diagnosing a failure)."""
        try:
            conn = psycopg.connect(self._conninfo, **self._kwargs)
        except psycopg.Error as error:
            raise self._fail(error) from None
        try:
            yield conn
        except psycopg.errors.InsufficientPrivilege as error:  # e.g. a read-only role on a database nobody set up
            raise self._fail(error, "the role lacks a privilege on Aquarium's tables in") from None
        except psycopg.Error as error:
            raise self._fail(error, "cannot open") from None
        finally:
            conn.close()

    def _detect_read_only(self, conn: psycopg.Connection) -> bool:
        checks = " AND ".join(f"has_table_privilege('{table}', '{privilege}')" for table, privilege in WRITE_PRIVILEGES)
        (read_only,) = conn.execute(
            f"SELECT current_setting('transaction_read_only') = 'on' OR pg_is_in_recovery() OR NOT ({checks})"
        ).fetchone()
        return bool(read_only)

    @staticmethod
    def _configure(conn: psycopg.Connection) -> None:
        """Session settings of every pooled connection.

        Searches join runs to params, tags and summaries. Right after a burst of new runs (a
        job array starting) the planner's statistics still describe near-empty tables, and a
        nested loop it then picks costs O(runs²) (90 ms instead of 2 ms for 1,000 runs; seconds
        for 10,000). Hash joins stay linear whatever the statistics say, and Aquarium's other
        statements join nothing, so nested loops are off for its sessions."""
        conn.execute("SET enable_nestloop = off")

    @staticmethod
    def _check(conn: psycopg.Connection) -> None:
        if time.monotonic() - getattr(conn, "_aquarium_used", 0.0) > CHECK_AFTER:
            ConnectionPool.check_connection(conn)

    def _get_pool(self) -> ConnectionPool:
        if self._pid != os.getpid():  # forked: start afresh, leave the parent's connections alone
            if self._pool is not None:
                _ABANDONED.append(self._pool)
            self._pool, self._pid, self._lock, self._in_use = None, os.getpid(), threading.Lock(), 0
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    self._pool = ConnectionPool(
                        self._conninfo, kwargs=self._kwargs, min_size=1, max_size=self._pool_size,
                        timeout=self._timeout, check=self._check, configure=self._configure, name="aquarium",
                        open=False,
                    )
                    self._pool.open(wait=False)
                pool = self._pool
        return pool

    def _replace_pool(self, old: ConnectionPool) -> None:
        """Drop a pool stuck in its reconnection back-off (the server was away and is back)."""
        with self._lock:
            if self._pool is not old:
                return
            self._pool = None
        threading.Thread(target=old.close, name="aquarium-pool-close", daemon=True).start()

    def _checkout(self) -> tuple[psycopg.Connection, ConnectionPool]:
        """A pooled connection. When none comes quickly, a direct attempt tells a server that is
        away (fail now, with its reason) from a busy pool (wait on) and from a pool still
        backing off after an outage (replace it: the server answers again)."""
        deadline = time.monotonic() + self._timeout
        pool = self._get_pool()
        try:
            return pool.getconn(timeout=min(QUICK_WAIT, self._timeout)), pool
        except PoolTimeout:
            pass
        try:
            psycopg.connect(self._conninfo, **self._kwargs).close()
        except psycopg.Error as error:
            raise self._fail(error) from None
        if self._in_use < self._pool_size:
            self._replace_pool(pool)
            pool = self._get_pool()
        try:
            return pool.getconn(timeout=max(0.1, deadline - time.monotonic())), pool
        except PoolTimeout:
            raise StoreError(f"no connection to the PostgreSQL store at {self.where} came free within "
                             f"{self._timeout:g} s (pool of {self._pool_size})") from None

    @contextlib.contextmanager
    def _connection(self) -> Iterator[psycopg.Connection]:
        conn, pool = self._checkout()
        with self._lock:
            self._in_use += 1
        try:
            yield conn
            conn._aquarium_used = time.monotonic()  # type: ignore[attr-defined]
        except BaseException:
            if not conn.broken and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                with contextlib.suppress(psycopg.Error):
                    conn.execute("ROLLBACK")
            raise
        finally:
            with self._lock:
                self._in_use -= 1
            pool.putconn(conn)

    def _call(self, action: Callable[[psycopg.Connection], Any], *, retry: bool = False) -> Any:
        """``action(conn)`` on a pooled connection, psycopg errors turned into ``StoreError``
        (the run- and value-shaped ones are raised by ``action`` itself). ``retry`` repeats an
        idempotent action once when the connection turns out dead (the server restarted)."""
        for attempt in (0, 1):
            try:
                with self._connection() as conn:
                    return action(conn)
            except psycopg.OperationalError as error:  # a dropped connection, a deadlock, a restart
                if retry and attempt == 0 and not isinstance(error, pg_errors.QueryCanceled):
                    continue
                lost = error.sqlstate is None or error.sqlstate.startswith(("08", "57P"))
                raise self._fail(error, "lost the connection to" if lost else "error in") from None
            except (pg_errors.InsufficientPrivilege, pg_errors.ReadOnlySqlTransaction) as error:
                raise StoreError(f"the PostgreSQL store at {self.where} is read-only for this role: "
                                 f"{_one_line(error, self._secrets)}") from None
            except psycopg.Error as error:
                raise self._fail(error, "error in") from None
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _transaction(self, conn: psycopg.Connection, begin: str = "BEGIN", *,
                     binary: bool = False) -> Iterator[psycopg.Cursor]:
        """``begin`` ... ``COMMIT``; on an exception :meth:`_connection` rolls back. ``binary``
        results load faster (numbers arrive as machine values, not text to parse)."""
        conn.execute(begin)
        with conn.cursor(binary=binary) as cur:
            yield cur
        conn.execute("COMMIT")

    def _writable(self) -> None:
        if self.read_only:
            raise StoreError(f"the PostgreSQL store at {self.where} is read-only for this role")

    def close(self) -> None:
        """Close the pool's connections (a later call opens a new pool)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close()

    # -- writes -------------------------------------------------------------------------------------
    def create_run(self, record: RunRecord) -> None:
        self._writable()
        for what in ("id", "name", "experiment", "group", "status", "parent", "notes", "error"):
            _text(f"run {what}", getattr(record, what))
        for key, value in record.tags.items():
            _text("tag key", key)
            _text(f"tag {key!r}", value)
        source = serialization.dumps(record.source) if record.source else None
        params = _param_rows(record.id, record.params)
        tags = [(record.id, k, v) for k, v in record.tags.items()]

        def action(conn: psycopg.Connection) -> None:
            try:
                with conn.pipeline(), self._transaction(conn) as cur:
                    cur.execute(
                        f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) VALUES ({', '.join(['%s'] * 15)})",
                        (record.id, record.name, record.experiment, record.group, record.status, record.created,
                         record.started, record.ended, record.heartbeat, record.parent, record.notes,
                         record.error, json.dumps(record.params), json.dumps(record.directions), source))
                    if params:
                        cur.executemany("INSERT INTO params (run_id, key, value, num, txt) VALUES (%s, %s, %s, %s, %s)",
                                        params)
                    if tags:
                        cur.executemany("INSERT INTO tags (run_id, key, value) VALUES (%s, %s, %s)", tags)
            except pg_errors.UniqueViolation as error:
                if error.diag.constraint_name == "runs_pkey":
                    raise ValueError(f"a run with id {record.id!r} exists already") from None
                raise

        self._call(action)

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
        self._writable()
        fields: dict[str, Any] = {
            "status": _text("status", status), "started": started, "ended": ended, "heartbeat": heartbeat,
            "error": _text("error", error), "notes": _text("notes", notes),
        }
        changes = {k: v for k, v in fields.items() if v is not None}
        tag_rows = [(run_id, _text("tag key", k), _text(f"tag {k!r}", v)) for k, v in (tags or {}).items()]
        param_rows = _param_rows(run_id, params) if params is not None else None
        if params is not None:
            changes["params"] = json.dumps(params)

        def simple(conn: psycopg.Connection) -> None:
            if changes:
                cur = conn.execute(f"UPDATE runs SET {', '.join(f'{k} = %s' for k in changes)} WHERE id = %s",
                                   (*changes.values(), run_id))
                found = cur.rowcount > 0
            else:
                found = conn.execute("SELECT 1 FROM runs WHERE id = %s", (run_id,)).fetchone() is not None
            if not found:
                raise RunNotFoundError(run_id)

        def full(conn: psycopg.Connection) -> None:
            with self._transaction(conn) as cur:
                row = cur.execute("SELECT directions FROM runs WHERE id = %s FOR NO KEY UPDATE",
                                  (run_id,)).fetchone()
                if row is None:
                    raise RunNotFoundError(run_id)
                if directions is not None:
                    changes["directions"] = json.dumps({**json.loads(row[0]), **directions})
                with conn.pipeline():
                    if param_rows is not None:
                        cur.execute("DELETE FROM params WHERE run_id = %s", (run_id,))
                        if param_rows:
                            cur.executemany("INSERT INTO params (run_id, key, value, num, txt)"
                                            " VALUES (%s, %s, %s, %s, %s)", param_rows)
                    if tag_rows:
                        cur.executemany("INSERT INTO tags (run_id, key, value) VALUES (%s, %s, %s)"
                                        " ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value", tag_rows)
                    if changes:
                        cur.execute(f"UPDATE runs SET {', '.join(f'{k} = %s' for k in changes)} WHERE id = %s",
                                    (*changes.values(), run_id))

        # every update is idempotent (the same values again), so a dead connection is retried once
        self._call(full if (tag_rows or params is not None or directions is not None) else simple, retry=True)

    def write_batch(
        self,
        run_id: str,
        writer_id: str,
        seq: int,
        columns: Mapping[str, MetricSeries],
        heartbeat: float | None = None,
    ) -> bool:
        """One transaction holding the run's row lock (``FOR NO KEY UPDATE``): writers of the
        same run, in any number of processes, take turns, so chunk numbers and summary merges
        never race; writers of different runs never wait for each other."""
        self._writable()
        series = {key: s for key, s in columns.items() if len(s)}
        for key in series:
            _text("metric key", key)
        keys = list(series)
        packed = {key: list(pack(s)) for key, s in series.items()}
        fresh = {key: MetricSummary.of(s) for key, s in series.items()}

        def action(conn: psycopg.Connection) -> bool:
            with conn.pipeline():  # one round trip: begin, lock the run, claim the batch, read summaries
                conn.execute("BEGIN")
                found = conn.execute("SELECT 1 FROM runs WHERE id = %s FOR NO KEY UPDATE", (run_id,))
                claim = conn.execute("INSERT INTO writes (run_id, writer_id, seq) SELECT %s, %s, %s"
                                     " WHERE EXISTS (SELECT 1 FROM runs WHERE id = %s) ON CONFLICT DO NOTHING",
                                     (run_id, writer_id, seq, run_id))
                stored = conn.execute(f"SELECT key, chunks, {_SUMMARY_SELECT} FROM summaries"
                                      " WHERE run_id = %s AND key = ANY(%s::text[])", (run_id, keys)) if keys else None
            if found.fetchone() is None:
                raise RunNotFoundError(run_id)
            if claim.rowcount == 0:  # stored before (a replay): nothing to do
                conn.execute("ROLLBACK")
                return False
            previous = {row[0]: row[1:] for row in stored.fetchall()} if stored is not None else {}
            chunks, summaries = [], []
            for key in keys:
                before = previous.get(key)
                first_chunk = before[0] if before is not None else 0
                summary = summary_from_row(before[1:]).merge(fresh[key]) if before is not None else fresh[key]
                parts = packed[key]
                chunks += [(run_id, key, first_chunk + i, *part) for i, part in enumerate(parts)]
                summaries.append((run_id, key, first_chunk + len(parts), *summary_row(summary)))
            with conn.pipeline(), conn.cursor() as cur:  # and one more: points, summaries, heartbeat, commit
                if chunks:
                    cur.executemany(_CHUNK_INSERT, chunks)
                if summaries:
                    cur.executemany(_SUMMARY_UPSERT, summaries)
                if heartbeat is not None:
                    cur.execute("UPDATE runs SET heartbeat = %s WHERE id = %s", (heartbeat, run_id))
                cur.execute("COMMIT")
            return True

        return self._call(action, retry=True)  # a replayed batch is recognised: retrying is safe

    def put_artifact(self, run_id: str, artifact: Artifact, path: str | os.PathLike) -> Artifact:
        name = artifact_name(artifact.name)
        self._writable()
        if self.artifacts is None:
            raise StoreError(
                f"cannot store artifact {name!r} of run {run_id}: the PostgreSQL store keeps artifact files "
                f"under {ARTIFACTS_VARIABLE} (a folder every machine shares, or an fsspec URL such as "
                f"s3://bucket/aquarium), and {ARTIFACTS_VARIABLE} is not set")
        self._require(run_id)
        uri, size, sha256 = self.artifacts.put(run_id, name, path)
        stored = Artifact(name, size, sha256, artifact.kind, dict(artifact.metadata), artifact.created, uri)

        def action(conn: psycopg.Connection) -> None:
            cur = conn.execute(
                "INSERT INTO artifacts (run_id, name, kind, size, sha256, metadata, created, uri)"
                " SELECT %s, %s, %s, %s, %s, %s, %s, %s WHERE EXISTS (SELECT 1 FROM runs WHERE id = %s)"
                " ON CONFLICT (run_id, name) DO UPDATE SET kind = EXCLUDED.kind, size = EXCLUDED.size,"
                " sha256 = EXCLUDED.sha256, metadata = EXCLUDED.metadata, created = EXCLUDED.created,"
                " uri = EXCLUDED.uri",
                (run_id, name, stored.kind, size, sha256, json.dumps(stored.metadata), stored.created, uri, run_id))
            if cur.rowcount == 0:
                raise RunNotFoundError(run_id)

        self._call(action, retry=True)
        return stored

    def delete_run(self, run_id: str) -> None:
        self._writable()

        def action(conn: psycopg.Connection) -> int:
            with self._transaction(conn) as cur:
                (count,) = cur.execute("SELECT count(*) FROM artifacts WHERE run_id = %s", (run_id,)).fetchone()
                if cur.execute("DELETE FROM runs WHERE id = %s", (run_id,)).rowcount == 0:
                    raise RunNotFoundError(run_id)
            return count

        artifacts = self._call(action)
        if self.artifacts is not None:
            self.artifacts.delete_run(run_id)
        elif artifacts:
            log.warning("aquarium: run %s is deleted, but its %d artifact file(s) stay where they are: "
                        "%s is not set", run_id, artifacts, ARTIFACTS_VARIABLE)

    # -- reads --------------------------------------------------------------------------------------
    def _require(self, run_id: str) -> None:
        def action(conn: psycopg.Connection) -> bool:
            return conn.execute("SELECT 1 FROM runs WHERE id = %s", (run_id,)).fetchone() is not None

        if not self._call(action, retry=True):
            raise RunNotFoundError(run_id)

    def _records(self, where: str = "", args: Mapping[str, Any] | None = None, *, joins: str = "",
                 order: str = "", window: str = "") -> list[RunRecord]:
        """Runs selected by ``FROM runs {joins} {where} {order} {window}`` with their tags and
        summaries: one round trip (a pipeline) holding one repeatable-read transaction, whose
        tag and summary queries repeat the selection as a subquery (no id lists)."""
        args = args or {}
        if where or window:
            subquery = f"SELECT runs.id FROM runs {joins if window else ''} {where} {order if window else ''} {window}"
            selection = f"WHERE run_id IN ({subquery})"
        else:
            selection = ""

        def action(conn: psycopg.Connection) -> list[RunRecord]:
            try:
                with conn.pipeline():
                    conn.execute(_READ)
                    runs = conn.cursor(binary=True).execute(
                        f"SELECT {_RUN_SELECT} FROM runs {joins} {where} {order} {window}", args)
                    tags = conn.cursor(binary=True).execute(f"SELECT run_id, key, value FROM tags {selection}", args)
                    summaries = conn.cursor(binary=True).execute(
                        f"SELECT run_id, key, {_SUMMARY_SELECT} FROM summaries {selection} ORDER BY run_id, key", args)
                    conn.execute("COMMIT")
            except pg_errors.InvalidRegularExpression:
                raise NeedsPython("PostgreSQL refused a translated regular expression") from None
            now, stale_after = time.time(), heartbeat_timeout()
            records = {row[0]: _record(row, now, stale_after) for row in runs.fetchall()}
            for run_id, key, value in tags.fetchall():
                record = records.get(run_id)
                if record is not None:
                    record.tags[key] = value
            for row in summaries.fetchall():
                record = records.get(row[0])
                if record is not None:
                    record.summaries[row[1]] = summary_from_row(row[2:])
            return list(records.values())

        return self._call(action, retry=True)

    def get_run(self, run_id: str) -> RunRecord:
        found = self._records("WHERE runs.id = %(id)s", {"id": run_id})
        if not found:
            raise RunNotFoundError(run_id)
        record = found[0]

        def action(conn: psycopg.Connection) -> list[tuple]:
            return conn.execute("SELECT name, kind, size, sha256, metadata, created, uri FROM artifacts"
                                " WHERE run_id = %s ORDER BY name", (run_id,)).fetchall()

        for name, kind, size, sha256, metadata, created, uri in self._call(action, retry=True):
            record.artifacts.append(Artifact(name, size, sha256, kind, json.loads(metadata), created, uri))
        return record

    def list_runs(self, experiment: str | None = None) -> list[RunRecord]:
        order = "ORDER BY runs.created DESC, runs.id DESC"
        if experiment is None:
            return self._records(order=order)
        return self._records("WHERE runs.experiment = %(experiment)s", {"experiment": experiment}, order=order)

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
        try:
            compiled = PostgresCompiler(directions=directions, lower_collation=self._lower_collation).compile(
                query, experiment=experiment, order_by=order_by, limit=limit, offset=offset)
        except NeedsPython:  # a regular expression PostgreSQL might read differently: ask Python
            return Store.search(self, query, experiment=experiment, order_by=order_by, limit=limit,
                                offset=offset, directions=directions)
        try:
            return self._records(compiled.where, compiled.args, joins=compiled.joins, order=compiled.order,
                                 window=compiled.window)
        except NeedsPython:
            return Store.search(self, query, experiment=experiment, order_by=order_by, limit=limit,
                                offset=offset, directions=directions)

    def history(
        self,
        run_id: str,
        keys: Sequence[str] | None = None,
        *,
        start_step: int | None = None,
        end_step: int | None = None,
        max_points: int | None = None,
    ) -> dict[str, MetricSeries]:
        sql = "SELECT key, steps, vals, times FROM metric_chunks WHERE run_id = %s"
        args: list[Any] = [run_id]
        if keys is not None:
            sql += " AND key = ANY(%s::text[])"
            args.append([keys] if isinstance(keys, str) else list(keys))
        if start_step is not None:
            sql += " AND max_step >= %s"
            args.append(start_step)
        if end_step is not None:
            sql += " AND min_step <= %s"
            args.append(end_step)

        def action(conn: psycopg.Connection) -> tuple[list[tuple], bool]:
            with conn.cursor(binary=True) as cur:
                rows = cur.execute(sql + " ORDER BY key, seq", args).fetchall()
            exists = bool(rows) or conn.execute("SELECT 1 FROM runs WHERE id = %s", (run_id,)).fetchone() is not None
            return rows, exists

        rows, exists = self._call(action, retry=True)
        if not exists:
            raise RunNotFoundError(run_id)
        return unpack(rows, start_step=start_step, end_step=end_step, max_points=max_points)

    def summaries(self, run_id: str) -> dict[str, MetricSummary]:
        def action(conn: psycopg.Connection) -> tuple[list[tuple], bool]:
            rows = conn.execute(f"SELECT key, {_SUMMARY_SELECT} FROM summaries WHERE run_id = %s ORDER BY key",
                                (run_id,)).fetchall()
            exists = bool(rows) or conn.execute("SELECT 1 FROM runs WHERE id = %s", (run_id,)).fetchone() is not None
            return rows, exists

        rows, exists = self._call(action, retry=True)
        if not exists:
            raise RunNotFoundError(run_id)
        return {key: summary_from_row(rest) for key, *rest in rows}

    def ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        def action(conn: psycopg.Connection) -> list[str]:
            rows = conn.execute("SELECT id FROM runs WHERE id >= %s AND id < %s ORDER BY id LIMIT %s",
                                (prefix, prefix + "\U0010ffff", limit)).fetchall()
            return [row[0] for row in rows]

        return self._call(action, retry=True)

    def read_artifact(self, run_id: str, name: str) -> bytes:
        name = artifact_name(name)

        def action(conn: psycopg.Connection) -> tuple | None:
            return conn.execute("SELECT uri FROM artifacts WHERE run_id = %s AND name = %s",
                                (run_id, name)).fetchone()

        row = self._call(action, retry=True)
        if row is None:
            self._require(run_id)
            raise KeyError(f"run {run_id!r} has no artifact {name!r}")
        if self.artifacts is not None:
            return self.artifacts.read(run_id, name)
        uri = row[0]
        if uri and os.path.isabs(uri) and os.path.isfile(uri):  # a shared folder mounted at the same path
            with open(uri, "rb") as file:
                return file.read()
        raise StoreError(f"cannot read artifact {name!r} of run {run_id} (stored at {uri}): "
                         f"set {ARTIFACTS_VARIABLE} to where the PostgreSQL store's artifact files are")
