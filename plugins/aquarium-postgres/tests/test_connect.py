"""Opening a store: the URI schemes, one clear error line per failure, and no password anywhere."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time

import pytest

import aquarium
from aquarium.errors import StoreError
from aquarium.stores import close_stores, open_store
from aquarium_postgres.store import PostgresStore, safe_uri
from aquarium_postgres.testing import PrivateCluster, free_port, with_database

SECRET = "hunter2-s3cr!t"
QUOTED = "hunter2-s3cr%21t"


def one_line_error(uri: str) -> str:
    with pytest.raises(StoreError) as caught:
        open_store(uri)
    message = str(caught.value)
    assert "\n" not in message, message
    assert SECRET not in message and QUOTED not in message and "hunter2" not in message, message
    assert caught.value.__cause__ is None and caught.value.__suppress_context__  # no chained libpq text
    return message


@pytest.fixture(autouse=True)
def _fresh_stores():
    yield
    close_stores()


def test_both_schemes_open_the_store(pg_url):
    for scheme in ("postgresql", "postgres"):
        store = open_store(pg_url.replace("postgresql://", f"{scheme}://", 1))
        assert isinstance(store, PostgresStore) and store.name == "postgresql"
        assert store.read_only is False
        store.list_runs()


def test_uri_attribute_hides_passwords():
    assert safe_uri(f"postgresql://bob:{QUOTED}@db:5432/x") == "postgresql://bob:***@db:5432/x"
    assert safe_uri(f"postgresql://bob@db/x?sslmode=require&password={QUOTED}") == \
        "postgresql://bob@db/x?sslmode=require&password=***"
    assert safe_uri("postgresql://bob@db/x") == "postgresql://bob@db/x"


def test_the_store_uri_is_redacted(pg_database):
    uri = pg_database.replace("://postgres@", f"://postgres:{QUOTED}@")  # trust auth ignores the password
    store = PostgresStore(uri)
    try:
        assert QUOTED not in store.uri and "***" in store.uri
        assert QUOTED not in repr(store)
    finally:
        store.close()


def test_a_missing_database(pg_database):
    message = one_line_error(with_database(pg_database, "aquarium_no_such_db").replace(
        "://postgres@", f"://postgres:{QUOTED}@"))
    assert message.startswith("cannot connect to the PostgreSQL store at ")
    assert '/aquarium_no_such_db: database "aquarium_no_such_db" does not exist' in message


def test_nothing_listening():
    port = free_port()
    message = one_line_error(f"postgresql://bob:{QUOTED}@127.0.0.1:{port}/db")
    assert f"127.0.0.1:{port}/db" in message and "refused" in message.lower()


@pytest.mark.parametrize(("uri", "expected"), [
    (f"postgresql://bob:{QUOTED}@127.0.0.1:notaport/db",
     'invalid integer value "notaport" for connection option "port"'),
    (f"postgresql://bob:{QUOTED}@127.0.0.1:5432/db?colour=blue", 'invalid URI query parameter: "colour"'),
    (f"postgresql://bob:{QUOTED}%zz@127.0.0.1:5432/db", "invalid percent-encoded token"),
    (f"postgresql://bob@127.0.0.1:5432/db?password={QUOTED}&sslmode=bogus", 'invalid sslmode value: "bogus"'),
    (f"postgresql://bob:{QUOTED}@[::1:5432/db", 'matching "]"'),
])
def test_bad_uris(uri, expected):
    message = one_line_error(uri)
    assert expected in message


@pytest.mark.slow
def test_a_wrong_password_and_logs_without_credentials(tmp_path, caplog):
    """A server with password authentication (a private cluster): a wrong password is one
    clear line; the right one works; when the server goes away mid-run, what the flush
    thread and the pool log names no password."""
    with PrivateCluster(password=SECRET) as cluster:
        message = one_line_error(cluster.url(password="wrong-" + SECRET))
        assert f"127.0.0.1:{cluster.port}/postgres" in message
        assert 'password authentication failed for user "aquarium"' in message
        one_line_error(cluster.url())  # no password at all
        uri = cluster.url(password=SECRET)
        caplog.set_level(logging.DEBUG)
        with aquarium.start_run("pw", store=uri, capture_source=False, flush_interval=0.1) as run:
            run.log({"loss": 1.0})
            run.flush()
            cluster.stop()
            run.log({"loss": 0.5})
            time.sleep(3.0)  # the flush thread fails (after QUICK_WAIT) and says so
            cluster.start()
        assert run.store.history(run.id)["loss"].values.tolist() == [1.0, 0.5]
    logged = caplog.text
    assert "cannot write run" in logged  # the failure was logged...
    assert SECRET not in logged and QUOTED not in logged  # ...without the password


def test_cli_errors_and_plugins_show_no_credentials(pg_database):
    env = {**os.environ, "AQUARIUM_STORE": with_database(pg_database, "aquarium_no_such_db").replace(
        "://postgres@", f"://postgres:{QUOTED}@")}
    listed = subprocess.run([sys.executable, "-m", "aquarium", "plugins"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    line = next(li for li in listed.stdout.splitlines() if li.startswith("postgres "))
    assert "aquarium-postgres" in line and "aquarium_register_stores" in line
    assert QUOTED not in listed.stdout + listed.stderr
    failed = subprocess.run([sys.executable, "-m", "aquarium", "runs", "show", "abc"], env=env,
                            capture_output=True, text=True)
    assert failed.returncode == 1
    lines = failed.stderr.strip().splitlines()
    assert len(lines) == 1 and 'database "aquarium_no_such_db" does not exist' in lines[0], failed.stderr
    assert QUOTED not in failed.stdout + failed.stderr and "Traceback" not in failed.stderr


@pytest.mark.slow
def test_a_server_away_fails_fast_and_is_found_again():
    """The store never hangs on a stopped server: it fails with one clear line, and once the
    server is back the next call connects (the pool's reconnection back-off is not waited out)."""
    from aquarium.ids import new_run_id
    from aquarium.model import RunRecord
    from aquarium.testing import make_series

    with PrivateCluster() as cluster:
        store = PostgresStore(cluster.url())
        try:
            record = RunRecord(id=new_run_id(), name="outage")
            store.create_run(record)
            store.write_batch(record.id, "w", 0, {"m": make_series("m", [1.0])})
            cluster.stop()
            for seq in (1, 2):
                started = time.monotonic()
                with pytest.raises(StoreError) as caught:
                    store.write_batch(record.id, "w", seq, {"m": make_series("m", [2.0])})
                assert time.monotonic() - started < 5.0
                message = str(caught.value)
                assert "\n" not in message and f"127.0.0.1:{cluster.port}/postgres" in message, message
            time.sleep(3.0)  # the pool is backing off by now
            cluster.start()
            started = time.monotonic()
            assert store.write_batch(record.id, "w", 1, {"m": make_series("m", [2.0])}) is True
            assert store.write_batch(record.id, "w", 1, {"m": make_series("m", [2.0])}) is False
            assert time.monotonic() - started < 5.0
            assert store.history(record.id)["m"].values.tolist() == [1.0, 2.0]
        finally:
            store.close()
