"""Import from real MLflow targets: runs MLflow's own API wrote (not us), and exported runs
changed in MLflow afterwards."""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
from collections.abc import Iterator

import mlflow
import numpy as np
import pytest
from mlflow.tracking import MlflowClient

import aquarium
from aquarium import interop
from aquarium.ids import new_run_id
from aquarium.interop import RunBundle
from aquarium.model import MetricSeries, RunRecord
from aquarium_mlflow._common import mlflow_env

pytestmark = pytest.mark.slow  # a real mlflow server, real databases and processes

T0 = 1_700_000_000.0


@contextlib.contextmanager
def tracking(uri: str) -> Iterator[None]:
    """MLflow's fluent API pointed at ``uri`` (its global tracking URI restored afterwards)."""
    before = mlflow.get_tracking_uri()
    with mlflow_env(uri):
        mlflow.set_tracking_uri(uri)
        try:
            yield
        finally:
            while mlflow.active_run() is not None:
                mlflow.end_run()
            mlflow.set_tracking_uri(before)


def native_history(client: MlflowClient, run_id: str, key: str) -> tuple[list[int], list[float], list[float]]:
    points = sorted(((m.timestamp, m.step, m.value) for m in client.get_metric_history(run_id, key)),
                    key=lambda p: (p[0], p[1]))
    return [p[1] for p in points], [p[2] for p in points], [p[0] / 1000 for p in points]


def test_a_run_written_by_mlflow_itself_imports_correctly(server_uri, tmp_path):
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(np.array([[1.0], [2.0], [3.0]]), np.array([2.0, 4.0, 6.0]))
    with tracking(server_uri):
        mlflow.set_experiment("native")
        parent = mlflow.start_run(run_name="native-run")
        mlflow.log_params({"lr": 0.001, "layers": 3, "opt": "adam", "use_bn": True, "version": "1.10", "none": None})
        mlflow.set_tags({"team": "vision", "mlflow.note.content": "tried a smaller lr"})
        for step in range(100):
            mlflow.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 100}, step=step)
        mlflow.log_metric("loss", 0.25, step=5)  # a second value at a step already logged
        mlflow.log_metric("diverged", math.inf, step=0)
        mlflow.log_metric("diverged", -math.inf, step=1)
        mlflow.log_metric("diverged", math.nan, step=2)
        mlflow.log_text("hello", "notes/readme.txt")
        mlflow.log_dict({"a": 1}, "config.json")
        mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
        with mlflow.start_run(run_name="child", nested=True):
            mlflow.log_metric("loss", 0.5, step=0)
        mlflow.end_run(status="FAILED")
    client = MlflowClient(tracking_uri=server_uri)
    source = client.get_run(parent.info.run_id)

    store = aquarium.open_store(tmp_path / "store")
    results = aquarium.import_runs("mlflow", server_uri, store=store, source_experiment="native", progress=False)
    assert sorted((r.run_name, r.status) for r in results) == [("child", "ok"), ("native-run", "ok")]
    by_name = {r.run_name: r for r in results}
    record = store.get_run(by_name["native-run"].run_id)
    assert record.id == parent.info.run_id and by_name["native-run"].target_id == parent.info.run_id
    assert record.name == "native-run" and record.experiment == "native"
    assert record.status == "failed"
    assert record.started == source.info.start_time / 1000 and record.ended == source.info.end_time / 1000
    assert record.params == {"lr": 0.001, "layers": 3, "opt": "adam", "use_bn": True, "version": "1.10",
                             "none": None}
    assert record.notes == "tried a smaller lr"
    assert record.tags["team"] == "vision" and record.tags["mlflow.source.type"] == "LOCAL"
    assert "mlflow.runName" not in record.tags and "mlflow.note.content" not in record.tags
    assert record.tags["aquarium.source"] == f"mlflow:{parent.info.run_id}"
    assert store.get_run(by_name["child"].run_id).parent == record.id

    history = store.history(record.id)
    assert set(history) == {"loss", "acc", "diverged"}
    for key in history:  # every point, with its step and time (MLflow's milliseconds)
        steps, values, times = native_history(client, parent.info.run_id, key)
        got = history[key]
        assert got.steps.tolist() == steps and got.timestamps.tolist() == times
        assert np.array_equal(got.values, np.array(values), equal_nan=True)
    assert len(history["loss"]) == 101 and history["loss"].steps.tolist().count(5) == 2
    # MLflow's server stores ±inf as ±float64 max; that is what it holds and what comes back
    assert history["diverged"].values.tolist()[:2] == [1.7976931348623157e308, -1.7976931348623157e308]
    assert math.isnan(history["diverged"].values[2])

    artifacts = {a.name: a for a in record.artifacts}
    assert store.read_artifact(record.id, "notes/readme.txt") == b"hello"
    assert json.loads(store.read_artifact(record.id, "config.json")) == {"a": 1}
    assert artifacts["notes/readme.txt"].kind == "file"
    models = {n: a for n, a in artifacts.items() if a.kind == "model"}
    assert "models/model/MLmodel" in models
    assert all(a.metadata["framework"] == "sklearn" and a.metadata["mlflow_model"] == "models/model"
               for a in models.values())
    assert any(n.endswith((".pkl", ".skops")) for n in models)

    again = aquarium.import_runs("mlflow", server_uri, store=store, source_experiment="native", progress=False)
    assert {r.status for r in again} == {"exists"}


