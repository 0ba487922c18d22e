"""Worker processes for the concurrency tests: ``python workers.py ROLE JSON-ARGS``.

Each prints one JSON line on stdout. They use the public API (``start_run``, ``resume_run``,
``search``) against the store URI they are given, as a trainer or a dashboard would.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path


def _wait(barrier: str) -> None:
    """Say this worker is ready (its imports done), then wait for the test's go: every worker
    begins at the same moment, however long the interpreters took to start."""
    Path(barrier, f"{os.getpid()}.ready").touch()
    go = Path(barrier, "go")
    deadline = time.time() + 300
    while not go.exists():
        if time.time() > deadline:
            raise TimeoutError("no go from the test")
        time.sleep(0.002)


def writer(url: str, index: int, points: int, batch: int, barrier: str) -> dict:
    """One run, ``points`` log calls of ``loss``, committed every ``batch`` calls exactly."""
    import aquarium

    run = aquarium.start_run(f"writer-{index:02d}", experiment="many", store=url, capture_source=False,
                             flush_interval=3600, flush_every=1_000_000, params={"index": index})
    _wait(barrier)
    began = time.perf_counter()
    for i in range(points):
        run.log({"loss": index * 1e6 + i}, step=i)
        if (i + 1) % batch == 0:
            run.flush()
    run.finish()
    return {"run_id": run.id, "seconds": time.perf_counter() - began}


def resumer(url: str, run_id: str, index: int, points: int, batches: list[int], barrier: str) -> dict:
    """Log ``points`` values ``index * 1e6 + i`` into an existing run, flushing after uneven batches."""
    import aquarium

    run = aquarium.resume_run(run_id, store=url, flush_interval=0.05, flush_every=50)
    _wait(barrier)
    i, turn = 0, 0
    while i < points:
        size = min(batches[turn % len(batches)], points - i)
        for _ in range(size):
            run.log({"x": index * 1e6 + i, "y": float(i)}, step=i)
            i += 1
        if turn % 3 == 0:
            run.flush()
        turn += 1
    run.finish()
    return {"writer": run._writer_id}


def poller(url: str, runs: int, points: int, batch: int, deadline: float) -> dict:
    """Search every 100 ms until ``runs`` runs hold ``points`` points each; report what was seen."""
    from aquarium.stores import open_store

    store = open_store(url)
    polls, partial, torn, errors, last = 0, 0, [], [], {}
    while time.time() < deadline:
        try:
            found = store.search("experiment = many and metrics.loss.count >= 0", order_by=["name"])
        except Exception as error:  # reported, the test fails on it
            errors.append(f"{type(error).__name__}: {error}")
            time.sleep(0.1)
            continue
        polls += 1
        counts = {r.id: r.summaries["loss"].count for r in found}
        for run_id, count in counts.items():
            if count % batch:
                torn.append(count)
            if count < last.get(run_id, 0):
                errors.append(f"run {run_id}: count went back from {last[run_id]} to {count}")
            last[run_id] = count
        if any(0 < c < points for c in counts.values()):
            partial += 1
        if len(counts) == runs and all(c == points for c in counts.values()):
            break
        time.sleep(0.1)
    return {"polls": polls, "partial": partial, "torn": torn[:10], "errors": errors[:10],
            "final": sorted(last.values())}


def opener(url: str, barrier: str) -> dict:
    """Open (and so create or migrate) the store at the common start time."""
    from aquarium_postgres.store import PostgresStore

    _wait(barrier)
    store = PostgresStore(url)
    store.close()
    return {"ok": True}


if __name__ == "__main__":
    role, arguments = sys.argv[1], json.loads(sys.argv[2])
    result = {"writer": writer, "resumer": resumer, "poller": poller, "opener": opener}[role](**arguments)
    print(json.dumps(result), flush=True)
