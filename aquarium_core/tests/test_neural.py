"""The Neural-compatible facade, and importing folders written the way Neural wrote them."""

from __future__ import annotations

import datetime
import json
import os
import time

import pytest

import aquarium
from aquarium import ExperimentManager, ExperimentTracker


def write_neural_experiment(base, name, exp_id, *, status="completed", params=None, entries=(), artifacts=None,
                            corrupt=()):
    """Lay out one experiment folder exactly as Neural's ExperimentTracker wrote it."""
    folder = os.path.join(base, f"{name}_{exp_id}")
    os.makedirs(os.path.join(folder, "artifacts"))
    os.makedirs(os.path.join(folder, "plots"))
    start = datetime.datetime(2025, 3, 1, 12, 0, 0)
    metadata = {"start_time": start.isoformat(), "status": status}
    if status in ("completed", "failed"):
        metadata["end_time"] = (start + datetime.timedelta(minutes=5)).isoformat()
    files = {"metadata.json": metadata, "hyperparameters.json": params or {}, "metrics.json": list(entries),
             "artifacts.json": {}}
    for file_name, content in (artifacts or {}).items():
        path = os.path.join(folder, "artifacts", file_name)
        with open(path, "wb") as f:
            f.write(content)
        files["artifacts.json"][file_name] = {"path": path, "type": "model" if file_name.endswith(".pt") else "text",
                                              "size": len(content), "timestamp": start.timestamp() + 60,
                                              **({"framework": "pytorch"} if file_name.endswith(".pt") else {})}
    for file_name, content in files.items():
        with open(os.path.join(folder, file_name), "w") as f:
            if file_name in corrupt:
                f.write('{"truncated": ')
            else:
                json.dump(content, f, indent=2)
    return folder


@pytest.fixture
def neural_dir(tmp_path):
    base = str(tmp_path / "neural_experiments")
    t0 = datetime.datetime(2025, 3, 1, 12, 0, 0).timestamp()
    entries = [{"timestamp": t0 + i, "step": None if i < 3 else i * 10, "loss": 1.0 / (i + 1), "acc": i / 10}
               for i in range(6)]
    write_neural_experiment(base, "cnn_baseline", "a1b2c3d4", params={"lr": 0.01, "batch_size": 32},
                            entries=entries, artifacts={"model.pt": b"weights", "notes.txt": b"hi"})
    write_neural_experiment(base, "broken_run", "deadbeef", status="failed", params={"lr": 0.1},
                            entries=entries[:2], corrupt=("metrics.json",))
    write_neural_experiment(base, "never_finished", "0badf00d", status="running", entries=entries[:1])
    return base


def test_import_neural_folder(neural_dir, tmp_path):
    store = aquarium.open_store(tmp_path / "store")
    with pytest.warns(UserWarning, match=r"corrupt file .*broken_run_deadbeef.*metrics\.json"):
        results = aquarium.import_runs("neural", neural_dir, store=store)
    assert [r.status for r in results] == ["ok", "ok", "ok"]
    runs = {r.name: r for r in store.list_runs()}
    assert set(runs) == {"cnn_baseline", "broken_run", "never_finished"}
    cnn = store.get_run(runs["cnn_baseline"].id)
    assert cnn.params == {"lr": 0.01, "batch_size": 32}
    assert cnn.status == "completed" and cnn.tags["neural.experiment_id"] == "a1b2c3d4"
    assert cnn.started == datetime.datetime(2025, 3, 1, 12, 0, 0).timestamp()
    assert cnn.ended - cnn.started == 300
    history = store.history(cnn.id)
    assert history["loss"].steps.tolist() == [0, 1, 2, 30, 40, 50]  # null step = the entry's index
    t0 = cnn.started
    assert history["loss"].timestamps.tolist() == [t0 + i for i in range(6)]
    assert history["acc"].values.tolist() == [i / 10 for i in range(6)]
    arts = {a.name: a for a in cnn.artifacts}
    assert arts["model.pt"].kind == "model" and arts["model.pt"].metadata["framework"] == "pytorch"
    assert store.read_artifact(cnn.id, "model.pt") == b"weights"
    broken = store.get_run(runs["broken_run"].id)
    assert broken.status == "failed" and broken.params == {"lr": 0.1} and broken.summaries == {}
    assert store.get_run(runs["never_finished"].id).status == "crashed"
    again = aquarium.import_runs("neural", neural_dir, store=store)
    assert [r.status for r in again] == ["exists"] * 3
    assert len(store.list_runs()) == 3


def test_import_cli_reports_a_table(neural_dir, tmp_path):
    from click.testing import CliRunner

    from aquarium.cli import cli

    result = CliRunner().invoke(cli, ["import", "neural", neural_dir, "--store", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    assert "cnn_baseline" in result.output and "ok" in result.output


def test_facade_tracks_like_neural(tmp_path):
    base = str(tmp_path / "neural_experiments")
    tracker = ExperimentTracker("mnist", base_dir=base)
    assert len(tracker.experiment_id) == 8
    tracker.log_hyperparameters({"lr": 0.001, "optimizer": "adam"})
    for epoch in range(5):
        tracker.log_metrics({"loss": 1.0 / (epoch + 1), "accuracy": 0.5 + epoch / 10})
    tracker.log_metrics({"val_loss": 0.3}, step=4)
    assert tracker.get_metrics("loss") == [1.0, 0.5, 1 / 3, 0.25, 0.2]
    entries = tracker.get_metrics()
    assert entries[0]["step"] == 0 and entries[0]["loss"] == 1.0 and "timestamp" in entries[0]
    assert tracker.get_best_metric("loss") == (0.2, 4)            # a loss minimizes by default
    assert tracker.get_best_metric("accuracy") == (0.9, 4)
    assert tracker.get_best_metric("loss", mode="max") == (1.0, 0)
    assert tracker.get_best_metric("missing") == (None, None)
    tracker.set_status("completed")

    manager = ExperimentManager(base_dir=base)
    before = manager.list_experiments()
    (listed,) = before
    assert listed["experiment_name"] == "mnist" and listed["experiment_id"] == tracker.experiment_id
    assert listed["status"] == "completed" and listed["end_time"] is not None
    assert listed["summary"]["loss"]["best"] == 0.2
    assert manager.get_experiment("ffffffff") is None
    assert manager.list_experiments() == before                  # looking never creates anything
    found = manager.get_experiment(tracker.experiment_id)
    assert found.experiment_name == "mnist" and found.hyperparameters == {"lr": 0.001, "optimizer": "adam"}
    comparison = manager.compare_experiments([tracker.experiment_id, "ffffffff"], ["loss"])
    assert [r.name for r in comparison.runs] == ["mnist"] and comparison.best("loss").value == 0.2
    assert manager.delete_experiment(tracker.experiment_id) is True
    assert manager.delete_experiment(tracker.experiment_id) is False
    assert manager.list_experiments() == []


def test_facade_statuses(tmp_path):
    base = str(tmp_path / "n")
    tracker = ExperimentTracker("x", base_dir=base)
    tracker.set_status("created")
    tracker.set_status("running")
    assert tracker.metadata["status"] == "running"
    tracker.set_status("failed")
    assert tracker.metadata["status"] == "failed"
    with pytest.raises(ValueError, match="'weird'"):
        tracker.set_status("weird")
    other = ExperimentManager(base).create_experiment("y")
    time.sleep(0.01)
    found = ExperimentManager(base).get_experiment(other.experiment_id)
    found.log_metrics({"loss": 1.0})
    found.set_status("completed")
    assert ExperimentManager(base).get_experiment(other.experiment_id).metadata["status"] == "completed"
