"""The schema: versions, forward migrations, a newer database refused; NaN in summaries."""

from __future__ import annotations

import math

import psycopg
import pytest

from aquarium.errors import StoreError
from aquarium.ids import new_run_id
from aquarium.model import MetricSeries, RunRecord
from aquarium_postgres.schema import MIGRATIONS, SCHEMA_VERSION, installed_version, migrate
from aquarium_postgres.store import PostgresStore


def test_a_new_database_gets_every_version(pg_store):
    with pg_store._connection() as conn:
        rows = conn.execute("SELECT version FROM schema_version ORDER BY version").fetchall()
        tables = {r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    assert [r[0] for r in rows] == list(range(1, SCHEMA_VERSION + 1)) == sorted(MIGRATIONS)
    assert tables == {"schema_version", "runs", "params", "tags", "metric_chunks", "summaries", "writes",
                      "artifacts"}


def test_an_older_schema_migrates_forward_keeping_its_data(pg_url):
    with psycopg.connect(pg_url, autocommit=True) as conn:
        assert migrate(conn, target=1) == 0
        assert installed_version(conn) == 1
        conn.execute("INSERT INTO runs (id, name, experiment, status, created) VALUES ('old', 'v1 run', 'e',"
                     " 'completed', 1.0)")
        indexes = {r[0] for r in conn.execute("SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}
        assert "summaries_by_key" not in indexes
    store = PostgresStore(pg_url)
    try:
        assert store.get_run("old").name == "v1 run"
        with store._connection() as conn:
            assert installed_version(conn) == SCHEMA_VERSION
            indexes = {r[0] for r in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()")}
        assert {"runs_by_name", "params_by_key", "tags_by_key", "summaries_by_key"} <= indexes
        store.write_batch("old", "w", 0, {"m": MetricSeries("m", [0], [1.0], [1.0])})
        assert store.search("metrics.m = 1")[0].id == "old"
    finally:
        store.close()


def test_a_newer_schema_is_refused(pg_store, pg_url):
    with pg_store._connection() as conn:
        conn.execute("INSERT INTO schema_version (version, applied) VALUES (%s, 0)", (SCHEMA_VERSION + 1,))
    with pytest.raises(StoreError) as caught:
        PostgresStore(pg_url)
    message = str(caught.value)
    assert f"schema version {SCHEMA_VERSION + 1}" in message and "upgrade aquarium-postgres" in message
    assert "\n" not in message


def test_the_schema_named_by_the_search_path_is_created(pg_url):
    schema = pg_url.rsplit("search_path%3D", 1)[1]
    store = PostgresStore(pg_url)
    try:
        with store._connection() as conn:
            assert conn.execute("SELECT current_schema()").fetchone() == (schema,)
    finally:
        store.close()


def test_nan_is_stored_as_null_and_reads_back_identical_either_way(pg_store):
    """NaN fits in a PostgreSQL float8, but the store writes it as NULL (as SQLite must), so the
    query language treats it as missing on every store; rows holding a real NaN read back the same."""
    record = RunRecord(id=new_run_id(), name="nan")
    pg_store.create_run(record)
    series = MetricSeries("m", [0, 1], [math.nan, math.nan], [1.0, 2.0])
    pg_store.write_batch(record.id, "w", 0, {"m": series})
    written = pg_store.summaries(record.id)["m"]
    with pg_store._connection() as conn:
        raw = conn.execute("SELECT first, last, min, max FROM summaries WHERE run_id = %s", (record.id,)).fetchone()
        assert raw == (None, None, None, None)
        conn.execute("UPDATE summaries SET first = 'NaN', last = 'NaN', min = 'NaN', max = 'NaN'"
                     " WHERE run_id = %s", (record.id,))
    assert pg_store.summaries(record.id)["m"] == written
    assert math.isnan(written.first) and written.min_step is None
    assert pg_store.history(record.id)["m"] == series  # NaN points themselves are kept as logged
