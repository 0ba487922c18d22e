"""Aquarium on PostgreSQL (issue 6) beside Aquarium on SQLite and MLflow on the same PostgreSQL.

    python benchmarks/postgres_bench.py                       # everything, once (~5 min on 2 cores)
    python benchmarks/postgres_bench.py --mlflow-steps 1000   # MLflow's W1 at 1,000 steps, scaled ×10
    python benchmarks/postgres_bench.py --server postgresql://user@host:5432/postgres

Workloads (each case in its own process; each PostgreSQL case in a database of its own,
created before and dropped after; SQLite in a fresh temp dir):

Aquarium's W1 cases run ``--repeat`` times (median); every search is repeated as often (median);
MLflow's W1 runs once (it takes minutes).

- **W1**: 1 run, 10 metrics × 10,000 steps, one ``run.log(dict, step=s)`` per step (MLflow:
  ``mlflow.log_metrics(dict, step=s)``). ``loop`` = the logging calls, ``durable`` = loop plus
  what makes it durable (``run.flush()``; MLflow commits each call), ``read`` = the 10 series back
  (``store.history``; MLflow ``get_metric_history`` per key), checked against what was logged.
- **W2**: 1,000 runs, each 5 params and 3 metrics × 100 steps (``start_run`` … ``finish``;
  MLflow: ``create_run``, one ``log_batch`` of the run's 300 metrics and 5 params,
  ``set_terminated``); ``search all`` (every run with params and summaries; MLflow
  ``search_runs`` of the experiment); ``filtered`` = ``metrics.acc > 0.5 and params.lr = '0.01'``
  (MLflow: the same filter string).
- **ingest**: 16 processes at once, each one run of 10 metrics × 10,000 steps with default
  flushing (1 s); points per second from the common start until the last run is finished.

MLflow uses the same server through SQLAlchemy (``postgresql+psycopg://``) as its backend store.
Goals (issue 6): Aquarium on PostgreSQL within 3× of Aquarium on SQLite; ≥ 50× faster than
MLflow on PostgreSQL for W1. Results: ``benchmarks/results/postgres.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "postgres.json"
SERVER = os.environ.get("AQUARIUM_BENCH_POSTGRES") or "postgresql://postgres@127.0.0.1:5432/postgres"

W1_METRICS, W1_STEPS = 10, 10_000
W2_RUNS, W2_STEPS = 1_000, 100
W2_FILTER = "metrics.acc > 0.5 and params.lr = '0.01'"
INGEST_WRITERS = 16
KEYS = [f"metric_{i}" for i in range(W1_METRICS)]


# ------------------------------------------------------------------------------------------------
# Workers (one process each; print one JSON line)
# ------------------------------------------------------------------------------------------------
def w1_rows(steps: int) -> list[dict[str, float]]:
    import random

    rng = random.Random(20240502)
    return [{k: rng.uniform(-10.0, 10.0) for k in KEYS} for _ in range(steps)]


def w1_check(series: dict[str, tuple[list[int], list[float]]], rows: list[dict[str, float]]) -> str | None:
    if sorted(series) != KEYS:
        return f"keys read back: {sorted(series)}"
    for key in KEYS:
        steps, values = series[key]
        pairs = sorted(zip(steps, values))
        if [s for s, _ in pairs] != list(range(len(rows))) or [v for _, v in pairs] != [r[key] for r in rows]:
            return f"{key}: what was read back differs from what was logged"
    return None


def w1_aquarium(store: str, steps: int) -> dict:
    import aquarium

    rows = w1_rows(steps)
    t0 = time.perf_counter()
    run = aquarium.start_run("w1", experiment="w1", store=store, capture_source=False)
    t1 = time.perf_counter()
    for step, row in enumerate(rows):
        run.log(row, step=step)
    t2 = time.perf_counter()
    run.flush()
    t3 = time.perf_counter()
    run.finish()
    t4 = time.perf_counter()
    history = run.store.history(run.id)
    t5 = time.perf_counter()
    series = {k: (s.steps.tolist(), s.values.tolist()) for k, s in history.items()}
    return {"setup": t1 - t0, "loop": t2 - t1, "durable": t3 - t1, "read": t5 - t4, "error": w1_check(series, rows)}


def _mlflow(uri: str) -> Any:
    import mlflow

    mlflow.set_tracking_uri(uri)
    return mlflow


def w1_mlflow(store: str, steps: int) -> dict:
    from mlflow.tracking import MlflowClient

    rows = w1_rows(steps)
    t0 = time.perf_counter()
    mlflow = _mlflow(store)
    mlflow.set_experiment("w1")
    run_id = mlflow.start_run(run_name="w1").info.run_id
    t1 = time.perf_counter()
    for step, row in enumerate(rows):
        mlflow.log_metrics(row, step=step)
    t2 = time.perf_counter()
    mlflow.end_run()
    t3 = time.perf_counter()
    client = MlflowClient(tracking_uri=store)
    series = {}
    for key in KEYS:
        points = client.get_metric_history(run_id, key)
        series[key] = ([m.step for m in points], [m.value for m in points])
    t4 = time.perf_counter()
    return {"setup": t1 - t0, "loop": t2 - t1, "durable": t3 - t1, "read": t4 - t3, "error": w1_check(series, rows)}


def w2_params(i: int) -> dict[str, Any]:
    return {"lr": [0.1, 0.03, 0.01, 0.003][i % 4], "seed": i % 5, "batch_size": [32, 64][i % 2],
            "optimizer": "adam", "depth": 18}


def w2_metrics(i: int) -> list[dict[str, float]]:
    return [{"loss": 1.0 / (s + 1 + i % 7), "acc": (s / W2_STEPS) * (0.3 + (i % 10) / 20), "val/loss": 2.0 / (s + 2)}
            for s in range(W2_STEPS)]


def _median_time(action: Any, repeat: int) -> tuple[float, Any]:
    import statistics

    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def w2_aquarium(store: str, runs: int, repeat: int) -> dict:
    import aquarium

    t0 = time.perf_counter()
    for i in range(runs):
        run = aquarium.start_run(f"run-{i}", experiment="w2", params=w2_params(i), store=store, capture_source=False)
        for step, row in enumerate(w2_metrics(i)):
            run.log(row, step=step)
        run.finish()
    t1 = time.perf_counter()
    target = aquarium.open_store(store)
    search_all, found = _median_time(lambda: target.search("", experiment="w2"), repeat)
    filtered_s, filtered = _median_time(lambda: target.search(W2_FILTER, experiment="w2"), repeat)
    expected = sum(1 for i in range(runs) if w2_params(i)["lr"] == 0.01 and w2_metrics(i)[-1]["acc"] > 0.5)
    error = None
    if len(found) != runs or any(len(r.summaries) != 3 or r.summaries["acc"].count != W2_STEPS for r in found):
        error = f"search all gave {len(found)} runs"
    elif len(filtered) != expected:
        error = f"filtered search gave {len(filtered)} runs, expected {expected}"
    return {"create": t1 - t0, "search_all": search_all, "filtered": filtered_s, "matched": len(filtered),
            "error": error}


def w2_mlflow(store: str, runs: int, repeat: int) -> dict:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=store)
    experiment = client.create_experiment("w2")
    t0 = time.perf_counter()
    for i in range(runs):
        run_id = client.create_run(experiment, run_name=f"run-{i}").info.run_id
        ms = int(time.time() * 1000)
        metrics = [Metric(k, v, ms, step) for step, row in enumerate(w2_metrics(i)) for k, v in row.items()]
        client.log_batch(run_id, metrics=metrics, params=[Param(k, str(v)) for k, v in w2_params(i).items()])
        client.set_terminated(run_id)
    t1 = time.perf_counter()
    search_all, found = _median_time(lambda: client.search_runs([experiment], max_results=50_000), repeat)
    filtered_s, filtered = _median_time(
        lambda: client.search_runs([experiment], filter_string=W2_FILTER, max_results=50_000), repeat)
    expected = sum(1 for i in range(runs) if w2_params(i)["lr"] == 0.01 and w2_metrics(i)[-1]["acc"] > 0.5)
    error = None if (len(found), len(filtered)) == (runs, expected) else f"{len(found)} / {len(filtered)} runs"
    return {"create": t1 - t0, "search_all": search_all, "filtered": filtered_s, "matched": len(filtered),
            "error": error}


def ingest_writer(store: str, index: int, start_at: float) -> dict:
    import aquarium

    rows = w1_rows(W1_STEPS)
    run = aquarium.start_run(f"ingest-{index}", experiment="ingest", store=store, capture_source=False)
    time.sleep(max(0.0, start_at - time.time()))
    for step, row in enumerate(rows):
        run.log(row, step=step)
    run.finish()
    return {"end": time.time(), "points": W1_STEPS * W1_METRICS}


WORKERS = {"w1_aquarium": w1_aquarium, "w1_mlflow": w1_mlflow, "w2_aquarium": w2_aquarium, "w2_mlflow": w2_mlflow,
           "ingest_writer": ingest_writer}


# ------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------
def env() -> dict[str, str]:
    out = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true", "PYTHONDONTWRITEBYTECODE": "1"}
    for name in ("AQUARIUM_STORE", "AQUARIUM_ARTIFACTS", "MLFLOW_TRACKING_URI"):
        out.pop(name, None)
    return out


def spawn(worker: str, cwd: str, **arguments: Any) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "--worker", worker, json.dumps(arguments)],
                            cwd=cwd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(proc: subprocess.Popen, timeout: float = 3600) -> dict:
    out, err = proc.communicate(timeout=timeout)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"worker failed (exit {proc.returncode}): {err.strip()[-2000:]}")
    return json.loads(lines[-1])


class Database:
    """A database of its own on the server for one case (dropped afterwards)."""

    def __init__(self, server: str, prefix: str) -> None:
        import psycopg

        self.server = server
        self.name = f"{prefix}_{secrets.token_hex(4)}"
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{self.name}"')
        parts = urllib.parse.urlsplit(server)
        self.url = urllib.parse.urlunsplit(parts._replace(path="/" + self.name))

    def sqlalchemy_url(self) -> str:
        return self.url.replace("postgresql://", "postgresql+psycopg://", 1).replace("postgres://",
                                                                                      "postgresql+psycopg://", 1)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def run_case(worker: str, backend: str, server: str, **arguments: Any) -> dict:
    tmp = tempfile.mkdtemp(prefix=f"aquarium-pgbench-{backend}-")
    database = None
    try:
        if backend == "sqlite":
            store = os.path.join(tmp, "store")
        else:
            database = Database(server, f"aquarium_bench_{backend.replace('-', '_')}")
            store = database.sqlalchemy_url() if backend == "mlflow-pg" else database.url
            if backend == "aquarium-pg":  # the schema exists before the clock starts, as on a team's server
                from aquarium_postgres.store import PostgresStore

                PostgresStore(store).close()
        return result(spawn(worker, tmp, store=store, **arguments))
    finally:
        if database is not None:
            database.drop()
        shutil.rmtree(tmp, ignore_errors=True)


def run_ingest(backend: str, server: str) -> dict:
    tmp = tempfile.mkdtemp(prefix=f"aquarium-pgbench-ingest-{backend}-")
    database = None
    try:
        if backend == "sqlite":
            store = os.path.join(tmp, "store")
            from aquarium.stores.sqlite import SQLiteStore

            SQLiteStore(store).close()
        else:
            database = Database(server, "aquarium_bench_ingest")
            store = database.url
            from aquarium_postgres.store import PostgresStore

            PostgresStore(store).close()
        start_at = time.time() + 8.0  # 16 interpreters importing numpy and friends on a small machine
        procs = [spawn("ingest_writer", tmp, store=store, index=i, start_at=start_at) for i in range(INGEST_WRITERS)]
        outcomes = [result(p) for p in procs]
        seconds = max(o["end"] for o in outcomes) - start_at
        points = sum(o["points"] for o in outcomes)
        return {"writers": INGEST_WRITERS, "points": points, "seconds": seconds, "points_per_s": points / seconds}
    finally:
        if database is not None:
            database.drop()
        shutil.rmtree(tmp, ignore_errors=True)


def fmt(seconds: float) -> str:
    return f"{seconds:.4f}" if seconds < 1 else f"{seconds:.2f}"


def main(argv: list[str] | None = None) -> int:
    intro, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(description=intro, epilog=details,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--server", default=SERVER,
                        help=f"a PostgreSQL server where databases may be created ({SERVER})")
    parser.add_argument("--repeat", type=int, default=3,
                        help="repetitions of each Aquarium W1 case and of each search (medians reported)")
    parser.add_argument("--mlflow-steps", type=int, default=W1_STEPS,
                        help="W1 steps for MLflow (its figures are scaled to 10,000 steps)")
    parser.add_argument("--skip", default="", help="comma-separated parts to leave out: w1, w2, ingest, mlflow")
    parser.add_argument("--json", type=Path, default=RESULTS)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.worker:
        print(json.dumps(WORKERS[args.worker](**json.loads(rest[0]))), flush=True)
        return 0
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    report: dict[str, Any] = {"created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "loadavg_before": os.getloadavg(),
                              "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                          "platform": platform.platform()}}
    backends = ["aquarium-pg", "aquarium-sqlite"] + ([] if "mlflow" in skip else ["mlflow-pg"])
    failures = []

    if "w1" not in skip:
        print(f"W1: 1 run, {W1_METRICS} metrics × {W1_STEPS:,} steps, one log call per step", flush=True)
        report["w1"] = {}
        for backend in backends:
            steps = args.mlflow_steps if backend == "mlflow-pg" else W1_STEPS
            worker = "w1_mlflow" if backend == "mlflow-pg" else "w1_aquarium"
            repeat = 1 if backend == "mlflow-pg" else args.repeat
            reps = [run_case(worker, backend.replace("aquarium-sqlite", "sqlite"), args.server, steps=steps)
                    for _ in range(repeat)]
            scale = W1_STEPS / steps
            got = {"repeat": repeat, "error": next((r["error"] for r in reps if r["error"]), None)}
            for figure in ("setup", "loop", "durable", "read"):
                got[figure] = statistics.median(r[figure] for r in reps) * (scale if figure != "setup" else 1)
            got["steps_run"] = steps
            report["w1"][backend] = got
            if got["error"]:
                failures.append(f"W1 {backend}: {got['error']}")
            print(f"  {backend:<16} loop {fmt(got['loop']):>8} s  durable {fmt(got['durable']):>8} s  "
                  f"read {fmt(got['read']):>8} s" + (f"  (run at {steps:,} steps, ×{scale:g})" if scale != 1 else ""),
                  flush=True)

    if "w2" not in skip:
        print(f"W2: {W2_RUNS:,} runs × (5 params, 3 metrics × {W2_STEPS} steps)", flush=True)
        report["w2"] = {}
        for backend in backends:
            worker = "w2_mlflow" if backend == "mlflow-pg" else "w2_aquarium"
            got = run_case(worker, backend.replace("aquarium-sqlite", "sqlite"), args.server, runs=W2_RUNS,
                           repeat=args.repeat)
            report["w2"][backend] = got
            if got["error"]:
                failures.append(f"W2 {backend}: {got['error']}")
            print(f"  {backend:<16} create {fmt(got['create']):>8} s  search all {fmt(got['search_all']):>8} s  "
                  f"filtered {fmt(got['filtered']):>8} s  ({got['matched']} matched)", flush=True)

    if "ingest" not in skip:
        print(f"ingest: {INGEST_WRITERS} processes at once, each {W1_METRICS} metrics × {W1_STEPS:,} steps", flush=True)
        report["ingest"] = {}
        for backend in ("aquarium-pg", "aquarium-sqlite"):
            got = run_ingest("sqlite" if backend == "aquarium-sqlite" else "pg", args.server)
            report["ingest"][backend] = got
            print(f"  {backend:<16} {got['points']:,} points in {got['seconds']:.2f} s: "
                  f"{got['points_per_s']:,.0f} points/s", flush=True)

    report["loadavg_after"] = os.getloadavg()
    print()
    checks = []
    if "w1" in report:
        pg, lite = report["w1"]["aquarium-pg"], report["w1"]["aquarium-sqlite"]
        for figure in ("loop", "durable", "read"):
            checks.append((f"W1 {figure}: PostgreSQL within 3× of SQLite", pg[figure] / lite[figure], "≤ 3"))
        if "mlflow-pg" in report["w1"]:
            ml = report["w1"]["mlflow-pg"]
            for figure in ("loop", "durable", "read"):
                checks.append((f"W1 {figure}: ≥ 50× faster than MLflow on PostgreSQL", ml[figure] / pg[figure], "≥ 50"))
    if "w2" in report:
        pg, lite = report["w2"]["aquarium-pg"], report["w2"]["aquarium-sqlite"]
        for figure in ("create", "search_all", "filtered"):
            checks.append((f"W2 {figure}: PostgreSQL within 3× of SQLite", pg[figure] / lite[figure], "≤ 3"))
        if "mlflow-pg" in report["w2"]:
            ml = report["w2"]["mlflow-pg"]
            for figure in ("create", "search_all", "filtered"):
                checks.append((f"W2 {figure}: MLflow on PostgreSQL ÷ Aquarium on PostgreSQL", ml[figure] / pg[figure],
                               ""))
    report["checks"] = []
    for what, ratio, goal in checks:
        ok = None if not goal else (ratio <= 3 if goal == "≤ 3" else ratio >= 50)
        report["checks"].append({"what": what, "ratio": ratio, "goal": goal, "ok": ok})
        verdict = "    " if ok is None else ("PASS" if ok else "MISS")
        print(f"  {verdict}  {what}: {ratio:,.1f}×")
    for failure in failures:
        print(f"WARNING: {failure}")
    print(f"\nload average before {report['loadavg_before']}, after {report['loadavg_after']} "
          f"({os.cpu_count()} CPUs; other processes on a shared machine move these figures)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
