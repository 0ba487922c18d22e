"""The ``aquarium`` command: through click's runner and as a real subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys

from click.testing import CliRunner

import aquarium
from aquarium.cli import cli


def test_demo_logs_a_sweep_with_seeds_and_one_failed_run(tmp_path):
    exe = shutil.which("aquarium") or f"{sys.executable} -m aquarium"
    out = subprocess.run([*exe.split(), "demo", "--steps", "200"], cwd=tmp_path, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    runs = aquarium.open_store(tmp_path / ".aquarium").list_runs()
    assert len(runs) == 7
    assert sorted(r.status for r in runs).count("completed") == 6
    (failed,) = [r for r in runs if r.status == "failed"]
    assert "diverged" in failed.error and failed.name in out.stdout
    groups = {r.group for r in runs}
    assert {"lr=0.3", "lr=1", "lr=3"} <= groups
    assert all(r.summaries["val/acc"].count > 0 for r in runs)
    store = aquarium.open_store(tmp_path / ".aquarium")
    assert all(any(a.kind == "model" for a in store.get_run(r.id).artifacts) for r in runs if r.status == "completed")
    for run in runs:
        assert run.id in out.stdout


def test_errors_are_one_line_without_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "aquarium", "demo", "--store", "nosuch://x"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    (line,) = out.stderr.strip().splitlines()
    assert line.startswith("Error: no store plugin handles 'nosuch' URIs (nosuch://x); installed: a plain path, ")
    assert "sqlite://" in line
    debug = subprocess.run([sys.executable, "-m", "aquarium", "--debug", "demo", "--store", "nosuch://x"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert "Traceback" in debug.stderr


def test_help_lists_commands():
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    assert "plugins" in result.output and "demo" in result.output


def test_plugins_table():
    result = CliRunner().invoke(cli, ["plugins"])
    assert result.exit_code == 0
    assert "sqlite" in result.output and "aquarium-core" in result.output
