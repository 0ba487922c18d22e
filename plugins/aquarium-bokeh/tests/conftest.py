"""Fixtures of aquarium-bokeh's tests: real runs in a real SQLite store, and Debian's chromium.

Playwright drives ``/usr/bin/chromium`` (never a downloaded browser: no ``playwright
install``). A machine without it fails the browser tests rather than skipping them.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import aquarium

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
XSS = "<img src=x onerror=alert(1)>"
STEPS = 60


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (the browser tests never skip)")
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


def log_runs(path: str) -> dict[str, str]:
    """Seven runs: two alone, three seeds of a group, one with NaNs, one named like HTML."""
    ids: dict[str, str] = {}
    i = np.arange(STEPS, dtype=np.float64)
    plan = [("alpha", None, 0.1, "adam"), ("beta", None, 0.01, "sgd"), ("seed-0", "seeds", 0.05, "adam"),
            ("seed-1", "seeds", 0.05, "adam"), ("seed-2", "seeds", 0.05, "adam"), ("nan-run", None, 1.0, "sgd"),
            (XSS, None, 0.2, "<b>sgd</b>")]
    for index, (name, group, lr, opt) in enumerate(plan):
        run = aquarium.start_run(name=name, group=group, store=path, capture_source=False,
                                 params={"lr": lr, "opt": opt, "layers": 2 + index % 3, "seed": index})
        loss = 1.0 / (1.0 + (0.05 + 0.01 * index) * i) + 0.02 * np.sin(i + index)
        if name == "nan-run":
            loss[30:35] = np.nan
        acc = 1.0 - np.nan_to_num(loss, nan=1.0) / 2
        for step in range(STEPS):
            run.log({"loss": float(loss[step]), "acc": float(acc[step])}, step=step)
        run.finish()
        ids[name] = run.id
    return ids


@pytest.fixture(scope="session")
def store_path(tmp_path_factory):
    return str(tmp_path_factory.mktemp("bokeh-runs") / "store")


@pytest.fixture(scope="session")
def run_ids(store_path):
    return log_runs(store_path)


@pytest.fixture
def comparison(store_path, run_ids):
    """A fresh comparison each test (it caches points; tests must not share that state)."""
    return aquarium.compare(list(run_ids.values()), store=store_path)
