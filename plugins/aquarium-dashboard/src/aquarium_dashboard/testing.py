"""Serving the dashboard for tests: a real ``aquarium dashboard`` process on a free loopback port."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

#: Debian's chromium, driven by Playwright (never a downloaded browser).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: A name, param, tag or note that would run a script if it were ever shown as markup.
XSS = "<img src=x onerror=alert(1)>"
#: A metric key that would run a script if it were shown as markup (a column title, an option).
XSS_METRIC = "<img src=x onerror=alert(5)>"
#: Seconds between live updates of the dashboards the tests start.
REFRESH = 1.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except Exception:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the dashboard did not come up at {url}:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.2)


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def serve(store: str, *extra: str, log_dir: Path) -> tuple[str, subprocess.Popen]:
    """Start ``aquarium dashboard`` on ``store``; returns its URL and process (end it with :func:`stop`)."""
    port = free_port()
    log = log_dir / f"dashboard-{port}.log"
    env = {**os.environ, "AQUARIUM_HEARTBEAT_TIMEOUT": os.environ.get("AQUARIUM_HEARTBEAT_TIMEOUT", "60")}
    proc = subprocess.Popen([sys.executable, "-m", "aquarium", "dashboard", "--store", store, "--port", str(port),
                             "--refresh", str(REFRESH), *extra], stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env=env)
    url = f"http://127.0.0.1:{port}/"
    wait_for(url, proc, log)
    return url, proc


def events_sent(frames: list[str]) -> list[dict]:
    """The document changes in the server's websocket text frames (bokeh's PATCH-DOC events)."""
    return [event for frame in frames if frame.startswith('{"events"') for event in json.loads(frame)["events"]]


def columns_of(event: dict) -> dict[str, int]:
    """Column name -> rows an event carries, for an event that sends a source's data (a
    stream, a patch, or a replacement; Panel's Plotly pane holds each column as ``[array]``)."""
    if event["kind"] == "ColumnsPatched":
        return {name: sum((p[0]["stop"] - p[0]["start"]) if isinstance(p[0], dict) else 1 for p in patches)
                for name, patches in event["patches"]["entries"]}
    data = event.get("data") or event.get("new") or {}
    rows = {}
    for name, value in data.get("entries", []) if isinstance(data, dict) else []:
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict):
            value = value[0]
        rows[name] = (value.get("shape") or [len(value.get("array", []))])[0] if isinstance(value, dict) \
            else len(value)
    return rows
