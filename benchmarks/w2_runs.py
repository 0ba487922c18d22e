"""W2 (issue 3): 1,000 runs, each with 5 params and 3 metrics × 100 steps: create, search, compare.

Runs Aquarium (embedded SQLite store) beside MLflow (sqlite backend), each repetition of each
tool in its own subprocess and its own fresh temp dir, and prints the medians and the ratios::

    python benchmarks/w2_runs.py                    # full workload (~11 min on 2 busy cores)
    python benchmarks/w2_runs.py --quick            # MLflow at 100 runs, scaled ×10; 10,000-run store
    python benchmarks/w2_runs.py --tools aquarium --repeat 5

Tools (``--tools``):

- ``aquarium``       per run ``aquarium.start_run(name, experiment, params)`` (defaults: source
                     capture, heartbeat), one ``run.log(dict, step=s)`` per step, ``run.finish()``.
                     Searches: ``aquarium.search(query, store=...)``; compare:
                     ``aquarium.compare(100 ids)`` with ``.summary``, ``.params.differing`` and
                     ``.best()`` of the 3 metrics.
- ``mlflow``         per run ``mlflow.start_run(run_name)``, one ``MlflowClient.log_batch`` of the
                     run's 300 ``Metric``\\ s and 5 ``Param``\\ s (MLflow's advice for many values),
                     ``mlflow.end_run()``; sqlite backend. Searches: ``MlflowClient.search_runs`` over
                     the experiment (``max_results`` 50,000, following ``page_token``).
- ``aquarium_100k``  search over 100,000 runs (5 params, 3 metrics × 10 points each; searching
                     reads summaries, never points): all, ``limit=20``, filtered, filtered with
                     ``limit=20``. The store is built once per invocation, before the clocks, by
                     ``store.create_run`` + ``store.write_batch`` with fsync off; every repetition
                     opens it in a fresh process.

Figures: ``create`` (the loop over all runs, until the last ``finish``/``end_run`` returned:
everything durable), ``search all`` (every run with params and metric summaries / latest
metrics), ``filtered`` (``metrics.acc > 0.5 and params.lr = 0.01``; MLflow:
``metrics.acc > 0.5 and params.lr = '0.01'``), ``compare`` (Aquarium only: MLflow has no
``compare()``). Searches are timed ``--inner`` times in the process that created the runs; the
median is reported, the first call apart. CPU time of the process is reported beside the wall
time, because the machine may be shared. Every answer is checked: all runs with 5 params and 3
metrics, the filtered runs exactly the expected ones (the same number for both tools), compare's
``best`` equal to the values logged.

MLflow's creation takes about a minute, so by default it is repeated once (``--mlflow-repeat``).
Results go to ``benchmarks/results/w2.json`` (gitignored).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from w1_logging import fmt_ratio, fmt_s, machine, tool_env, versions

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "w2.json"

RUNS = 1_000
PARAMS = 5
STEPS = 100
METRICS = ("loss", "acc", "val_loss")
LRS = (0.1, 0.03, 0.01, 0.003)
COMPARED = 100
QUICK_MLFLOW_RUNS = 100
BIG_RUNS = 100_000
QUICK_BIG_RUNS = 10_000
BIG_STEPS = 10
EXPERIMENT = "w2"
FILTER = "metrics.acc > 0.5 and params.lr = 0.01"
MLFLOW_FILTER = "metrics.acc > 0.5 and params.lr = '0.01'"
MLFLOW_PAGE = 50_000  # MLflow's SEARCH_MAX_RESULTS_THRESHOLD
BIG_MARKER = "w2-big.json"

TOOLS = ["aquarium", "mlflow", "aquarium_100k"]
LABELS = {"aquarium": "Aquarium", "mlflow": "MLflow (sqlite)", "aquarium_100k": "Aquarium, large store"}

# Issue 3 targets for Aquarium, and MLflow as measured on this machine when the issue was written.
TARGETS = {"create": 2.0, "search_all": 0.05, "filtered": 0.01, "compare": 0.1}
MLFLOW_EARLIER = {"create": 56.0, "search_all": 0.8, "filtered": 0.12}
FIGURES = ("create", "search_all", "filtered", "compare")
BIG_FIGURES = ("search_all", "search_20", "filtered", "filtered_20")
TITLES = {"create": "create {runs:,} runs", "search_all": "search all", "filtered": "filtered search",
          "compare": f"compare {COMPARED} runs × {len(METRICS)} metrics", "search_20": "search, limit 20",
          "filtered_20": "filtered search, limit 20"}


# ------------------------------------------------------------------------------------------------
# The workload: made before any clock starts, the same for every tool.
# ------------------------------------------------------------------------------------------------
Spec = tuple[str, dict[str, Any], list[dict[str, float]]]


def workload(runs: int) -> list[Spec]:
    """``runs`` runs as (name, params, one dict of the 3 metrics per step). Run ``i`` is the same
    whatever ``runs`` is. ``acc`` rises to a final value drawn from [0.2, 0.9] (so about half of
    the runs end above 0.5); ``lr`` cycles through 4 values (a quarter of the runs have 0.01)."""
    rng = random.Random(20240503)
    out = []
    for i in range(runs):
        params = {"lr": LRS[i % 4], "batch_size": (32, 64, 128)[i % 3], "optimizer": ("adam", "sgd")[i // 4 % 2],
                  "depth": (18, 34, 50)[i // 8 % 3], "seed": i % 5}
        final, rate = rng.uniform(0.2, 0.9), rng.uniform(2.0, 6.0)
        rows = []
        for step in range(STEPS):
            progress = (1 - math.exp(-rate * step / (STEPS - 1))) / (1 - math.exp(-rate))
            loss = 2.3 * (1 - progress) + 0.05 + rng.random() * 0.02
            rows.append({"loss": loss, "acc": final * progress + rng.gauss(0, 0.005),
                         "val_loss": loss + 0.03 + rng.random() * 0.02})
        out.append((f"w2-{i:05d}", params, rows))
    return out


def expected_filtered(work: list[Spec]) -> list[str]:
    """Names of the runs the filtered search must return (``acc`` is its last value)."""
    return sorted(name for name, params, rows in work if params["lr"] == 0.01 and rows[-1]["acc"] > 0.5)


def compared_names(work: list[Spec]) -> list[str]:
    """The runs ``compare()`` gets: every ``len // COMPARED``-th."""
    return [name for name, _, _ in work[::max(1, len(work) // COMPARED)][:COMPARED]]


def expected_differing(work: list[Spec], names: list[str]) -> list[str]:
    """The params whose values differ among the runs ``names``."""
    wanted = set(names)
    chosen = [params for name, params, _ in work if name in wanted]
    return sorted(key for key in chosen[0] if len({params[key] for params in chosen}) > 1)


def expected_best(work: list[Spec], names: list[str]) -> dict[str, float]:
    """What ``best()`` must return for each metric over ``names``: min of losses, max of acc."""
    wanted = set(names)
    chosen = [rows for name, _, rows in work if name in wanted]
    return {key: (max if key == "acc" else min)(row[key] for rows in chosen for row in rows) for key in METRICS}


# ------------------------------------------------------------------------------------------------
# Workers: each runs in its own process, in its own temp dir, and prints one JSON line.
# ------------------------------------------------------------------------------------------------
class Clock:
    """Named spans: wall-clock seconds, and CPU seconds of this process (all threads)."""

    def __init__(self) -> None:
        self.spans: dict[str, float] = {}

    @contextlib.contextmanager
    def span(self, name: str) -> Iterator[None]:
        start, start_cpu = time.perf_counter(), time.process_time()
        yield
        self.spans[name] = time.perf_counter() - start
        self.spans[f"{name}_cpu"] = time.process_time() - start_cpu


def measure(action: Callable[[], Any], inner: int) -> tuple[dict[str, float], Any]:
    """Call ``action`` once (``first``), then ``inner`` times more: the median wall and CPU
    time of those, and the last answer."""
    start = time.perf_counter()
    answer = action()
    first = time.perf_counter() - start
    walls, cpus = [], []
    for _ in range(inner):
        answer = None  # let the previous answer go before the next call
        start, start_cpu = time.perf_counter(), time.process_time()
        answer = action()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return {"first": first, "median": statistics.median(walls), "cpu": statistics.median(cpus),
            "min": min(walls), "max": max(walls)}, answer


def problems_with(found: dict[str, tuple[dict[str, Any], dict[str, Any]]], work: list[Spec], what: str) -> list[str]:
    """What is wrong with a search answer, as ``name -> (params, metric values)``."""
    wrong = []
    if what == "all" and sorted(found) != sorted(name for name, _, _ in work):
        wrong.append(f"search all returned {len(found)} runs, {len(work)} created")
    if what == "filtered" and sorted(found) != expected_filtered(work):
        wrong.append(f"filtered search returned {len(found)} runs, {len(expected_filtered(work))} expected")
    specs = {name: (params, rows) for name, params, rows in work}
    for name, (params, metrics) in found.items():
        if name not in specs:
            wrong.append(f"unknown run {name!r}")
        elif sorted(params) != sorted(specs[name][0]) or sorted(metrics) != sorted(METRICS):
            wrong.append(f"run {name}: params {sorted(params)}, metrics {sorted(metrics)}")
        elif metrics["acc"] != specs[name][1][-1]["acc"]:
            wrong.append(f"run {name}: acc {metrics['acc']} != the last logged {specs[name][1][-1]['acc']}")
        if len(wrong) > 3:
            break
    return wrong


def bench_aquarium(runs: int, tmp: str, inner: int, clock: Clock) -> dict[str, Any]:
    with clock.span("import"):
        import aquarium
    work = workload(runs)
    with clock.span("setup"):
        store = aquarium.open_store(os.path.join(tmp, "store"))
    with clock.span("create"):
        for name, params, rows in work:
            run = aquarium.start_run(name=name, experiment=EXPERIMENT, params=params, store=store)
            for step, row in enumerate(rows):
                run.log(row, step=step)
            run.finish()

    def answer(records: list) -> dict[str, tuple[dict, dict]]:
        return {r.name: (r.params, {k: s.last for k, s in r.summaries.items()}) for r in records}

    out: dict[str, Any] = {}
    errors: list[str] = []
    out["search_all"], found = measure(lambda: aquarium.search(store=store), inner)
    errors += problems_with(answer(found), work, "all")
    ids = {r.name: r.id for r in found}
    out["filtered"], found = measure(lambda: aquarium.search(FILTER, store=store), inner)
    errors += problems_with(answer(found), work, "filtered")
    out["counts"] = {"search_all": len(ids), "filtered": len(found)}

    names = compared_names(work)
    chosen = [ids[name] for name in names if name in ids]

    def comparing() -> tuple:
        cmp = aquarium.compare(chosen, store=store)
        return cmp.summary.rows, cmp.params.differing, {m: cmp.best(m) for m in METRICS}

    out["compare"], (rows, differing, best) = measure(comparing, inner)
    if len(rows) != len(names) * len(METRICS):
        errors.append(f"compare: {len(rows)} summary rows, {len(names) * len(METRICS)} expected")
    if sorted(differing) != expected_differing(work, names):
        errors.append(f"compare: params differing {sorted(differing)}, expected {expected_differing(work, names)}")
    for key, value in expected_best(work, names).items():
        if best[key] is None or best[key].value != value:
            errors.append(f"compare: best({key!r}) = {best[key]}, expected {value}")
    out["errors"] = errors
    return out


def bench_mlflow(runs: int, tmp: str, inner: int, clock: Clock) -> dict[str, Any]:
    with clock.span("import"):
        import mlflow
        from mlflow import MlflowClient
        from mlflow.entities import Metric, Param
    work = workload(runs)
    with clock.span("setup"):  # creating the sqlite schema takes seconds: not part of "create"
        mlflow.set_tracking_uri(f"sqlite:///{tmp}/mlflow.db")
        experiment_id = mlflow.set_experiment(EXPERIMENT).experiment_id
        client = MlflowClient()
    with clock.span("create"):
        for name, params, rows in work:
            run_id = mlflow.start_run(run_name=name, experiment_id=experiment_id).info.run_id
            ms = int(time.time() * 1000)
            client.log_batch(run_id, metrics=[Metric(k, v, ms + step, step) for step, row in enumerate(rows)
                                              for k, v in row.items()],
                             params=[Param(k, str(v)) for k, v in params.items()])
            mlflow.end_run()

    def search(filter_string: str = "") -> list:
        found, token = [], None
        while True:
            page = client.search_runs([experiment_id], filter_string, max_results=MLFLOW_PAGE, page_token=token)
            found.extend(page)
            token = page.token
            if not token:
                return found

    def answer(found: list) -> dict[str, tuple[dict, dict]]:
        return {r.info.run_name: (r.data.params, r.data.metrics) for r in found}

    out: dict[str, Any] = {}
    errors: list[str] = []
    out["search_all"], found = measure(search, inner)
    errors += problems_with(answer(found), work, "all")
    total = len(found)
    out["filtered"], found = measure(lambda: search(MLFLOW_FILTER), inner)
    errors += problems_with(answer(found), work, "filtered")
    out["counts"] = {"search_all": total, "filtered": len(found)}
    out["errors"] = errors
    return out


def bench_big(runs: int, folder: str, inner: int, clock: Clock) -> dict[str, Any]:
    with clock.span("import"):
        import aquarium
    marker = json.loads(Path(folder, BIG_MARKER).read_text())
    with clock.span("setup"):
        store = aquarium.open_store(folder)
    out: dict[str, Any] = {}
    out["search_all"], found = measure(lambda: aquarium.search(store=store), inner)
    counts = {"search_all": len(found)}
    found = None
    out["search_20"], newest = measure(lambda: aquarium.search(store=store, limit=20), inner)
    out["filtered"], found = measure(lambda: aquarium.search(FILTER, store=store), inner)
    counts["filtered"] = len(found)
    found = None
    out["filtered_20"], newest_filtered = measure(lambda: aquarium.search(FILTER, store=store, limit=20), inner)
    errors = []
    if counts["search_all"] != marker["runs"]:
        errors.append(f"search all returned {counts['search_all']} runs, the store holds {marker['runs']}")
    if counts["filtered"] != marker["filtered"]:
        errors.append(f"filtered search returned {counts['filtered']} runs, {marker['filtered']} expected")
    if [r.name for r in newest] != marker["newest"]:
        errors.append("limit 20: not the 20 newest runs")
    if [r.name for r in newest_filtered] != marker["newest_filtered"]:
        errors.append("filtered, limit 20: not the 20 newest matching runs")
    if any(len(r.params) != 5 or len(r.summaries) != len(METRICS) for r in newest):
        errors.append("limit 20: runs without their 5 params and 3 summaries")
    out["counts"] = {**counts, "search_20": len(newest), "filtered_20": len(newest_filtered)}
    out["errors"] = errors
    return out


BENCHES = {"aquarium": bench_aquarium, "mlflow": bench_mlflow, "aquarium_100k": bench_big}


def worker(tool: str, runs: int, folder: str, inner: int) -> None:
    clock = Clock()
    out = BENCHES[tool](runs, folder, inner, clock)
    print(json.dumps({"tool": tool, "runs": runs, **clock.spans, **out}))


def build_big(runs: int, folder: str) -> None:
    """Fill ``folder`` with ``runs`` runs through the store interface, fsync off (nothing is
    timed here), and write the marker with what the searches must find."""
    import numpy as np

    import aquarium
    from aquarium.ids import new_run_id
    from aquarium.model import MetricSeries, RunRecord

    start = time.perf_counter()
    store = aquarium.open_store(folder)
    store._connection().execute("PRAGMA synchronous = OFF")  # SQLite store: building only, never timed
    rng = np.random.default_rng(20240504)
    final = rng.uniform(0.2, 0.9, runs)
    progress = (1 - np.exp(-4 * np.linspace(0, 1, BIG_STEPS))) / (1 - np.exp(-4))
    acc = final[:, None] * progress + rng.normal(0, 0.005, (runs, BIG_STEPS))
    loss = 2.3 * (1 - progress) + 0.05 + rng.random((runs, BIG_STEPS)) * 0.02
    val = loss + 0.03 + rng.random((runs, BIG_STEPS)) * 0.02
    steps = np.arange(BIG_STEPS)
    base = time.time() - runs
    matching: list[str] = []
    for i in range(runs):
        params = {"lr": LRS[i % 4], "batch_size": (32, 64, 128)[i % 3], "optimizer": ("adam", "sgd")[i // 4 % 2],
                  "depth": (18, 34, 50)[i // 8 % 3], "seed": i % 5}
        name = f"big-{i:06d}"
        record = RunRecord(id=new_run_id(), name=name, experiment=EXPERIMENT, status="completed", created=base + i,
                           started=base + i, ended=base + i + 0.5, params=params)
        store.create_run(record)
        times = base + i + steps * 0.05
        store.write_batch(record.id, "w2-build", 0, {
            "loss": MetricSeries("loss", steps, loss[i], times), "acc": MetricSeries("acc", steps, acc[i], times),
            "val_loss": MetricSeries("val_loss", steps, val[i], times)})
        if params["lr"] == 0.01 and acc[i, -1] > 0.5:
            matching.append(name)
    store._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    names = [f"big-{i:06d}" for i in range(runs)]
    Path(folder, BIG_MARKER).write_text(json.dumps({
        "runs": runs, "steps": BIG_STEPS, "filtered": len(matching), "newest": names[::-1][:20],
        "newest_filtered": matching[::-1][:20], "build_s": time.perf_counter() - start,
        "db_bytes": os.path.getsize(os.path.join(folder, "aquarium.db")),
    }))


# ------------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------------
def run_one(tool: str, runs: int, inner: int, timeout: float, folder: str | None = None) -> dict:
    """One repetition of one tool: a fresh process in a fresh temp dir (removed afterwards).
    ``folder`` is the prebuilt store of ``aquarium_100k``."""
    tmp = tempfile.mkdtemp(prefix=f"aquarium-w2-{tool}-")
    try:
        load = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", tool, "--runs", str(runs),
                               "--dir", folder or tmp, "--inner", str(inner)],
                              cwd=tmp, env=tool_env(tmp), capture_output=True, text=True, timeout=timeout)
        wall = time.perf_counter() - start
        lines = [line for line in proc.stdout.splitlines() if line.startswith('{"tool"')]
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
            raise RuntimeError(f"{tool} worker failed (exit {proc.returncode}):\n  " + "\n  ".join(tail))
        result = json.loads(lines[-1])
        result["process"] = wall
        result["load_before"], result["load_after"] = load, os.getloadavg()[0]
        return result
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def prepare_big(runs: int, folder: Path, timeout: float) -> dict:
    """The large store in ``folder``: reused when its marker says it holds ``runs`` runs, else built."""
    marker = folder / BIG_MARKER
    with contextlib.suppress(OSError, ValueError, KeyError):
        found = json.loads(marker.read_text())
        if found["runs"] == runs and found["steps"] == BIG_STEPS:
            return {**found, "reused": True}
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--build", str(folder),
                           "--big-runs", str(runs)], cwd=folder, env=tool_env(str(folder)),
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
        raise RuntimeError(f"building the {runs:,}-run store failed (exit {proc.returncode}):\n  " + "\n  ".join(tail))
    return {**json.loads(marker.read_text()), "reused": False}


def summarize(tool: str, reps: list[dict], full_runs: int) -> dict:
    runs = reps[0]["runs"]
    scale = full_runs / runs if tool != "aquarium_100k" else 1.0
    out: dict[str, Any] = {"tool": tool, "label": LABELS[tool], "runs_run": runs, "scale": scale,
                           "repetitions": reps, "errors": [e for r in reps for e in r["errors"]],
                           "counts": reps[-1]["counts"]}
    for name in ("import", "setup", "process"):
        out[name] = statistics.median(r[name] for r in reps)
    if "create" in reps[0]:
        values = [r["create"] for r in reps]
        out["create"] = statistics.median(values) * scale
        out["create_cpu"] = statistics.median(r["create_cpu"] for r in reps) * scale
        out["create_min"], out["create_max"] = min(values) * scale, max(values) * scale
    for name in (*FIGURES[1:], *BIG_FIGURES):
        if name in reps[0]:
            values = [r[name]["median"] for r in reps]
            out[name] = statistics.median(values) * scale
            out[f"{name}_cpu"] = statistics.median(r[name]["cpu"] for r in reps) * scale
            out[f"{name}_first"] = statistics.median(r[name]["first"] for r in reps) * scale
            out[f"{name}_min"] = min(r[name]["min"] for r in reps) * scale
            out[f"{name}_max"] = max(r[name]["max"] for r in reps) * scale
    return out


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def render(head: list[str], body: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def w2_table(summaries: dict[str, dict], runs: int) -> str:
    aq, ml = summaries.get("aquarium"), summaries.get("mlflow")
    mark = f" [{ml['runs_run']:,} runs ×{ml['scale']:g}]" if ml and ml["scale"] != 1 else ""
    head = ["W2", "Aquarium s", "CPU s", f"MLflow s{mark}", "CPU s", "MLflow ÷ Aquarium", "target", ""]
    body = []
    for figure in FIGURES:
        a = aq.get(figure) if aq else None
        m = ml.get(figure) if ml else None
        row = [TITLES[figure].format(runs=runs),
               fmt_s(a) if a is not None else "-", fmt_s(aq[f"{figure}_cpu"]) if a is not None else "-",
               fmt_s(m) if m is not None else "-", fmt_s(ml[f"{figure}_cpu"]) if m is not None else "-",
               fmt_ratio(m / a) if a and m else "-", f"≤ {TARGETS[figure]:g} s"]
        row.append(("PASS" if a <= TARGETS[figure] else "MISS") if a is not None else "")
        body.append(row)
    return render(head, body)


def big_table(s: dict) -> str:
    head = [f"Aquarium, {s['runs_run']:,} runs", "median s", "CPU s", "first call s", "runs returned"]
    body = [[TITLES[f], fmt_s(s[f]), fmt_s(s[f"{f}_cpu"]), fmt_s(s[f"{f}_first"]), f"{s['counts'][f]:,}"]
            for f in BIG_FIGURES]
    return render(head, body)


def target_checks(summaries: dict[str, dict], runs: int) -> list[dict]:
    base = summaries.get("aquarium")
    if base is None:
        return []
    return [{"what": f"Aquarium {TITLES[f].format(runs=runs)} ≤ {limit:g} s", "value": base[f], "ok": base[f] <= limit}
            for f, limit in TARGETS.items() if f in base]


def count_check(summaries: dict[str, dict], runs: int, mlflow_runs: int) -> dict | None:
    """Both tools' filtered searches return the same number of runs (each also the expected names)."""
    if not {"aquarium", "mlflow"} <= set(summaries):
        return None
    a = summaries["aquarium"]["counts"]["filtered"]
    m = summaries["mlflow"]["counts"]["filtered"]
    if runs == mlflow_runs:
        return {"what": "filtered search: same number of runs from both tools", "aquarium": a, "mlflow": m,
                "ok": a == m}
    work = workload(max(runs, mlflow_runs))
    want_a, want_m = len(expected_filtered(work[:runs])), len(expected_filtered(work[:mlflow_runs]))
    return {"what": f"filtered search: expected counts ({runs:,} and {mlflow_runs:,} runs)", "aquarium": a,
            "mlflow": m, "ok": a == want_a and m == want_m}


def main(argv: list[str] | None = None) -> int:
    intro, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(description=intro, epilog=details,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, from {','.join(TOOLS)}")
    parser.add_argument("--repeat", type=int, default=3,
                        help="repetitions of aquarium and aquarium_100k (a fresh process each); medians are reported")
    parser.add_argument("--mlflow-repeat", type=int, default=1,
                        help="repetitions of mlflow (default 1: creating its runs takes about a minute)")
    parser.add_argument("--inner", type=int, default=5, help="timed calls of each search per process (median)")
    parser.add_argument("--quick", action="store_true",
                        help=f"MLflow at {QUICK_MLFLOW_RUNS} runs, its figures scaled ×{RUNS // QUICK_MLFLOW_RUNS}; "
                             f"the large store at {QUICK_BIG_RUNS:,} runs")
    parser.add_argument("--big-store", type=Path,
                        help="folder for the large store: reused when it holds the right number of runs, else "
                             "built there and kept (default: a temp dir, removed afterwards)")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per worker process")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write results (default {RESULTS})")
    parser.add_argument("--runs", type=int, default=RUNS, help=argparse.SUPPRESS)
    parser.add_argument("--big-runs", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--worker", choices=TOOLS, help=argparse.SUPPRESS)
    parser.add_argument("--dir", help=argparse.SUPPRESS)
    parser.add_argument("--build", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    big_runs = args.big_runs or (QUICK_BIG_RUNS if args.quick else BIG_RUNS)
    if args.build:
        build_big(big_runs, args.build)
        return 0
    if args.worker:
        worker(args.worker, args.runs, args.dir, args.inner)
        return 0

    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = sorted(set(tools) - set(TOOLS))
    if unknown or not tools:
        parser.error(f"unknown tools {unknown}; choose from {', '.join(TOOLS)}")
    if min(args.repeat, args.mlflow_repeat, args.inner) < 1:
        parser.error("--repeat, --mlflow-repeat and --inner must be >= 1")
    mlflow_runs = min(QUICK_MLFLOW_RUNS, args.runs) if args.quick else args.runs
    repeats = {t: args.mlflow_repeat if t == "mlflow" else args.repeat for t in tools}

    load_before = os.getloadavg()
    started = time.perf_counter()
    print(f"W2: {args.runs:,} runs × ({PARAMS} params, {len(METRICS)} metrics × {STEPS} steps); "
          f"Aquarium: median of {plural(args.repeat, 'process', 'processes')}"
          + (f"; MLflow: {plural(args.mlflow_repeat, 'process', 'processes')} (--mlflow-repeat)"
             if "mlflow" in tools else "")
          + f"; each search timed {args.inner}× per process; {os.cpu_count()} CPUs; "
            f"load average {load_before[0]:.2f}", flush=True)

    big: dict[str, Any] | None = None
    big_folder: Path | None = None
    cleanup = False
    if "aquarium_100k" in tools:
        big_folder = args.big_store or Path(tempfile.mkdtemp(prefix="aquarium-w2-big-")) / "store"
        cleanup = args.big_store is None
        print(f"  building the {big_runs:,}-run store (not timed) ...", flush=True)
        big = prepare_big(big_runs, big_folder, args.timeout)
        print(f"  {'reused' if big['reused'] else 'built'} {big_folder}: {big['runs']:,} runs, "
              f"{big['db_bytes'] / 2**20:,.0f} MB, {big['filtered']:,} match the filter"
              + ("" if big["reused"] else f" ({big['build_s']:.0f} s)"), flush=True)

    reps: dict[str, list[dict]] = {t: [] for t in tools}
    try:
        for rep in range(max(repeats.values())):  # interleaved, so drift in machine load hits every tool alike
            for tool in tools:
                if rep >= repeats[tool]:
                    continue
                runs = {"mlflow": mlflow_runs, "aquarium_100k": big_runs}.get(tool, args.runs)
                result = run_one(tool, runs, args.inner, args.timeout, str(big_folder) if tool == "aquarium_100k"
                                 else None)
                reps[tool].append(result)
                note = f"  CHECK FAILED: {result['errors'][0]}" if result["errors"] else ""
                timed = (f"create {result['create']:7.2f} s (CPU {result['create_cpu']:6.2f})  "
                         if "create" in result else "")
                print(f"  [{rep + 1}/{repeats[tool]}] {tool:<13} runs={runs:>7,}  {timed}"
                      f"search all {result['search_all']['median']:7.4f} s  "
                      f"filtered {result['filtered']['median']:7.4f} s  "
                      + (f"compare {result['compare']['median']:6.4f} s  " if "compare" in result else "")
                      + (f"limit 20 {result['search_20']['median']:6.4f} s  " if "search_20" in result else "")
                      + f"(process {result['process']:.1f} s, load {result['load_before']:.1f}){note}", flush=True)
    finally:
        if cleanup and big_folder is not None:
            shutil.rmtree(big_folder.parent, ignore_errors=True)

    summaries = {t: summarize(t, reps[t], args.runs) for t in tools}
    checks = target_checks(summaries, args.runs)
    counted = count_check(summaries, args.runs, mlflow_runs)
    load_after = os.getloadavg()
    print()
    if {"aquarium", "mlflow"} & set(summaries):
        print(w2_table(summaries, args.runs))
        print("\ns: median wall time; CPU s: CPU time of the process (all its threads), median. "
              "MLflow ÷ Aquarium: how many times slower MLflow is.")
        if "mlflow" in summaries:
            m = summaries["mlflow"]
            print(f"MLflow: {plural(args.mlflow_repeat, 'process', 'processes')} (--mlflow-repeat); "
                  "searches are medians of --inner calls in that process."
                  + (f" Run at {m['runs_run']:,} runs (--quick), every figure scaled ×{m['scale']:g}."
                     if m["scale"] != 1 else ""))
            print("MLflow as measured here when issue 3 was written: "
                  + ", ".join(f"{TITLES[f].format(runs=RUNS)} {v:g} s" for f, v in MLFLOW_EARLIER.items()) + ".")
        firsts = [f"{LABELS[t]} {TITLES[f].format(runs=args.runs)} {fmt_s(summaries[t][f + '_first'])} s"
                  for t in ("aquarium", "mlflow") if t in summaries
                  for f in FIGURES[1:] if f + "_first" in summaries[t]]
        print("First call in each process (not in the medians): " + "; ".join(firsts) + ".")
    if "aquarium_100k" in summaries:
        print()
        print(big_table(summaries["aquarium_100k"]))
        print(f"({BIG_STEPS} points per metric and run; searching reads summaries, never points. "
              f"Median of {plural(args.repeat, 'process', 'processes')} × {args.inner} calls; page cache warm.)")
    if checks:
        print("\nIssue 3 targets:")
        for c in checks:
            print(f"  {'PASS' if c['ok'] else 'MISS'}  {c['what']}: {fmt_s(c['value'])} s")
    if counted:
        print(f"\n{'OK' if counted['ok'] else 'FAILED'}: {counted['what']}: Aquarium {counted['aquarium']:,}, "
              f"MLflow {counted['mlflow']:,}")
    failed = {t: s["errors"] for t, s in summaries.items() if s["errors"]}
    for tool, errors in failed.items():
        print(f"\nWARNING: {tool} answered wrongly: {'; '.join(errors[:3])}")
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} (1 min); "
          f"took {time.perf_counter() - started:.0f} s")

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "workload": "W2", "runs": args.runs, "params": PARAMS, "metrics": list(METRICS), "steps": STEPS,
        "filter": FILTER, "mlflow_filter": MLFLOW_FILTER, "repeat": args.repeat, "mlflow_repeat": args.mlflow_repeat,
        "inner": args.inner, "quick": args.quick, "big_runs": big_runs if big else None, "big_store": big,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "duration_s": time.perf_counter() - started,
        "machine": machine(), "loadavg_before": load_before, "loadavg_after": load_after,
        "versions": versions(), "targets": TARGETS, "mlflow_earlier": MLFLOW_EARLIER, "checks": checks,
        "count_check": counted, "results": summaries,
    }, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 1 if failed or (counted and not counted["ok"]) else 0


if __name__ == "__main__":
    sys.exit(main())
