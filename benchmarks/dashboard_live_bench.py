"""What a live refresh sends (issue 7): a running run's curve in the dashboard's run detail,
bokeh (the default) beside plotly, in headless Chromium.

    python benchmarks/dashboard_live_bench.py              # a run of 3,000 points, then 10 a second
    python benchmarks/dashboard_live_bench.py --points 30000

A run logs ``--points`` points at once, then 10 points a second. ``aquarium dashboard --refresh 1``
serves the store; for each chart library a fresh page opens the run's detail, waits until the
curve is drawn, then counts for ``--seconds`` what arrives over the websocket: every byte, and
the rows of the curve's data (bokeh: the ``ColumnsStreamed``/``ColumnsPatched``/replacement
events of the source holding ``step`` and ``y``; plotly: Panel's Plotly pane re-sends a changed
trace's ``x`` and ``y`` arrays, counted from their ``shape``). The run detail draws at most 1,000
points per series, so without streaming each refresh would carry the whole downsampled curve.

Results go to ``benchmarks/results/dashboard-live.json`` (gitignored).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from dashboard_bench import CHROMIUM_ARGS, free_port, start, stop
from w1_logging import machine, tool_env

from aquarium_dashboard.testing import columns_of, events_sent

RESULTS = Path(__file__).resolve().parent / "results" / "dashboard-live.json"
REFRESH = 1.0
LOGGER = """
import math, sys, time, aquarium
with aquarium.start_run(name="live", store=sys.argv[1], flush_interval=0.2, capture_source=False) as run:
    points = int(sys.argv[2])
    for step in range(points):
        run.log({"loss": math.sin(step / 50)}, step=step)
    run.flush()
    step = points
    while True:
        run.log({"loss": math.sin(step / 50)}, step=step)
        step += 1
        time.sleep(0.1)
"""


def curve_rows(frames: list[str]) -> int:
    """Rows of the curve's ``step`` (bokeh) or ``x`` (plotly) data in the frames' document events."""
    rows = 0
    for event in events_sent(frames):
        columns = columns_of(event)
        rows += columns.get("step", columns.get("x", 0))
    return rows


def watch(browser: Any, url: str, charts: str, seconds: float) -> dict[str, float]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    frames: list[str | bytes] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda frame: frames.append(frame)))
    page.goto(f"{url}?charts={charts}")
    page.locator(".aquarium-runs .tabulator-row").filter(has_text="live").locator(
        "[tabulator-field='name']").click()
    drawn = ".aquarium-run-detail .bk-Canvas" if charts == "bokeh" else ".aquarium-run-detail .js-plotly-plot"
    page.locator(drawn).first.wait_for(state="visible", timeout=60_000)
    page.wait_for_timeout(2 * REFRESH * 1000)
    frames.clear()
    page.wait_for_timeout(seconds * 1000)
    context.close()
    refreshes = seconds / REFRESH
    total = sum(len(f) for f in frames)
    return {"bytes_per_refresh": total / refreshes,
            "curve_rows_per_refresh": curve_rows([f for f in frames if isinstance(f, str)]) / refreshes}


def main(argv: list[str] | None = None) -> int:
    intro, _, details = __doc__.partition("\n\n")
    parser = argparse.ArgumentParser(description=intro, epilog=details,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=3_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--json", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="aquarium-live-bench-"))
    env = tool_env(str(tmp))
    store = str(tmp / "store")
    logger = subprocess.Popen([sys.executable, "-c", textwrap.dedent(LOGGER), store, str(args.points)], env=env)
    servers: list[subprocess.Popen] = []
    results: dict[str, dict[str, float]] = {}
    try:
        deadline = time.monotonic() + 60
        while not Path(store).exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        port = free_port()
        servers.append(start([sys.executable, "-m", "aquarium", "dashboard", "--store", store, "--port", str(port),
                              "--refresh", str(REFRESH)], f"http://127.0.0.1:{port}/", tmp / "dashboard.log", env))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for charts in ("bokeh", "plotly"):
                results[charts] = watch(browser, f"http://127.0.0.1:{port}/", charts, args.seconds)
            browser.close()
    finally:
        logger.terminate()
        logger.wait(20)
        for proc in servers:
            stop(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nLive refresh of a running run ({args.points:,} points, then 10 a second; refresh {REFRESH:g} s; "
          f"{args.seconds:g} s watched)")
    for charts, r in results.items():
        print(f"  {charts:<7} {r['bytes_per_refresh'] / 1024:6.1f} KB per refresh over the websocket, "
              f"{r['curve_rows_per_refresh']:6.1f} rows of the curve per refresh")
    ratio = results["plotly"]["bytes_per_refresh"] / results["bokeh"]["bytes_per_refresh"]
    print(f"  plotly sends {ratio:.1f}× bokeh's bytes (Panel's Plotly pane re-sends a changed trace whole)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"points": args.points, "refresh": REFRESH, "seconds": args.seconds,
                                     "results": results, "machine": machine()}, indent=2))
    print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