@pytest.mark.parametrize("kind", ["sqlite", "file"])
def test_native_runs_of_sqlite_and_file_stores(kind, request, tmp_path):
    uri = request.getfixturevalue("clean_sqlite_uri" if kind == "sqlite" else "file_uri")
    with tracking(uri):  # artifacts in tmp_path, not in ./mlruns of the current directory
        MlflowClient(tracking_uri=uri).create_experiment(f"native-{kind}",
                                                         artifact_location=(tmp_path / "artifacts").as_uri())
        mlflow.set_experiment(f"native-{kind}")
        with mlflow.start_run(run_name="plain") as run:
            mlflow.log_param("batch_size", 64)
            for step in range(0, 600, 2):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_text("x", "out/a.txt")
        with mlflow.start_run(run_name="stopped") as killed:
            mlflow.log_metric("loss", 1.0, step=0)
        MlflowClient(tracking_uri=uri).set_terminated(killed.info.run_id, "KILLED")
    store = aquarium.open_store(tmp_path / "store")
    results = aquarium.import_runs("mlflow", uri, store=store, progress=False)
    by_name = {r.run_name: store.get_run(r.run_id) for r in results}
    assert by_name["plain"].status == "completed" and by_name["stopped"].status == "killed"
    plain = by_name["plain"]
    assert plain.id == run.info.run_id and plain.params == {"batch_size": 64}
    loss = store.history(plain.id)["loss"]
    assert loss.steps.tolist() == list(range(0, 600, 2))
    assert loss.values.tolist() == [1.0 / (s + 1) for s in range(0, 600, 2)]
    assert store.read_artifact(plain.id, "out/a.txt") == b"x"


def test_changes_made_in_mlflow_after_an_export_are_kept(clean_sqlite_uri, tmp_path):
    steps = np.arange(50)
    history = {"loss": MetricSeries("loss", steps, np.exp(-steps / 10.0), T0 + steps * 0.5)}
    record = RunRecord(new_run_id(), "edited", "edits", status="completed", created=T0, started=T0, ended=T0 + 60,
                       tags={"stage": "dev"}, notes="original note")
    source = aquarium.open_store(tmp_path / "source")
    interop.write_bundle(source, RunBundle(record, history), "test:" + record.id)
    (exported,) = aquarium.export([record.id], "mlflow", to=clean_sqlite_uri, store=source, progress=False)
    client = MlflowClient(tracking_uri=clean_sqlite_uri)
    client.set_tag(exported.target_id, "reviewed", "yes")
    client.set_tag(exported.target_id, "mlflow.note.content", "edited in the MLflow UI")
    client.log_metric(exported.target_id, "test/acc", 0.93, timestamp=int(T0 * 1000) + 99_000, step=49)
    (tmp_path / "extra.txt").write_text("added later")
    client.log_artifact(exported.target_id, str(tmp_path / "extra.txt"))

    store = aquarium.open_store(tmp_path / "back")
    (imported,) = aquarium.import_runs("mlflow", clean_sqlite_uri, store=store, progress=False)
    back = store.get_run(imported.run_id)
    assert back.id == record.id
    assert back.tags["stage"] == "dev" and back.tags["reviewed"] == "yes"
    assert back.notes == "edited in the MLflow UI"
    got = store.history(back.id)
    assert got["loss"] == history["loss"]  # exact, from run.json
    assert got["test/acc"].values.tolist() == [0.93] and got["test/acc"].steps.tolist() == [49]
    assert store.read_artifact(back.id, "extra.txt") == b"added later"


def test_importing_a_source_that_does_not_answer_fails_fast(tmp_path):
    from aquarium_mlflow import MlflowPluginError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{s.getsockname()[1]}"  # closed once the block ends
    with pytest.raises(MlflowPluginError, match=f"cannot reach the MLflow tracking server at '{uri}'"):
        aquarium.import_runs("mlflow", uri, store=tmp_path / "s", progress=False)
    assert "MLFLOW_HTTP_REQUEST_TIMEOUT" not in os.environ

