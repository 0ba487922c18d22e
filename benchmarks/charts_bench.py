"""Charts at scale (issue 4): 1,000 runs × 10,000 steps drawn by the visualizer plugins, timed.

    python benchmarks/charts_bench.py                 # 1,000 runs × 10,000 steps, plotly
    python benchmarks/charts_bench.py --quick         # 100 runs × 10,000 steps
    python benchmarks/charts_bench.py --backend bokeh # another installed visualizer

The store (a real SQLite file) holds 1,000 runs, each with one metric of 10,000 steps (a
noisy decay with one spike). Timed, one after the other on the same comparison:

- **read**: ``aquarium.compare()`` of the 1,000 runs and ``curves("loss")`` (every point read
  from the store: 10,000,000 points);
- per chart (``curves``, ``smoothed`` with ``ema:0.9``, ``heatmap``, ``distribution``,
  ``summary_table``): **render**, the figure built with the default ``max_points`` (2,000
  per series), and **html**, ``to_html`` of that one figure written to a file (the plotting
  library's JavaScript embedded once), with the file's size;
- **report**: ``aquarium.report.write_report`` (summary table and curves in one file).

The issue's bar: "a chart of 1,000 runs × 10,000 steps must render (figure built and HTML
written)". No tracker draws this in a browser the same way to put beside it (MLflow's UI
asks for 320 points per chart and draws at most 100 runs). Timings are wall-clock medians of
``--repeat``; the load average is printed because other processes move them. Results go to
``benchmarks/results/charts-<backend>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import aquarium
from aquarium import report
from aquarium.charts import ChartOptions
from aquarium.ids import new_run_id
from aquarium.model import MetricSeries, RunRecord

HERE = Path(__file__).resolve().parent
RUNS, STEPS = 1_000, 10_000
CHARTS = (("curves", {}), ("smoothed", {"smoothing": "ema:0.9"}), ("heatmap", {}), ("distribution", {}),
          ("summary_table", {}))


def fill_store(path: str, runs: int, steps: int) -> list[str]:
    """``runs`` finished runs of one metric ``loss`` over ``steps`` steps, written through the
    store interface (one batch per run: the tracking loop's cost is W1's subject, not this one's)."""
    store = aquarium.open_store(path)
    rng = np.random.default_rng(0)
    ids = []
    now = time.time()
    x = np.arange(steps)
    for i in range(runs):
        lr = 10 ** rng.uniform(-4, -1)
        record = RunRecord(id=new_run_id(), name=f"run-{i:04d}", experiment="charts", status="completed",
                           created=now, started=now, ended=now + steps * 0.01, params={"lr": lr, "seed": i})
        store.create_run(record)
        values = np.exp(-x * lr * 0.05) + rng.normal(0, 0.02, steps)
        values[rng.integers(steps)] += 5.0  # one spike per run, which downsampling must keep
        series = MetricSeries("loss", x, values, now + x * 0.01)
        store.write_batch(record.id, "bench", 0, {"loss": series})
        ids.append(record.id)
    store.close()
    return ids


def timed(action: Any, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main(argv: list[str] | None = None) -> int:
    intro, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(description=intro, epilog=details,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="plotly", help="installed visualizer to time (default plotly)")
    parser.add_argument("--repeat", type=int, default=1, help="repetitions per figure; medians are reported")
    parser.add_argument("--quick", action="store_true", help="100 runs × 10,000 steps")
    parser.add_argument("--runs", type=int, default=None, help=f"runs (default {RUNS:,})")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"steps per run (default {STEPS:,})")
    parser.add_argument("--json", type=Path, default=None, help="results file (default benchmarks/results/"
                                                                 "charts-<backend>.json)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    runs = args.runs or (100 if args.quick else RUNS)
    visualizers = aquarium.plugins.visualizers()
    if args.backend not in visualizers:
        parser.error(f"no visualizer {args.backend!r} is installed (installed: {', '.join(sorted(visualizers))})")
    visualizer = visualizers[args.backend]
    out_json = args.json or HERE / "results" / f"charts-{args.backend}.json"
    load_before = os.getloadavg()
    print(f"charts ({args.backend}): {runs:,} runs × {args.steps:,} steps, max_points 2,000; "
          f"median of {args.repeat}; {os.cpu_count()} CPUs; load average {load_before[0]:.2f}", flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="aquarium-charts-") as folder:
        start = time.perf_counter()
        ids = fill_store(folder, runs, args.steps)
        print(f"  store filled in {time.perf_counter() - start:.1f} s (not part of the figures)", flush=True)
        start = time.perf_counter()
        comparison = aquarium.compare(ids, store=folder)
        comparison.curves("loss")
        results["read_s"] = time.perf_counter() - start
        print(f"  read: compare() + every point ({runs * args.steps:,})   {results['read_s']:7.2f} s", flush=True)
        for chart, options in CHARTS:
            render_s, figure = timed(lambda c=chart, o=options: visualizer.render(c, comparison, ChartOptions(**o)),
                                     args.repeat)
            path = Path(folder) / f"{chart}.html"

            def write(f: Any = figure, p: Path = path, c: str = chart) -> None:
                p.write_text(visualizer.to_html([f], title=f"{c} of {runs} runs"), encoding="utf-8")

            html_s, _ = timed(write, args.repeat)
            size = path.stat().st_size
            results[chart] = {"render_s": render_s, "html_s": html_s, "total_s": render_s + html_s, "bytes": size}
            print(f"  {chart:<14} render {render_s:6.2f} s   html {html_s:6.2f} s   total {render_s + html_s:6.2f} s"
                  f"   {size / 1e6:6.1f} MB", flush=True)
        report_s, _ = timed(lambda: report.write_report(comparison, visualizer, Path(folder) / "report.html"),
                            args.repeat)
        size = (Path(folder) / "report.html").stat().st_size
        results["report"] = {"total_s": report_s, "bytes": size}
        print(f"  report (summary table + curves)              total {report_s:6.2f} s   {size / 1e6:6.1f} MB")
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f}")
    versions = {}
    for name in ("plotly", "bokeh"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            pass
    out_json.parent.mkdir(parents=True, exist_ok=True)
    out_json.write_text(json.dumps({
        "workload": "charts", "backend": args.backend, "runs": runs, "steps": args.steps, "repeat": args.repeat,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
                    "platform": platform.platform(), **versions},
        "loadavg_before": load_before, "loadavg_after": load_after, "results": results,
    }, indent=2) + "\n")
    print(f"wrote {out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
