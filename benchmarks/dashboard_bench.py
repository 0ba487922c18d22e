"""The dashboard in headless Chromium (issue 7): first paint with 10,000 runs, Compare of 20 runs ×
10 metrics × 100,000 steps, server memory, beside a bare Panel page and MLflow's UI.

    python benchmarks/dashboard_bench.py               # 10,000 runs; MLflow's UI on 1,000 runs
    python benchmarks/dashboard_bench.py --quick       # 2,000 runs; MLflow's UI on 200 runs
    python benchmarks/dashboard_bench.py --no-mlflow

What is timed, each in a fresh browser context, the sides interleaved, medians of ``--repeat``:

- ``bare panel``: ``panel serve`` of a page holding one 20-row Tabulator, from ``goto`` until its
  rows are visible: the floor any Panel app stands on (the goal is within 1.5× of it);
- ``aquarium``: ``aquarium dashboard`` on a store of W2's runs scaled to 10,000 (5 params, 3
  metrics × 10 points) plus 20 runs × 10 metrics × 100,000 steps, from ``goto`` until the run
  table's rows are visible; the bytes the page received over its websocket are counted too (the
  table is paged on the server, so they must not grow with the store);
- ``compare``: in the plotly page, the 20 long runs chosen by a query and ticked, from clicking the
  Compare tab until its charts are drawn (goal ≤ 2 s); every plotted trace is checked to hold at
  most ``max_points`` points (1,500);
  (it draws with bokeh by default: Panel's own library, already in the page);
- ``plotly``: the same page asked for with ``?charts=plotly`` (the chart switch), which puts
  plotly.js (about 4 MB) into the page;
- ``server memory``: the dashboard process's resident and peak memory afterwards;
- ``mlflow ui``: ``mlflow server`` (sqlite backend) on 1,000 of the W2 runs, from ``goto`` of the
  experiment's page until the newest run's name is visible. Loading all 10,000 into MLflow
  would take about an hour (56 s per 1,000 runs), so MLflow gets a tenth of the runs: its figure
  flatters it.

Results go to ``benchmarks/results/dashboard.json`` (gitignored).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from w1_logging import machine, tool_env
from w2_runs import build_big, workload

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "dashboard.json"
LONG_RUNS, LONG_METRICS, LONG_STEPS = 20, 10, 100_000
MAX_POINTS = 400  # what the Compare page asks the visualizer for
GOALS = {"first_paint_ratio": 1.5, "compare": 2.0}
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
BARE_APP = textwrap.dedent("""
    import pandas as pd
    import panel as pn
    pn.extension("tabulator")
    frame = pd.DataFrame({"name": [f"run-{i}" for i in range(20)], "value": range(20)})
    pn.Column(pn.widgets.Tabulator(frame, show_index=False, disabled=True)).servable()
