"""``aquarium.compare()`` and the smoothing helpers of ``aquarium.series`` (issue 3), timed.

    python benchmarks/compare_bench.py              # full workloads, median of 5
    python benchmarks/compare_bench.py --quick      # 200 runs in the store, 10,000-step series

Two workloads:

- **compare**: a store holding W2's runs (1,000 runs, 5 params, 3 metrics × 100 steps, groups
  of 5 seeds); ``aquarium.compare()`` of 100 of them by id, then its summary, ``params.differing``
  and ``best()`` of each metric (summaries only: no metric point is read). Target: ≤ 0.1 s.
  Also timed: the same by query string, and then every run's curves (3 metrics) and the group
  aggregates (these read the points: one ``store.history`` call per run).
- **smoothing**: 20 runs × 10 metrics × 100,000 steps (random walks with 1 % NaN; uneven
  timestamps for ``twema``), each of ``ema:0.6``, ``twema:0.6``, ``ma:10``, ``ma:1000`` over
  all 200 series, and ``twema:0.6`` once more on evenly spaced steps. Target: well under a
  second. For scale, TensorBoard's algorithm as a plain Python loop is timed on one series
  and multiplied by 200.

Aquarium only: MLflow, W&B and TensorBoard have no ``compare()`` to put beside it (their
equivalents are UI features). Timings are medians; the load average is printed because other
processes on a shared machine move them. Results go to ``benchmarks/results/compare.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import aquarium
from aquarium import series

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "compare.json"

RUNS, COMPARED, STEPS, SEEDS = 1_000, 100, 100, 5
METRICS = ("loss", "acc", "val/loss")
SMOOTH_RUNS, SMOOTH_METRICS, SMOOTH_STEPS = 20, 10, 100_000
SPECS = ("ema:0.6", "twema:0.6", "ma:10", "ma:1000")
TARGET_COMPARE_S = 0.1
TARGET_SMOOTH_S = 1.0
EVEN = "twema:0.6 evenly spaced"


def median_time(action: Callable[[], Any], repeat: int) -> float:
    """Median wall time of ``action``; the median CPU time of this process goes to ``CPU``
    under the same label (other processes on a shared machine inflate wall times)."""
    walls, cpus = [], []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        action()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    CPU.append(statistics.median(cpus))
    return statistics.median(walls)


CPU: list[float] = []  # CPU time of the latest median_time call is CPU[-1]


def fill_store(path: str, runs: int) -> list[str]:
    """W2's runs: 5 params, 3 metrics × 100 steps, groups of SEEDS seeds."""
    rng = np.random.default_rng(0)
    ids = []
    for i in range(runs):
        lr = [0.1, 0.03, 0.01, 0.003][i // SEEDS % 4]
        params = {"lr": lr, "seed": i % SEEDS, "batch_size": [32, 64][i % 2], "optimizer": "adam", "depth": 18}
        run = aquarium.start_run(name=f"run-{i}", group=f"config-{i // SEEDS}", params=params, store=path,
                                 capture_source=False, heartbeat=False, flush_interval=60)
        decay = np.exp(-np.arange(STEPS) * lr)
        loss = decay + rng.random(STEPS) * 0.1
        acc = 1 - decay * 0.9 + rng.random(STEPS) * 0.05
        val = loss + rng.random(STEPS) * 0.05
        for step in range(STEPS):
            run.log({"loss": float(loss[step]), "acc": float(acc[step]), "val/loss": float(val[step])}, step=step)
        run.finish()
        ids.append(run.id)
    return ids


def bench_compare(runs: int, repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="aquarium-compare-") as folder:
        start = time.perf_counter()
        ids = fill_store(folder, runs)
        created = time.perf_counter() - start
        store = aquarium.open_store(folder)
        chosen = ids[::max(1, runs // COMPARED)][:COMPARED]
        groups = sorted({f"config-{ids.index(i) // SEEDS}" for i in chosen})

        def tables(cmp: aquarium.Comparison) -> tuple:
            return cmp.summary.rows, cmp.params.differing, [cmp.best(metric) for metric in METRICS]

        def by_ids() -> aquarium.Comparison:
            cmp = aquarium.compare(chosen, store=store)
            tables(cmp)
            return cmp

        def by_query() -> None:
            query = f"group in ({', '.join(repr(g) for g in groups)})"
            tables(aquarium.compare(query, store=store))

        def with_points() -> None:
            cmp = aquarium.compare(chosen, store=store)
            tables(cmp)
            for metric in METRICS:
                cmp.curves(metric, smoothing="ema:0.6")
                cmp.groups(metric)

        by_ids()  # warm the store's connection and page cache, as a notebook session would be
        check = by_ids()
        assert len(check.runs) == len(chosen) and len(check.summary) == len(chosen) * len(METRICS)
        out: dict[str, Any] = {"runs_in_store": runs, "compared": len(chosen), "create_s": created}
        for label, action in (("compare_ids_s", by_ids), ("compare_query_s", by_query),
                              ("compare_with_points_s", with_points)):
            out[label] = median_time(action, repeat)
            out[label.replace("_s", "_cpu_s")] = CPU[-1]
        return out


def tensorboard_loop(values: np.ndarray, weight: float) -> list[float]:
    last, accumulated, out = 0.0, 0, []
    for v in values.tolist():
        if not math.isfinite(v):
            out.append(v)
            continue
        last = last * weight + (1 - weight) * v
        accumulated += 1
        out.append(last / (1 - weight**accumulated))
    return out


def bench_smoothing(steps: int, repeat: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    count = SMOOTH_RUNS * SMOOTH_METRICS
    values = []
    for _ in range(count):
        v = np.cumsum(rng.normal(size=steps))
        v[rng.random(steps) < 0.01] = np.nan
        values.append(v)
    times = [np.cumsum(rng.exponential(size=steps)) for _ in range(count)]
    out: dict[str, Any] = {"series": count, "steps": steps}
    for spec in SPECS:
        smoother = series.parse_smoothing(spec)
        out[spec] = median_time(lambda s=smoother: [s(v, t) for v, t in zip(values, times)], repeat)
        out[f"{spec} cpu"] = CPU[-1]
    evenly = np.arange(steps, dtype=np.float64)
    clean = [np.where(np.isnan(v), 0.0, v) for v in values]
    twema = series.parse_smoothing("twema:0.6")
    out[EVEN] = median_time(lambda: [twema(v, evenly) for v in clean], repeat)
    out[f"{EVEN} cpu"] = CPU[-1]
    start = time.perf_counter()
    tensorboard_loop(values[0], 0.6)
    out["python_loop_ema_s"] = (time.perf_counter() - start) * count
    return out


def main(argv: list[str] | None = None) -> int:
    intro, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(description=intro, epilog=details,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="repetitions; medians are reported")
    parser.add_argument("--quick", action="store_true", help="200 runs in the store, 10,000-step series")
    parser.add_argument("--json", type=Path, default=RESULTS, help=f"where to write results (default {RESULTS})")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    runs = 200 if args.quick else RUNS
    steps = 10_000 if args.quick else SMOOTH_STEPS
    load_before = os.getloadavg()
    print(f"compare: {runs:,} runs in the store (W2 shape), {COMPARED} compared × {len(METRICS)} metrics; "
          f"median of {args.repeat}; {os.cpu_count()} CPUs; load average {load_before[0]:.2f}", flush=True)
    compared = bench_compare(runs, args.repeat)
    print(f"  store filled in {compared['create_s']:.1f} s (not part of the figures)")
    def ms(label: str) -> str:
        return f"{compared[label] * 1e3:7.1f} ms (CPU {compared[label.replace('_s', '_cpu_s')] * 1e3:6.1f} ms)"

    ok = compared["compare_ids_s"] <= TARGET_COMPARE_S
    print(f"  compare(100 ids) + summary + differing + best × 3   {ms('compare_ids_s')}"
          f"   target ≤ {TARGET_COMPARE_S * 1e3:.0f} ms: {'PASS' if ok else 'MISS'}")
    print(f"  the same, runs chosen by a query string             {ms('compare_query_s')}")
    print(f"  ... plus curves (ema:0.6) and groups of 3 metrics   {ms('compare_with_points_s')}   (reads the points)")
    print(f"\nsmoothing: {SMOOTH_RUNS} runs × {SMOOTH_METRICS} metrics × {steps:,} steps "
          f"({SMOOTH_RUNS * SMOOTH_METRICS} series, 1 % NaN)", flush=True)
    smoothed = bench_smoothing(steps, args.repeat)
    for spec in (*SPECS, EVEN):
        ok = smoothed[spec] < TARGET_SMOOTH_S
        print(f"  {spec:<24} {smoothed[spec]:6.3f} s (CPU {smoothed[f'{spec} cpu']:6.3f} s)   "
              f"target < {TARGET_SMOOTH_S:.0f} s: {'PASS' if ok else 'MISS'}")
    print("  (twema decays by uneven gaps with a general linear scan; evenly spaced points without NaN\n"
          "   take the constant-decay path of ema)")
    print(f"  TensorBoard's EMA as a Python loop, for scale: {smoothed['python_loop_ema_s']:.2f} s "
          f"({smoothed['python_loop_ema_s'] / smoothed['ema:0.6']:.0f}× the vectorized ema)")
    load_after = os.getloadavg()
    print(f"\nload average after: {load_after[0]:.2f}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "workload": "compare", "quick": args.quick, "repeat": args.repeat,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "loadavg_before": load_before, "loadavg_after": load_after,
        "compare": compared, "smoothing": smoothed,
    }, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
