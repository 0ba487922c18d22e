"""Many writers at once, real processes: separate runs, one shared run, forks, schema creation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest

import aquarium
from aquarium.ids import new_run_id
from aquarium.model import MetricSeries, RunRecord
from aquarium.testing import make_series
from aquarium_postgres.schema import SCHEMA_VERSION
from aquarium_postgres.store import PostgresStore

WORKERS = Path(__file__).with_name("workers.py")


def spawn(role: str, **arguments) -> subprocess.Popen:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("AQUARIUM_STORE", None)
    return subprocess.Popen([sys.executable, str(WORKERS), role, json.dumps(arguments)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def release(barrier: Path, count: int, procs: list[subprocess.Popen]) -> None:
    """Wait until ``count`` workers are ready, then let them all go at once."""
    deadline = time.time() + 240
    while len(list(barrier.glob("*.ready"))) < count:
        failed = [p for p in procs if p.poll() not in (None, 0)]
        if failed:
            raise AssertionError(failed[0].communicate()[1][-3000:])
        assert time.time() < deadline, "workers never got ready"
        time.sleep(0.01)
    (barrier / "go").touch()


def outcome(proc: subprocess.Popen, timeout: float = 240) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    assert "aquarium:" not in err, err[-3000:]  # the flush thread never had to retry
    return json.loads(out.strip().splitlines()[-1])


@pytest.mark.slow
def test_sixteen_writers_and_a_polling_reader(pg_url, tmp_path):
    """16 processes log 100,000 points each at once while another searches every 100 ms: no
    error, every point present, and the reader never sees half a flush."""
    writers, points, batch = 16, 100_000, 2_000
    PostgresStore(pg_url).close()  # the schema exists before the clock starts
    procs = [spawn("writer", url=pg_url, index=i, points=points, batch=batch, barrier=str(tmp_path))
             for i in range(writers)]
    reader = spawn("poller", url=pg_url, runs=writers, points=points, batch=batch, deadline=time.time() + 200)
    release(tmp_path, writers, procs)
    results = [outcome(p) for p in procs]
    seen = outcome(reader)
    assert seen["errors"] == [] and seen["torn"] == []
    assert seen["final"] == [points] * writers
    assert seen["polls"] >= 5 and seen["partial"] >= 1  # it really watched the runs fill up

    store = PostgresStore(pg_url)
    try:
        runs = {r.name: r for r in store.search("experiment = many")}
        assert len(runs) == writers
        for i in range(writers):
            record = runs[f"writer-{i:02d}"]
            assert record.status == "completed" and record.params == {"index": i}
            loss = store.history(record.id)["loss"]
            assert np.array_equal(loss.steps, np.arange(points))
            assert np.array_equal(loss.values, i * 1e6 + np.arange(points, dtype=float))
            summary = record.summaries["loss"]
            assert (summary.count, summary.last, summary.min_step) == (points, i * 1e6 + points - 1, 0)
    finally:
        store.close()
    total = sum(r["seconds"] for r in results)
    print(f"\n16 writers: {writers * points / max(r['seconds'] for r in results):,.0f} points/s overall "
          f"(mean {total / writers:.1f} s per writer)")


@pytest.mark.slow
def test_several_processes_log_into_one_run(pg_url, tmp_path):
    """Four processes resume the same run and log at once: no point lost or duplicated, each
    writer's points in its logging order, chunk numbers dense."""
    processes, points = 4, 20_000
    with aquarium.start_run("shared", store=pg_url, capture_source=False) as run:
        run.log({"x": -1.0, "y": -1.0}, step=0)
        run.flush()
        procs = [spawn("resumer", url=pg_url, run_id=run.id, index=i + 1, points=points,
                       batches=[37 + 11 * i, 250, 3, 1000 - 100 * i], barrier=str(tmp_path)) for i in range(processes)]
        release(tmp_path, processes, procs)
        for proc in procs:
            outcome(proc)
    store = run.store
    history = store.history(run.id)
    x, y = history["x"].values, history["y"].values
    assert len(x) == len(y) == processes * points + 1
    assert x[0] == -1.0
    for i in range(1, processes + 1):
        mine = x[(x >= i * 1e6) & (x < (i + 1) * 1e6)]
        assert np.array_equal(mine, i * 1e6 + np.arange(points, dtype=float))  # all, once, in order
        assert np.array_equal(y[(x >= i * 1e6) & (x < (i + 1) * 1e6)], np.arange(points, dtype=float))
    summaries = store.summaries(run.id)
    assert summaries["x"].count == summaries["y"].count == processes * points + 1
    assert summaries["x"].max == processes * 1e6 + points - 1
    with store._connection() as conn:
        for key in ("x", "y"):
            seqs = [r[0] for r in conn.execute("SELECT seq FROM metric_chunks WHERE run_id = %s AND key = %s"
                                               " ORDER BY seq", (run.id, key))]
            (chunks,) = conn.execute("SELECT chunks FROM summaries WHERE run_id = %s AND key = %s",
                                     (run.id, key)).fetchone()
            assert seqs == list(range(len(seqs))) and chunks == len(seqs)