""")


def build_store(folder: str, runs: int) -> list[str]:
    """W2's runs scaled to ``runs``, plus the long runs of the Compare figure; returns their ids."""
    import numpy as np

    import aquarium
    from aquarium.ids import new_run_id
    from aquarium.model import MetricSeries, RunRecord

    build_big(runs, folder)
    store = aquarium.open_store(folder)
    store._connection().execute("PRAGMA synchronous = OFF")  # building only, never timed
    steps = np.arange(LONG_STEPS)
    ids = []
    for i in range(LONG_RUNS):
        rng = np.random.default_rng(i)
        now = time.time()
        record = RunRecord(id=new_run_id(), name=f"long-{i:02d}", experiment="long", group=f"lr-{i % 4}",
                           status="completed", created=now, started=now, ended=now + LONG_STEPS * 0.01,
                           params={"lr": 0.1 * (i % 4 + 1), "seed": i // 4})
        store.create_run(record)
        times = now + steps * 0.01
        store.write_batch(record.id, "bench", 0, {
            f"metric_{k}": MetricSeries(f"metric_{k}", steps, np.cumsum(rng.normal(size=LONG_STEPS)), times)
            for k in range(LONG_METRICS)})
        ids.append(record.id)
    store._connection().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return ids


def build_mlflow(uri: str, runs: int) -> None:
    """The first ``runs`` W2 runs logged with MLflow's client (one ``log_batch`` each)."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    experiment = client.create_experiment("w2")
    for name, params, rows in workload(runs):
        run = client.create_run(experiment, run_name=name)
        ms = int(time.time() * 1000)
        metrics = [Metric(key, value, ms + step, step) for step, row in enumerate(rows) for key, value in row.items()]
        client.log_batch(run.info.run_id, metrics=metrics, params=[Param(k, str(v)) for k, v in params.items()])
        client.set_terminated(run.info.run_id)


def start(command: list[str], url: str, log: Path, env: dict[str, str], timeout: float = 120) -> subprocess.Popen:
    import urllib.request

    proc = subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return proc
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                stop(proc)
                raise RuntimeError(f"{command[:4]} did not come up at {url}:\n{log.read_text()[-2000:]}") from None
            time.sleep(0.25)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group: it and its workers
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def memory(pid: int) -> dict[str, float]:
    """Resident and peak resident memory of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {"rss_mb": int(fields["VmRSS"].split()[0]) / 1024, "peak_mb": int(fields["VmHWM"].split()[0]) / 1024}


def first_paint(browser: Any, url: str, rows: str) -> dict[str, float]:
    """Seconds from ``goto`` until ``rows`` is visible, and the websocket bytes received by then."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    received = [0]
    page.on("websocket", lambda ws: ws.on("framereceived", lambda payload: received.__setitem__(
        0, received[0] + len(payload))))
    start = time.perf_counter()
    page.goto(url)
    page.locator(rows).first.wait_for(state="visible", timeout=120_000)
    out = {"seconds": time.perf_counter() - start, "ws_kb": received[0] / 1024,
           "rows_in_dom": page.locator(rows).count()}
    context.close()
    return out


def open_compare(browser: Any, url: str) -> dict[str, float]:
    """In a fresh page: query the long runs, tick them all, time the Compare tab until drawn."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.goto(url)
    page.locator(".aquarium-runs .tabulator-row").first.wait_for(state="visible", timeout=120_000)
    box = page.locator(".aquarium-query input")
    box.fill('experiment = "long"')
    box.press("Enter")
    page.locator(".aquarium-run-count").filter(has_text=f"{LONG_RUNS} runs").wait_for(timeout=60_000)
    page.locator(".aquarium-runs .tabulator-col input[type=checkbox]").first.click()  # tick every row
    page.locator(".aquarium-runs .tabulator-row.tabulator-selected").nth(LONG_RUNS - 1).wait_for(timeout=30_000)
    start = time.perf_counter()
    page.locator(".bk-tab").filter(has_text="Compare").click()
    plot = page.locator(".aquarium-compare .js-plotly-plot")
    plot.first.wait_for(state="visible", timeout=120_000)
    page.wait_for_function("() => true")  # one more frame: the figure is in the page
    seconds = time.perf_counter() - start
    longest = plot.first.evaluate("el => Math.max(...el.data.map(t => (t.x || []).length))")
    traces = plot.first.evaluate("el => el.data.length")
    context.close()
    return {"seconds": seconds, "longest_trace": longest, "traces": traces}


def mlflow_paint(browser: Any, url: str, newest: str) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    start = time.perf_counter()
    page.goto(url)
    page.get_by_text(newest, exact=True).first.wait_for(state="visible", timeout=180_000)
    out = {"seconds": time.perf_counter() - start}
    context.close()
    return out


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    intro, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(description=intro, epilog=details,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--mlflow-runs", type=int, default=1_000)
    parser.add_argument("--quick", action="store_true", help="2,000 runs; MLflow on 200")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.mlflow_runs = 2_000, 200
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="aquarium-dashboard-bench-"))
    env = tool_env(str(tmp))
    servers: list[subprocess.Popen] = []
    try:
        started = time.perf_counter()
        build_store(str(tmp / "store"), args.runs)
        print(f"built a store of {args.runs + LONG_RUNS:,} runs in {time.perf_counter() - started:.0f} s "
              f"(not timed)", flush=True)
        (tmp / "bare.py").write_text(BARE_APP)
        bare_port, aq_port = free_port(), free_port()
        servers.append(start([sys.executable, "-m", "panel", "serve", str(tmp / "bare.py"), "--port", str(bare_port),
                              "--address", "127.0.0.1", f"--allow-websocket-origin=127.0.0.1:{bare_port}"],
                             f"http://127.0.0.1:{bare_port}/bare", tmp / "bare.log", env))
        dashboard = start([sys.executable, "-m", "aquarium", "dashboard", "--store", str(tmp / "store"),
                           "--port", str(aq_port), "--refresh", "0"], f"http://127.0.0.1:{aq_port}/",
                          tmp / "dashboard.log", env)
        servers.append(dashboard)
        mlflow_url = newest = None
        if not args.no_mlflow:
            started = time.perf_counter()
            build_mlflow(f"sqlite:///{tmp}/mlflow.db", args.mlflow_runs)
            print(f"logged {args.mlflow_runs:,} runs into MLflow in {time.perf_counter() - started:.0f} s "
                  f"(not timed)", flush=True)
            ml_port = free_port()
            servers.append(start([sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                                  f"sqlite:///{tmp}/mlflow.db", "--artifacts-destination", str(tmp / "artifacts"),
                                  "--host", "127.0.0.1", "--port", str(ml_port), "--workers", "1"],
                                 f"http://127.0.0.1:{ml_port}/health", tmp / "mlflow.log",
                                 {**env, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}))
            from mlflow.tracking import MlflowClient

            experiment = MlflowClient(f"http://127.0.0.1:{ml_port}").get_experiment_by_name("w2").experiment_id
            mlflow_url = f"http://127.0.0.1:{ml_port}/#/experiments/{experiment}/runs"
            newest = workload(args.mlflow_runs)[-1][0]
        reps: dict[str, list[dict]] = {"bare": [], "aquarium": [], "plotly": [], "compare": [], "mlflow": []}
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            first_paint(browser, f"http://127.0.0.1:{bare_port}/bare", ".tabulator-row")  # warm both servers
            first_paint(browser, f"http://127.0.0.1:{aq_port}/", ".aquarium-runs .tabulator-row")
            for i in range(args.repeat):
                reps["bare"].append(first_paint(browser, f"http://127.0.0.1:{bare_port}/bare", ".tabulator-row"))
                reps["aquarium"].append(first_paint(browser, f"http://127.0.0.1:{aq_port}/",
                                                    ".aquarium-runs .tabulator-row"))
                reps["plotly"].append(first_paint(browser, f"http://127.0.0.1:{aq_port}/?charts=plotly",
                                                  ".aquarium-runs .tabulator-row"))
                reps["compare"].append(open_compare(browser, f"http://127.0.0.1:{aq_port}/?charts=plotly"))
                if mlflow_url:
                    reps["mlflow"].append(mlflow_paint(browser, mlflow_url, newest))
                line = "  ".join(f"{k} {v[-1]['seconds']:.2f} s" for k, v in reps.items() if v)
                print(f"  [{i + 1}/{args.repeat}] {line}", flush=True)
            browser.close()
        mem = memory(dashboard.pid)
    finally:
        for proc in servers:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)

    med = {k: statistics.median(r["seconds"] for r in v) if v else None for k, v in reps.items()}
    ratio = med["aquarium"] / med["bare"]
    longest = max(r["longest_trace"] for r in reps["compare"])
    print(f"\nDashboard, {args.runs + LONG_RUNS:,} runs in the store; medians of {args.repeat}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"  bare Panel page (one 20-row Tabulator)    first paint {med['bare']:.2f} s")
    print(f"  Aquarium dashboard                        first paint {med['aquarium']:.2f} s  "
          f"= {ratio:.2f}× the bare page (goal ≤ {GOALS['first_paint_ratio']}×): "
          f"{'PASS' if ratio <= GOALS['first_paint_ratio'] else 'MISS'}; "
          f"{statistics.median(r['ws_kb'] for r in reps['aquarium']):.0f} KB over the websocket, "
          f"{reps['aquarium'][-1]['rows_in_dom']} rows in the page")
    verdict = "PASS" if med["compare"] <= GOALS["compare"] else "MISS"
    print(f"  Compare of {LONG_RUNS} runs × {LONG_METRICS} metrics × {LONG_STEPS:,} steps: "
          f"{med['compare']:.2f} s (goal ≤ {GOALS['compare']} s): {verdict};"
          f" longest trace sent {longest:,} points (max_points {MAX_POINTS:,}): "
          f"{'PASS' if longest <= MAX_POINTS else 'MISS'}")
    print(f"  the same drawing with plotly (?charts=plotly) first paint {med['plotly']:.2f} s  "
          f"= {med['plotly'] / med['bare']:.2f}× the bare page (plotly.js in the page)")
    print(f"  server memory afterwards: {mem['rss_mb']:.0f} MB resident, peak {mem['peak_mb']:.0f} MB")
    if med["mlflow"] is not None:
        print(f"  MLflow UI on {args.mlflow_runs:,} runs (a tenth of the store)  first paint {med['mlflow']:.2f} s "
              f"= {med['mlflow'] / med['aquarium']:.2f}× Aquarium's on {args.runs + LONG_RUNS:,}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"runs": args.runs + LONG_RUNS, "mlflow_runs": args.mlflow_runs,
                                     "repetitions": reps, "medians": med, "memory": mem, "machine": machine()},
                                    indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
