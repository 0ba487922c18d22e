"""Every script of examples/ runs as a user would run it (a fresh process in an empty folder,
``AQUARIUM_STORE`` pointing into it), and what it stored and wrote is checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import aquarium

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

pytestmark = pytest.mark.slow


def run_example(name: str, folder: Path, *args: str) -> tuple[str, aquarium.Store]:
    """Run ``examples/<name>`` in ``folder``; return its stdout and the store it wrote to."""
    env = {**os.environ, "AQUARIUM_STORE": str(folder / "store"), "PYTHONUNBUFFERED": "1"}
    env.pop("AQUARIUM_EXPERIMENT", None)
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{name} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout, aquarium.open_store(folder / "store")


def event_tags(run_folder: Path) -> list[str]:
    """The scalar tags of a TensorBoard run folder, read with TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_folder), size_guidance={"tensors": 0})
    events.Reload()
    return events.Tags()["tensors"]


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == ["sweep.py", "tracking_example.py", "train_pytorch.py"]


def test_tracking_example(tmp_path):
    out, store = run_example("tracking_example.py", tmp_path)
    runs = store.list_runs()
    assert sorted((r.experiment, r.name) for r in runs) == sorted(
        (e, f"lr={lr}") for e in ("line-clean", "line-noisy") for lr in (0.01, 0.1, 0.5))
    assert {r.status for r in runs} == {"completed"}
    clean = aquarium.compare("experiment = 'line-clean'", store=store)
    assert clean.params.differing == ["lr"]
    assert clean.best("val/mse").run_name == "lr=0.5" and clean.best("val/mse").value < 0.01
    assert "best: lr=0.5" in out
    record = store.get_run(runs[0].id)
    assert [a.name for a in record.artifacts] == ["coefficients.csv"]
    assert store.read_artifact(record.id, "coefficients.csv").startswith(b"w,")
    assert record.notes.startswith("fitted w=")

    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<title>Aquarium comparison of 3 runs</title>" in report and "plotly-graph-div" in report
    assert "Params that differ" in report and "<th>lr=0.01</th>" in report
    folders = sorted((tmp_path / "tb-logs").iterdir())
    assert len(folders) == 6
    assert {"train/mse", "val/mse", "weights/w", "weights/b"} <= set(event_tags(folders[0]))
    assert all("aquarium.exported.tensorboard" in r.tags for r in store.list_runs())


def test_train_pytorch(tmp_path):
    import torch
    from torch import nn

    out, store = run_example("train_pytorch.py", tmp_path, "--epochs", "6")
    (run,) = store.list_runs()
    assert run.status == "completed" and run.experiment == "digits"
    assert run.params["lr"] == 0.003 and run.params["optimizer"] == {"name": "adam"}
    assert run.params["data"]["name"] in ("sklearn-digits", "generated")
    history = store.history(run.id)
    assert len(history["val/acc"]) == 6 and history["epoch"].values.tolist() == [0, 1, 2, 3, 4, 5]
    assert history["train/loss"].values[-20:].mean() < history["train/loss"].values[:20].mean()
    assert run.summaries["val/acc"].last > 0.6, out  # chance: 0.1

    (model,) = store.get_run(run.id).artifacts
    assert (model.name, model.kind, model.metadata["framework"]) == ("model.pt", "model", "torch")
    (tmp_path / "back.pt").write_bytes(store.read_artifact(run.id, "model.pt"))
    net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    net.load_state_dict(torch.load(tmp_path / "back.pt", weights_only=True))  # the trained weights


def test_sweep(tmp_path):
    import mlflow

    out, store = run_example("sweep.py", tmp_path)
    runs = store.list_runs(experiment="digits-sweep")
    assert len(runs) == 9 and {r.status for r in runs} == {"completed"}
    by_group: dict[str, set[int]] = {}
    for run in runs:
        by_group.setdefault(run.group, set()).add(run.params["seed"])
    assert by_group == {"lr=0.001": {0, 1, 2}, "lr=0.003": {0, 1, 2}, "lr=0.01": {0, 1, 2}}

    groups = aquarium.compare(runs, store=store).groups("val/acc")
    assert all(g.final.n == 3 and g.final.low <= g.final.mean <= g.final.high for g in groups.values())
    best = max(groups.values(), key=lambda g: g.final.mean)
    assert f"best setting: {best.group}" in out
    assert (tmp_path / "sweep-report.html").stat().st_size > 100_000  # plotly.js is embedded

    client = mlflow.MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("digits-sweep")
    exported = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in exported) == sorted(r.name for r in runs)
    one = exported[0]
    assert len(client.get_metric_history(one.info.run_id, "val/acc")) == 4
    assert {"lr", "seed"} <= set(one.data.params)

    folders = sorted((tmp_path / "tb-logs").iterdir())
    assert len(folders) == 9
    assert {"train/loss", "val/acc", "val/loss"} <= set(event_tags(folders[0]))
