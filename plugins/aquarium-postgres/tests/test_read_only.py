"""A role that cannot write: ``store.read_only`` says so (dashboards turn editing off), reads
work, and writes fail with one clear line. The grants are the ones docs/postgres.md shows."""

from __future__ import annotations

import secrets
import urllib.parse

import psycopg
import pytest

from aquarium.errors import StoreError
from aquarium.ids import new_run_id
from aquarium.model import RunRecord
from aquarium.testing import make_series
from aquarium_postgres.store import PostgresStore


def as_role(url: str, role: str) -> str:
    parts = urllib.parse.urlsplit(url)
    netloc = f"{role}@{parts.hostname}:{parts.port or 5432}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


@pytest.fixture
def reader(pg_store, pg_url):
    """(a store opened as a dashboard role with SELECT only, the writer's store)."""
    record = RunRecord(id=new_run_id(), name="seen", params={"lr": 0.1})
    pg_store.create_run(record)
    pg_store.write_batch(record.id, "w", 0, {"loss": make_series("loss", [1.0, 0.5])})
    role = f"aq_dashboard_{secrets.token_hex(4)}"
    schema = pg_url.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(pg_url, autocommit=True) as admin:
        database = admin.info.dbname
        for statement in (  # as in docs/postgres.md, "A read-only role for dashboards"
            f"CREATE ROLE {role} LOGIN",
            f'GRANT CONNECT ON DATABASE "{database}" TO {role}',
            f"GRANT USAGE ON SCHEMA {schema} TO {role}",
            f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT SELECT ON TABLES TO {role}",
        ):
            admin.execute(statement)
    store = PostgresStore(as_role(pg_url, role))
    yield store, pg_store
    store.close()
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(f"DROP OWNED BY {role}")
        admin.execute(f"DROP ROLE {role}")


def test_a_select_only_role_reads_and_cannot_write(reader):
    store, writer = reader
    assert store.read_only is True and writer.read_only is False
    (run,) = store.list_runs()
    assert run.name == "seen" and run.summaries["loss"].count == 2
    assert [r.name for r in store.search("params.lr = 0.1")] == ["seen"]
    assert len(store.history(run.id)["loss"]) == 2
    attempts = [
        lambda: store.create_run(RunRecord(id=new_run_id(), name="x")),
        lambda: store.update_run(run.id, notes="edited"),
        lambda: store.write_batch(run.id, "w", 1, {"loss": make_series("loss", [0.1])}),
        lambda: store.delete_run(run.id),
    ]
    for attempt in attempts:
        with pytest.raises(StoreError, match="read-only"):
            attempt()
    store.read_only = False  # even unwarned, the server refuses, and the error says why in one line
    with pytest.raises(StoreError, match="read-only for this role") as caught:
        store.update_run(run.id, notes="edited")
    assert "\n" not in str(caught.value)
    assert writer.get_run(run.id).notes == ""


def test_a_read_only_session_is_read_only(pg_store, pg_url):
    url = pg_url.replace("options=-csearch_path", "options=-cdefault_transaction_read_only%3Don%20-csearch_path")
    store = PostgresStore(url)
    try:
        assert store.read_only is True
        assert store.list_runs() == []
    finally:
        store.close()
