"""A real PostgreSQL server for every test (no mocks, nothing skipped).

The server is ``AQUARIUM_TEST_POSTGRES`` (default: the one on this machine,
``postgresql://postgres@127.0.0.1:5432/test``). When nothing answers there, the session starts
a private cluster (recipes.md §5). Either way the session works in its own database,
``aquarium_test_<random>``, dropped at the end; each test that wants a fresh store gets a
fresh schema in it (a store creates its schema and tables on first open).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import psycopg
import pytest

from aquarium_postgres.store import PostgresStore
from aquarium_postgres.testing import PrivateCluster, with_database, with_schema

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def pg_server(request: pytest.FixtureRequest) -> Iterator[str]:
    """A URI of a server where the tests may create databases."""
    url = os.environ.get("AQUARIUM_TEST_POSTGRES") or DEFAULT_SERVER
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError as error:
        reporter = request.config.pluginmanager.get_plugin("terminalreporter")
        reason = " ".join(str(error).split())
        if reporter is not None:
            reporter.write_line(f"aquarium-postgres: no server at {url} ({reason}); starting a private cluster")
        with PrivateCluster() as cluster:
            yield cluster.url()
        return
    yield url


@pytest.fixture(scope="session")
def pg_database(pg_server: str) -> Iterator[str]:
    """A URI of this session's own database, dropped at the end."""
    name = f"aquarium_test_{secrets.token_hex(4)}"
    with psycopg.connect(pg_server, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(pg_server, name)
    finally:
        with psycopg.connect(pg_server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url(pg_database: str) -> str:
    """A URI whose tables go to a schema no other test uses."""
    return with_schema(pg_database, f"t_{secrets.token_hex(6)}")


@pytest.fixture
def pg_store(pg_url: str, tmp_path) -> Iterator[PostgresStore]:
    """A fresh, empty store with artifacts in a temp folder."""
    store = PostgresStore(pg_url, artifacts=str(tmp_path / "artifacts"))
    store.list_runs()  # open the pool now, not while hypothesis draws examples (it watches `random`)
    yield store
    store.close()
