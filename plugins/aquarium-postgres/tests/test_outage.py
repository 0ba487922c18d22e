"""A trainer that loses its PostgreSQL server keeps training and loses nothing (issue 6).

A private cluster (never the shared server) is stopped under a logging run and started
again; the offline spool takes over, and its journal is replayed exactly once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import aquarium
from aquarium.spool import pending_journals
from aquarium_postgres.testing import PrivateCluster


@pytest.fixture
def cluster(tmp_path, monkeypatch):
    monkeypatch.setenv("AQUARIUM_SPOOL", str(tmp_path / "spool"))
    monkeypatch.setenv("AQUARIUM_ARTIFACTS", str(tmp_path / "artifacts"))
    with PrivateCluster() as server:
        yield server


def wait_for(condition, seconds=60.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.mark.slow
def test_server_restart_while_logging_loses_nothing(cluster):
    run = aquarium.start_run(name="through-outage", store=cluster.url(), capture_source=False,
                             flush_interval=0.2, spool_after=2.0)
    logged = 0
    errors: list[BaseException] = []
    stop = threading.Event()

    def train():
        nonlocal logged
        try:
            while not stop.is_set():
                run.log({"loss": 1.0 / (logged + 1), "acc": logged / 1e6}, step=logged)
                logged += 1
                if logged % 1000 == 0:
                    time.sleep(0.01)
        except BaseException as error:  # the run must never raise
            errors.append(error)

    trainer = threading.Thread(target=train)
    trainer.start()
    time.sleep(1.5)
    cluster.stop()
    wait_for(lambda: pending_journals())          # past spool_after, the journal took over
    time.sleep(10 - 2)                             # the server is away for about 10 s in all
    cluster.start()
    time.sleep(2.0)
    stop.set()
    trainer.join()
    run.finish()
    assert errors == []
    store = aquarium.open_store(cluster.url())
    series = store.history(run.id)
    assert series["loss"].steps.tolist() == list(range(logged))  # every point, exactly once, in order
    assert np.array_equal(series["loss"].values, 1.0 / (np.arange(logged) + 1))
    assert store.summaries(run.id)["acc"].count == logged
    assert store.get_run(run.id).status == "completed"
    assert pending_journals() == []


@pytest.mark.slow
def test_server_away_until_the_process_exits_then_sync(cluster, tmp_path):
    store = aquarium.open_store(cluster.url())    # the schema exists before the outage
    script = textwrap.dedent(f"""
        import sys, aquarium
        run = aquarium.start_run(name="offline", store={cluster.url()!r}, capture_source=False,
                                 flush_interval=0.1, spool_after=1.0)
        print(run.id, flush=True)
        sys.stdin.readline()                      # the parent stops the server now
        for step in range(20_000):
            run.log({{"loss": 1.0 / (step + 1)}}, step=step)
        run.finish()
    """)
    child = subprocess.Popen([sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=os.environ.copy())
    run_id = child.stdout.readline().strip()
    cluster.stop()
    child.stdin.write("go\n")
    child.stdin.flush()
    _, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert "aquarium sync" in err and "secret" not in err
    cluster.start()
    sync = subprocess.run([sys.executable, "-m", "aquarium", "sync"], capture_output=True, text=True, timeout=120,
                          env=os.environ.copy())
    assert sync.returncode == 0, sync.stdout + sync.stderr
    assert "delivered" in sync.stdout
    record = store.get_run(run_id)
    assert record.status == "completed" and record.summaries["loss"].count == 20_000
    assert store.history(run_id)["loss"].steps.tolist() == list(range(20_000))
