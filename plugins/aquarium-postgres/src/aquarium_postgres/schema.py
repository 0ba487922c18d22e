"""The PostgreSQL schema: versioned, migrated forward, safe to create from many processes at once.

The layout is the one the SQLite store uses (DESIGN.md, "Storage layout"): metric points as
chunks of packed little-endian arrays (``bytea``), one summary row per (run, key), and a
``writes`` table that makes ``write_batch`` idempotent per (run, writer id, sequence number).
Text that queries compare or sort is ``COLLATE "C"`` (code-point order, as in SQLite and
Python). Two columns exist only here: ``summaries.chunks`` (how many chunks the key has: the
next chunk's number, read with the summary under the run's row lock) and ``params.txt``
(the param as text, as the query language compares it).

Opening a store applies the missing migrations in one transaction under an advisory lock, so
a job array of a thousand trainers starting at once creates the tables exactly once. A
database migrated by a newer ``aquarium-postgres`` is refused, never downgraded.
"""

from __future__ import annotations

import time
from typing import Any

from psycopg import sql

from aquarium.errors import StoreError

#: The version this code writes; a database at a higher version is refused.
SCHEMA_VERSION = 2

#: Advisory lock class ids (the first of the two int4 keys), "AQUA" and "AQUR".
SCHEMA_LOCK = 0x41515541
RUN_LOCK = 0x41515552

_C = 'COLLATE "C"'

#: version -> statements that take a database from the version before to this one.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        f"""CREATE TABLE runs (
            id text {_C} PRIMARY KEY, name text {_C} NOT NULL, experiment text {_C} NOT NULL,
            grp text {_C}, status text {_C} NOT NULL, created float8 NOT NULL, started float8,
            ended float8, heartbeat float8, parent text {_C}, notes text {_C} NOT NULL DEFAULT '',
            error text {_C}, params text NOT NULL DEFAULT '{{}}', directions text NOT NULL DEFAULT '{{}}',
            source text
        ) WITH (fillfactor = 80)""",  # room for heartbeat updates in place (HOT)
        "CREATE INDEX runs_by_created ON runs (created DESC, id DESC)",
        "CREATE INDEX runs_by_experiment ON runs (experiment, created DESC, id DESC)",
        f"""CREATE TABLE params (
            run_id text {_C} NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            key text {_C} NOT NULL, value text NOT NULL, num float8, txt text {_C} NOT NULL,
            PRIMARY KEY (run_id, key)
        )""",
        f"""CREATE TABLE tags (
            run_id text {_C} NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            key text {_C} NOT NULL, value text {_C} NOT NULL,
            PRIMARY KEY (run_id, key)
        )""",
        f"""CREATE TABLE metric_chunks (
            run_id text {_C} NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            key text {_C} NOT NULL, seq int4 NOT NULL, n int4 NOT NULL,
            min_step int8 NOT NULL, max_step int8 NOT NULL,
            steps bytea NOT NULL, vals bytea NOT NULL, times bytea NOT NULL,
            PRIMARY KEY (run_id, key, seq)
        )""",
        # out of line, uncompressed: pglz costs ~20 ms per 80 kB chunk and packed float64 hardly shrinks
        "ALTER TABLE metric_chunks ALTER COLUMN steps SET STORAGE EXTERNAL",
        "ALTER TABLE metric_chunks ALTER COLUMN vals SET STORAGE EXTERNAL",
        "ALTER TABLE metric_chunks ALTER COLUMN times SET STORAGE EXTERNAL",
        f"""CREATE TABLE summaries (
            run_id text {_C} NOT NULL REFERENCES runs (id) ON DELETE CASCADE, key text {_C} NOT NULL,
            chunks int4 NOT NULL,
            count int8 NOT NULL, first float8, first_step int8 NOT NULL, first_time float8 NOT NULL,
            last float8, last_step int8 NOT NULL, last_time float8 NOT NULL,
            min float8, min_step int8, min_time float8, max float8, max_step int8, max_time float8,
            PRIMARY KEY (run_id, key)
        )""",
        f"""CREATE TABLE writes (
            run_id text {_C} NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
            writer_id text NOT NULL, seq int8 NOT NULL,
            PRIMARY KEY (run_id, writer_id, seq)
        )""",
        f"""CREATE TABLE artifacts (
            run_id text {_C} NOT NULL REFERENCES runs (id) ON DELETE CASCADE, name text {_C} NOT NULL,
            kind text NOT NULL, size int8 NOT NULL, sha256 text NOT NULL,
            metadata text NOT NULL DEFAULT '{{}}', created float8 NOT NULL, uri text,
            PRIMARY KEY (run_id, name)
        )""",
    ),
    # Indexes the query language uses (filters on a param, tag or metric of every run).
    2: (
        "CREATE INDEX runs_by_name ON runs (name)",
        "CREATE INDEX params_by_key ON params (key, num)",
        "CREATE INDEX tags_by_key ON tags (key, value)",
        "CREATE INDEX summaries_by_key ON summaries (key, last)",
    ),
}

#: Privileges a role needs to write; lacking any of them makes the store read-only.
WRITE_PRIVILEGES = (
    ("runs", "INSERT"), ("runs", "UPDATE"), ("runs", "DELETE"), ("params", "INSERT"), ("params", "DELETE"),
    ("tags", "INSERT"), ("tags", "UPDATE"), ("metric_chunks", "INSERT"), ("summaries", "INSERT"),
    ("summaries", "UPDATE"), ("writes", "INSERT"), ("artifacts", "INSERT"), ("artifacts", "UPDATE"),
)


def installed_version(conn: Any) -> int:
    """The schema version of the database (0 when Aquarium's tables are not there)."""
    (exists,) = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
        " WHERE n.nspname = current_schema() AND c.relname = 'schema_version')").fetchone()
    if not exists:
        return 0
    (version,) = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
    return int(version)


