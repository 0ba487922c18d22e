"""W&B runs offline in tests, writing only under a temporary folder (nothing under ~, no network).

The variables are those of ``shared/recipes.md`` §3. They are set for the whole session of
this folder's tests (the W&B service process started by the first test inherits them) and
restored afterwards. ``make_native_run`` writes runs with W&B's own client, the way a user
would, in a subprocess, so each gets its own clean process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aquarium


@pytest.fixture(scope="session", autouse=True)
def wandb_offline_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("wandb-home")
    env = {
        "WANDB_MODE": "offline", "WANDB_SILENT": "true", "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true", "WANDB_CONSOLE": "off", "WANDB_DIR": str(home),
        "WANDB_CACHE_DIR": str(home / ".cache"), "WANDB_CONFIG_DIR": str(home / ".config"),
        "WANDB_DATA_DIR": str(home / ".data"),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield home
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture
def store(tmp_path: Path) -> Any:
    return aquarium.open_store(tmp_path / "store")


NATIVE_PRELUDE = """
import json, os, sys
import wandb
SETTINGS = wandb.Settings(x_disable_stats=True, x_disable_meta=True, console="off", save_code=False,
                          disable_git=True, silent=True)
"""


def run_native(code: str, folder: Path | str) -> Any:
    """Run ``code`` (W&B's own client, with ``wandb`` and ``SETTINGS`` defined) in a fresh
    Python process, in ``folder`` (``OUT`` in its environment); returns what it printed as JSON."""
    script = NATIVE_PRELUDE + textwrap.dedent(code)
    proc = subprocess.run([sys.executable, "-c", script], cwd=str(folder), env=_child_env(folder),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 or "EXPECT_FAIL" in code, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else None


@pytest.fixture(scope="session")
def native_runner() -> Any:
    """:func:`run_native`, for fixtures of any scope."""
    return run_native


@pytest.fixture
def native_run(tmp_path: Path) -> Any:
    """``native_run(code, folder=tmp_path)``: :func:`run_native` for one test."""

    def run(code: str, folder: Path | str = tmp_path) -> Any:
        return run_native(code, folder)

    return run


def _child_env(folder: Path | str) -> dict[str, str]:
    env = {**os.environ, "OUT": str(folder)}
    env.pop("WANDB_SERVICE", None)  # its own wandb-core, not the one this process may have started
    return env
