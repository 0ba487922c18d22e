"""The bokeh visualizer at scale (issue 4): 1,000 runs × 10,000 steps, timed.

    python benchmarks/charts_bokeh_bench.py            # 1,000 runs × 10,000 steps
    python benchmarks/charts_bokeh_bench.py --quick    # 100 runs × 10,000 steps

The store (a real SQLite file, filled by ``charts_bench.fill_store``: one metric ``loss`` per
run, a noisy decay with one spike) holds the runs. Timed, one after the other:

- **read**: ``aquarium.compare()`` of the runs and ``curves("loss")`` (every point read);
- **curves** (the issue's bar: "a chart of 1,000 runs × 10,000 steps must render, figure
  built and HTML written"): **render**, the ``GridPlot`` built with the default
  ``max_points`` (2,000 per series: one ``ColumnDataSource`` and one line per run), and
  **html**, ``to_html`` of it written to a file (BokehJS embedded once), with its size;
  then the same for ``smoothed`` (``ema:0.9``), ``heatmap``, ``distribution`` and
  ``summary_table``, and ``aquarium.report.write_report``;
- **update**: 100 more steps logged to every run, then ``update`` of the curves figure
  inside a bokeh ``Document`` (what a bokeh/Panel server would sync): the time, and how many
  sources were streamed (only the new rows travel) or replaced (a series that was already
  downsampled is downsampled anew).

Timings are wall-clock medians of ``--repeat``; the load average is printed because other
processes move them. Results go to ``benchmarks/results/charts-bokeh.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from charts_bench import fill_store, timed  # this folder is on sys.path when a benchmark runs as a script

import aquarium
from aquarium import report
from aquarium.charts import ChartOptions
from aquarium.model import MetricSeries

HERE = Path(__file__).resolve().parent
RUNS, STEPS = 1_000, 10_000
CHARTS = (("curves", {}), ("smoothed", {"smoothing": "ema:0.9"}), ("heatmap", {}), ("distribution", {}),
          ("summary_table", {}))


def grow(path: str, ids: list[str], steps: int, more: int) -> None:
    """``more`` new steps of ``loss`` for every run, after the ``steps`` it has."""
    store = aquarium.open_store(path)
    x = np.arange(steps, steps + more)
    now = time.time()
    for run_id in ids:
        store.write_batch(run_id, "bench", 1, {"loss": MetricSeries("loss", x, np.full(more, 0.01), now + x * 0.01)})
    store.close()


def main(argv: list[str] | None = None) -> int:
    intro, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(description=intro, epilog=details,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=1, help="repetitions per figure; medians are reported")
    parser.add_argument("--quick", action="store_true", help="100 runs × 10,000 steps")
    parser.add_argument("--runs", type=int, default=None, help=f"runs (default {RUNS:,})")
    parser.add_argument("--steps", type=int, default=STEPS, help=f"steps per run (default {STEPS:,})")
    parser.add_argument("--json", type=Path, default=HERE / "results" / "charts-bokeh.json", help="results file")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be >= 1")
    runs = args.runs or (100 if args.quick else RUNS)
    from bokeh.document import Document
    from bokeh.document.events import ColumnDataChangedEvent, ColumnsStreamedEvent

    from aquarium_bokeh import BokehVisualizer

    visualizer = BokehVisualizer()
    load_before = os.getloadavg()
    print(f"charts (bokeh): {runs:,} runs × {args.steps:,} steps, max_points 2,000; median of {args.repeat}; "
          f"{os.cpu_count()} CPUs; load average {load_before[0]:.2f}", flush=True)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="aquarium-charts-bokeh-") as folder:
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
        print(f"  report (summary table + curves)              total {report_s:6.2f} s   {size / 1e6:6.1f} MB",
              flush=True)

        figure = visualizer.render("curves", comparison, ChartOptions())
        doc = Document()
        doc.add_root(figure)
        events: list[Any] = []
        doc.on_change(events.append)
        grow(folder, ids, args.steps, 100)
        start = time.perf_counter()
        visualizer.update(figure, aquarium.compare(ids, store=folder), ChartOptions())
        update_s = time.perf_counter() - start
        streamed = sum(isinstance(e, ColumnsStreamedEvent) for e in events)
        replaced = sum(isinstance(e, ColumnDataChangedEvent) for e in events)
        results["update"] = {"total_s": update_s, "streamed": streamed, "replaced": replaced, "new_steps": 100}
        print(f"  update (100 new steps per run, curves)       total {update_s:6.2f} s   "
              f"{streamed} sources streamed, {replaced} replaced", flush=True)
    load_after = os.getloadavg()
    print(f"load average after: {load_after[0]:.2f}")
    import bokeh

    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "workload": "charts", "backend": "bokeh", "runs": runs, "steps": args.steps, "repeat": args.repeat,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"python": platform.python_version(), "numpy": np.__version__, "cpus": os.cpu_count(),
                    "platform": platform.platform(), "bokeh": bokeh.__version__},
        "loadavg_before": load_before, "loadavg_after": load_after, "results": results,
    }, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