def _target_schema(conn: Any) -> str:
    """The schema Aquarium's tables go to: the first one of ``search_path`` (created if missing)."""
    current, path, user = conn.execute(
        "SELECT current_schema(), current_setting('search_path'), current_user").fetchone()
    if current is not None:
        return current
    for item in path.split(","):
        item = item.strip()
        if item.startswith('"') and item.endswith('"') and len(item) >= 2:
            return item[1:-1].replace('""', '"')
        if item:
            return user if item == "$user" else item.lower()
    raise StoreError("the PostgreSQL search_path names no schema to create Aquarium's tables in")


def migrate(conn: Any, target: int = SCHEMA_VERSION, *, where: str = "the database") -> int:
    """Bring the schema to ``target`` (``conn`` in autocommit mode); return the version found.

    Without work to do this takes no lock. Otherwise one transaction holds an advisory lock
    (keyed by the schema's name) while it creates the schema if needed, re-reads the version
    and applies each missing migration, so concurrent openers wait and then find it done.
    """
    version = installed_version(conn)
    if version > SCHEMA_VERSION:
        raise StoreError(f"{where} has Aquarium schema version {version}; this aquarium-postgres knows up to "
                         f"{SCHEMA_VERSION}: upgrade aquarium-postgres")
    if version >= target:
        return version
    found = version
    with conn.transaction():
        schema = _target_schema(conn)
        conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", (SCHEMA_LOCK, schema))
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(schema)))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version ("
                     " version int4 PRIMARY KEY, applied float8 NOT NULL)")
        version = installed_version(conn)
        if version > SCHEMA_VERSION:
            raise StoreError(f"{where} has Aquarium schema version {version}; this aquarium-postgres knows up "
                             f"to {SCHEMA_VERSION}: upgrade aquarium-postgres")
        for step in range(version + 1, target + 1):
            for statement in MIGRATIONS[step]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version, applied) VALUES (%s, %s)", (step, time.time()))
    return found