def test_threads_writing_one_run_take_turns(pg_store):
    """Threads of one process share the pool: batches of one run never interleave badly, and a
    batch sent twice at the same moment is stored once."""
    record = RunRecord(id=new_run_id(), name="threads")
    pg_store.create_run(record)
    results: dict[tuple[int, int], bool] = {}
    errors = []

    def work(thread: int) -> None:
        try:
            for seq in range(25):
                batch = {"m": make_series("m", [thread * 1000 + seq + 0.5 * k for k in range(3)])}
                results[(thread, seq)] = pg_store.write_batch(record.id, f"w{thread % 4}", seq, batch)
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]  # w0..w3, each twice
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for writer in range(4):  # of the two threads sending (w, seq), exactly one stored it
        for seq in range(25):
            assert results[(writer, seq)] + results[(writer + 4, seq)] == 1
    assert pg_store.summaries(record.id)["m"].count == 4 * 25 * 3
    assert len(pg_store.history(record.id)["m"]) == 4 * 25 * 3


def test_a_forked_child_gets_its_own_connections(pg_store):
    record = RunRecord(id=new_run_id(), name="fork")
    pg_store.create_run(record)
    pg_store.write_batch(record.id, "parent", 0, {"m": make_series("m", [1.0])})
    pid = os.fork()
    if pid == 0:  # the child: use the inherited store object, then leave without cleanup
        code = 1
        try:
            pg_store.write_batch(record.id, "child", 0, {"m": make_series("m", [2.0])})
            code = 0 if pg_store.summaries(record.id)["m"].count == 2 else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    # the parent's pooled connections survived the child (it neither used nor closed them)
    pg_store.write_batch(record.id, "parent", 1, {"m": make_series("m", [3.0])})
    assert pg_store.history(record.id)["m"].values.tolist() == [1.0, 2.0, 3.0]


@pytest.mark.slow
def test_many_processes_create_the_schema_at_once(pg_url, tmp_path):
    procs = [spawn("opener", url=pg_url, barrier=str(tmp_path)) for _ in range(8)]
    release(tmp_path, 8, procs)
    for proc in procs:
        assert outcome(proc) == {"ok": True}
    store = PostgresStore(pg_url)
    try:
        with store._connection() as conn:
            versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        assert versions == list(range(1, SCHEMA_VERSION + 1))
        store.create_run(RunRecord(id=new_run_id(), name="after"))
        assert [r.name for r in store.list_runs()] == ["after"]
    finally:
        store.close()


def test_a_restarted_connection_is_replaced(pg_store, pg_database):
    """A pooled connection the server ended (a restart, an admin) is noticed and replaced."""
    record = RunRecord(id=new_run_id(), name="restart")
    pg_store.create_run(record)
    with pg_store._connection() as conn:
        backend = conn.info.backend_pid
    with psycopg.connect(pg_database, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (backend,))
    time.sleep(0.2)
    assert pg_store.get_run(record.id).name == "restart"  # a read retries once on a dead connection
    pg_store.write_batch(record.id, "w", 0, {"m": MetricSeries("m", [0], [1.0], [1.0])})
    assert pg_store.summaries(record.id)["m"].count == 1
