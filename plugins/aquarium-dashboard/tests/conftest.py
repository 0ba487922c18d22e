"""Fixtures: the demo store (with an attacker's run) and ``aquarium dashboard`` serving it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import aquarium
from aquarium.demo import run_demo
from aquarium_dashboard.testing import CHROMIUM, CHROMIUM_ARGS, XSS, XSS_METRIC, serve, stop


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    """Where the views' screenshots go (``AQUARIUM_SCREENSHOTS`` to keep them)."""
    folder = Path(os.environ.get("AQUARIUM_SCREENSHOTS") or tmp_path_factory.mktemp("screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory) -> str:
    """The demo runs, plus one whose every user-written field is an attack."""
    path = str(tmp_path_factory.mktemp("dashboard") / "store")
    run_demo(path, steps=200)
    with aquarium.start_run(name=XSS, experiment="spirals", store=path, capture_source=False,
                            params={"lr": 0.05, "note": "<script>alert(2)</script>"},
                            tags={"<b>tag</b>": "<i onmouseover=alert(3)>x</i>"},
                            notes="<svg onload=alert(4)>") as run:
        for step in range(50):
            run.log({"train/loss": 1 / (step + 1), "val/acc": step / 50, XSS_METRIC: step}, step=step)
    return path


@pytest.fixture(scope="session")
def dashboard(demo_store, tmp_path_factory):
    """``aquarium dashboard`` on the demo store, in its own process."""
    url, proc = serve(demo_store, log_dir=tmp_path_factory.mktemp("serve"))
    yield url
    stop(proc)
