"""Export to real MLflow targets, read back with MLflow's own client (``MlflowClient``)."""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

import aquarium
from aquarium import interop
from aquarium.cli import cli
from aquarium.ids import new_run_id
from aquarium.interop import RunBundle
from aquarium.model import Artifact, MetricSeries, RunRecord, SourceInfo
from aquarium_mlflow import MlflowExportWarning, MlflowPluginError
from aquarium_mlflow._common import TRUNCATED, mlflow_env

pytestmark = pytest.mark.slow  # a real mlflow server, real databases and processes

T0 = 1_700_000_000.0


def make_run(store: Any, tmp_path: Any, *, status: str = "completed", points: int = 2500, name: str = "baseline",
             experiment: str = "mnist", **fields: Any) -> RunRecord:
    """A run written through the store interface with exact, known columns."""
    steps = np.arange(points, dtype=np.int64)
    history = {
        "train/loss": MetricSeries("train/loss", steps, 1.0 / (steps + 1.0), T0 + steps * 0.0123456),
        "val/acc": MetricSeries("val/acc", steps[::10], np.linspace(0, 1, len(steps[::10])),
                                T0 + steps[::10] * 0.0123456 + 0.0005),
    }
    run_id = new_run_id()
    model = tmp_path / f"model-{run_id}.pt"
    model.write_bytes(b"\x00weights" * 100)
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n")
    record = RunRecord(
        id=run_id, name=name, experiment=experiment, group="seed-sweep", status=status, created=T0,
        started=T0, ended=None if status == "running" else T0 + 123.4567,
        params={"lr": 0.001, "optimizer": {"name": "adam", "betas": {"b1": 0.9}}, "layers": 3, "aug": True,
                "note": None},
        tags={"owner": "ana", "dataset": "mnist"}, notes="first try",
        error="ValueError: boom" if status == "failed" else None,
        source=SourceInfo(git_commit="abc123", user="ana", command=["train.py", "--fast"]),
        artifacts=[Artifact("model.pt", 0, "", "model", {"framework": "torch"}), Artifact("data/table.csv", 0, "")],
    )
    for key, value in fields.items():
        setattr(record, key, value)
    interop.write_bundle(store, RunBundle(record, history, {"model.pt": str(model), "data/table.csv": str(table)}),
                         "test:" + record.id)
    return store.get_run(record.id)


def export(store: Any, run_id: str, uri: str, **options: Any) -> Any:
    (result,) = aquarium.export([run_id], "mlflow", to=uri, store=store, progress=False, **options)
    assert result.status == "ok", result.error
    return result


def client_for(uri: str) -> MlflowClient:
    return MlflowClient(tracking_uri=uri)


def history_of(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, int, float]]:
    return sorted((m.step, m.timestamp, m.value) for m in client.get_metric_history(run_id, key))


def expected(series: MetricSeries) -> list[tuple[int, int, float]]:
    ts = np.rint(series.timestamps * 1000).astype(np.int64)
    return sorted(zip(series.steps.tolist(), ts.tolist(), series.values.tolist()))


def active_runs(uri: str, aquarium_id: str) -> list[Any]:
    with mlflow_env(uri):
        client = client_for(uri)
        ids = [e.experiment_id for e in client.search_experiments()]
        return list(client.search_runs(ids, filter_string=f"tags.`aquarium.run_id` = '{aquarium_id}'"))


@pytest.fixture(params=["server", "sqlite", "file"])
def any_uri(request: Any) -> str:
    return request.getfixturevalue({"server": "server_uri", "sqlite": "clean_sqlite_uri",
                                    "file": "file_uri"}[request.param])


def test_everything_reads_back_with_mlflow_client(any_uri, store, tmp_path):
    record = make_run(store, tmp_path)
    result = export(store, record.id, any_uri)
    assert result.points == 2500 + 250 and result.artifacts == 2
    with mlflow_env(any_uri):
        client = client_for(any_uri)
        run = client.get_run(result.target_id)
        experiment = client.get_experiment(run.info.experiment_id)
        assert experiment.name == "mnist"
        assert run.info.run_name == "baseline"
        assert run.info.status == "FINISHED"
        assert run.info.start_time == round(T0 * 1000)
        assert run.info.end_time == round((T0 + 123.4567) * 1000)
        assert run.data.params == {"lr": "0.001", "optimizer.name": "adam", "optimizer.betas.b1": "0.9",
                                   "layers": "3", "aug": "True", "note": "None"}
        tags = run.data.tags
        assert tags["owner"] == "ana" and tags["dataset"] == "mnist"
        assert tags["mlflow.note.content"] == "first try"
        assert tags["aquarium.group"] == "seed-sweep"
        assert tags["aquarium.run_id"] == record.id
        assert tags["aquarium.status"] == "completed"
        assert tags["aquarium.export"] == "complete"
        assert tags["mlflow.user"] == "ana" and tags["mlflow.source.git.commit"] == "abc123"
        assert tags["mlflow.source.name"] == "train.py"
        assert json.loads(tags["aquarium.models"]) == [{"name": "model.pt", "framework": "torch"}]
        assert "aquarium.adjusted" not in tags
        # every point, with its step and its timestamp in MLflow's integer milliseconds
        history = store.history(record.id)
        for key in ("train/loss", "val/acc"):
            assert history_of(client, run.info.run_id, key) == expected(history[key])
        files = {f.path for f in client.list_artifacts(run.info.run_id)}
        assert files == {"model.pt", "data", "aquarium"}
        (tmp_path / "back").mkdir()
        folder = client.download_artifacts(run.info.run_id, "", str(tmp_path / "back"))
        assert Path(folder, "model.pt").read_bytes() == store.read_artifact(record.id, "model.pt")
        assert Path(folder, "data", "table.csv").read_text() == "a,b\n1,2\n"
        with open(os.path.join(folder, "aquarium", "run.json")) as f:
            back, back_history = interop.load_run_json(f.read())
    assert back.id == record.id and back.params == record.params and back_history == history
    assert store.get_run(record.id).tags["aquarium.exported.mlflow"] == result.target_id


def test_batches_stay_within_mlflow_limits(server_uri, store, tmp_path, monkeypatch):
    """A spy on the real client's log_batch (the real call still happens)."""
    record = make_run(store, tmp_path, points=2345,
                      params={f"p{i}": i for i in range(250)}, tags={f"t{i}": str(i) for i in range(130)})
    calls = []
    real = MlflowClient.log_batch

    def spy(self, run_id, metrics=(), params=(), tags=(), **kwargs):
        calls.append((len(metrics), len(params), len(tags)))
        return real(self, run_id, metrics=metrics, params=params, tags=tags, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", spy)
    result = export(store, record.id, server_uri)
    assert all(m <= 1000 and p <= 100 and t <= 100 and m + p + t <= 1000 for m, p, t in calls), calls
    assert sum(m for m, _, _ in calls) == 2345 + 235
    assert sum(p for _, p, _ in calls) == 250
    run = client_for(server_uri).get_run(result.target_id)
    assert len(run.data.params) == 250
    assert all(run.data.tags[f"t{i}"] == str(i) for i in range(130))


@pytest.mark.parametrize("status,mlflow_status", [("completed", "FINISHED"), ("failed", "FAILED"),
                                                  ("killed", "KILLED"), ("crashed", "FAILED"),
                                                  ("running", "RUNNING")])
def test_status_mapping_keeps_the_exact_status(clean_sqlite_uri, store, tmp_path, status, mlflow_status):
    if status == "crashed":  # stored as a running run whose heartbeat went stale
        record = make_run(store, tmp_path, status="running", heartbeat=T0, points=10)
        assert record.status == "crashed"
    else:
        record = make_run(store, tmp_path, status=status, points=10)
    result = export(store, record.id, clean_sqlite_uri)
    run = client_for(clean_sqlite_uri).get_run(result.target_id)
    assert run.info.status == mlflow_status
    assert run.data.tags["aquarium.status"] == status
    assert (run.info.end_time is None) == (status == "running")
    if status == "failed":
        assert run.data.tags["aquarium.error"] == "ValueError: boom"
    back = aquarium.open_store(tmp_path / "back")
    (imported,) = aquarium.import_runs("mlflow", clean_sqlite_uri, store=back, progress=False)
    assert back.get_run(imported.run_id).status == status


def test_reexport_updates_in_place_without_duplicating_points(any_uri, store, tmp_path):
    run = aquarium.start_run(name="live", experiment="growing", store=store, capture_source=False,
                             params={"lr": 0.1})
    for step in range(1500):
        run.log({"loss": 1.0 / (step + 1), "acc": step / 1500}, step=step)
    run.flush()
    first = export(store, run.id, any_uri)
    with mlflow_env(any_uri):
        client = client_for(any_uri)
        assert client.get_run(first.target_id).info.status == "RUNNING"
        for step in range(1500, 2600):
            run.log({"loss": 1.0 / (step + 1), "acc": step / 1500}, step=step)
        run.log({"loss": 0.5}, step=7)  # a repeated step is a new point, not a duplicate
        run.log_params({"bs": 32})
        run.set_tags({"phase": "two"})
        run.finish()
        second = export(store, run.id, any_uri)
        third = export(store, run.id, any_uri)  # unchanged: nothing is written again
        assert first.target_id == second.target_id == third.target_id
        (mlflow_run,) = active_runs(any_uri, run.id)
        assert mlflow_run.info.run_id == first.target_id and mlflow_run.info.status == "FINISHED"
        assert mlflow_run.data.params == {"lr": "0.1", "bs": "32"} and mlflow_run.data.tags["phase"] == "two"
        history = store.history(run.id)
        for key in ("loss", "acc"):
            assert history_of(client, first.target_id, key) == expected(history[key])
        assert len(client.get_metric_history(first.target_id, "loss")) == 2601


def test_moving_to_another_experiment_replaces_the_mlflow_run(clean_sqlite_uri, store, tmp_path):
    record = make_run(store, tmp_path, points=5)
    first = export(store, record.id, clean_sqlite_uri)
    second = export(store, record.id, clean_sqlite_uri, experiment="elsewhere")
    (only,) = active_runs(clean_sqlite_uri, record.id)
    assert only.info.run_id == second.target_id != first.target_id
    client = client_for(clean_sqlite_uri)
    assert client.get_experiment(only.info.experiment_id).name == "elsewhere"
    assert client.get_run(first.target_id).info.lifecycle_stage == "deleted"


def test_parent_links_and_cleared_fields(clean_sqlite_uri, store, tmp_path):
    parent = make_run(store, tmp_path, points=3, name="sweep")
    child = make_run(store, tmp_path, points=3, name="trial-1", parent=parent.id)
    (p, c) = aquarium.export([parent.id, child.id], "mlflow", to=clean_sqlite_uri, store=store, progress=False)
    client = client_for(clean_sqlite_uri)
    tags = client.get_run(c.target_id).data.tags
    assert tags["mlflow.parentRunId"] == p.target_id and tags["aquarium.parent"] == parent.id
    assert tags["mlflow.note.content"] == "first try" and tags["aquarium.group"] == "seed-sweep"
    store.update_run(child.id, notes="")
    export(store, child.id, clean_sqlite_uri)
    tags = client.get_run(c.target_id).data.tags
    assert "mlflow.note.content" not in tags and tags["aquarium.group"] == "seed-sweep"


@pytest.mark.parametrize("path", ["log_batch", "bulk"])
def test_an_export_killed_halfway_completes_when_run_again(clean_sqlite_uri, store, tmp_path, path):
    """A real crash: the exporting process gets SIGKILL while it writes points (through
    log_batch, or in bulk transactions made small so that there are many to be killed in)."""
    steps = np.arange(6000, dtype=np.int64)  # 24 log_batch calls of 1,000 points: time to be killed
    history = {f"m{k}": MetricSeries(f"m{k}", steps, np.sin(steps + k), T0 + steps * 0.01) for k in range(4)}
    record = RunRecord(new_run_id(), "big", "crash", status="completed", created=T0, started=T0, ended=T0 + 400)
    interop.write_bundle(store, RunBundle(record, history), "test:" + record.id)
    db = clean_sqlite_uri[len("sqlite:///"):]
    script = textwrap.dedent(f"""
        import aquarium
        from aquarium_mlflow import _bulk
        _bulk.ROWS_PER_TRANSACTION = 100
        aquarium.export([{record.id!r}], "mlflow", to={clean_sqlite_uri!r}, store={store.uri!r}, progress=False,
                        log_batch_only={path == "log_batch"})
    """)
    child = subprocess.Popen([sys.executable, "-c", script], env=os.environ.copy())
    try:
        deadline = time.monotonic() + 120
        written = 0
        while written == 0 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            try:
                with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
                    written = conn.execute(
                        "SELECT count(*) FROM metrics m JOIN tags t ON t.run_uuid = m.run_uuid "
                        "WHERE t.key = 'aquarium.run_id' AND t.value = ?", (record.id,)).fetchone()[0]
            except sqlite3.OperationalError:  # locked by the writer for a moment
                pass
        child.kill()
    finally:
        child.wait(30)
    (partial,) = active_runs(clean_sqlite_uri, record.id)
    assert partial.data.tags["aquarium.export"] == "partial", "the export finished before it could be killed"
    held = sum(len(client_for(clean_sqlite_uri).get_metric_history(partial.info.run_id, k)) for k in history)
    assert 0 < held < 24_000
    # an import meanwhile leaves the unfinished export alone
    with pytest.warns(UserWarning, match="unfinished Aquarium export"):
        assert aquarium.import_runs("mlflow", clean_sqlite_uri, store=tmp_path / "b", progress=False) == []

    result = export(store, record.id, clean_sqlite_uri)
    assert result.target_id == partial.info.run_id
    (done,) = active_runs(clean_sqlite_uri, record.id)
    assert done.data.tags["aquarium.export"] == "complete"
    client = client_for(clean_sqlite_uri)
    for key, series in history.items():
        assert history_of(client, done.info.run_id, key) == expected(series)


def test_values_past_mlflow_limits_are_truncated_and_reported(server_uri, store, tmp_path):
    long_param, long_tag, long_note = "p" * 7000, "t" * 9000, "n" * 8500
    record = make_run(store, tmp_path, points=3, name="x" * 300,
                      params={"long": long_param, "deep": {"k" * 200: {"j" * 100: 1}}},
                      tags={"big": long_tag, "has (parens)": "v"}, notes=long_note)
    with pytest.warns(MlflowExportWarning) as caught:
        result = export(store, record.id, server_uri)
    message = str(caught[0].message)
    assert record.id in message and server_uri in message and "param 'long'" in message
    run = client_for(server_uri).get_run(result.target_id)
    assert len(run.data.params["long"]) == 6000 and run.data.params["long"].endswith(TRUNCATED)
    assert len(run.data.tags["big"]) == 8000 and run.data.tags["big"].endswith(TRUNCATED)
    assert len(run.data.tags["mlflow.note.content"]) == 8000
    assert len(run.info.run_name) == 250
    assert run.data.tags["has _parens_"] == "v"
    deep = [k for k in run.data.params if k.startswith("deep.")]
    assert len(deep) == 1 and len(deep[0]) == 250
    adjusted = json.loads(run.data.tags["aquarium.adjusted"])
    assert len(adjusted) == 6 and any("renamed" in a for a in adjusted)
    # run.json keeps everything: the round trip is exact
    back = aquarium.open_store(tmp_path / "back")
    (imported,) = aquarium.import_runs("mlflow", server_uri, store=back, progress=False)
    again = back.get_run(imported.run_id)
    assert again.name == "x" * 300 and again.notes == long_note
    assert again.params["long"] == long_param and again.tags["big"] == long_tag
    assert again.params["deep"] == {"k" * 200: {"j" * 100: 1}} and again.tags["has (parens)"] == "v"


def test_metric_keys_mlflow_refuses_are_renamed_and_come_back(clean_sqlite_uri, store, tmp_path):
    steps = np.arange(5)
    history = {k: MetricSeries(k, steps, steps * 1.0, T0 + steps) for k in ("loss (val)", "loss _val_", "a//b")}
    record = RunRecord(new_run_id(), "keys", "keys", status="completed", created=T0, started=T0, ended=T0 + 9)
    interop.write_bundle(store, RunBundle(record, history), "test:" + record.id)
    with pytest.warns(MlflowExportWarning, match="renamed"):
        result = export(store, record.id, clean_sqlite_uri)
    run = client_for(clean_sqlite_uri).get_run(result.target_id)
    keys = set(run.data.metrics)
    assert len(keys) == 3 and "loss _val_" in keys and "a/_/b" in keys
    back = aquarium.open_store(tmp_path / "back")
    (imported,) = aquarium.import_runs("mlflow", clean_sqlite_uri, store=back, progress=False)
    assert back.history(imported.run_id) == history


def test_infinities_come_back_exactly_while_mlflow_holds_float64_max(server_uri, store, tmp_path):
    steps = np.arange(5)
    values = np.array([math.inf, -math.inf, math.nan, -0.0, 1e-310])
    times = T0 + np.array([0.0001, 0.0002, 1.2345678, 2.0, 3.0])  # sub-millisecond, a tie in ms
    history = {"v": MetricSeries("v", steps, values, times)}
    record = RunRecord(new_run_id(), "inf", "inf", status="completed", created=T0, started=T0, ended=T0 + 9)
    interop.write_bundle(store, RunBundle(record, history), "test:" + record.id)
    result = export(store, record.id, server_uri)
    held = history_of(client_for(server_uri), result.target_id, "v")
    assert [v for _, _, v in held][:2] == [1.7976931348623157e308, -1.7976931348623157e308]
    assert math.isnan(held[2][2]) and [t for _, t, _ in held][:3] == [round(T0 * 1000)] * 2 + [1700000001235]
    back = aquarium.open_store(tmp_path / "back")
    (imported,) = aquarium.import_runs("mlflow", server_uri, store=back, progress=False)
    got = back.history(imported.run_id)["v"]
    assert got == history["v"]  # ±inf, NaN, -0.0 and the exact float timestamps
    assert math.copysign(1, got.values[3]) == -1


def test_unreachable_server_fails_fast_naming_the_uri(store, tmp_path):
    record = make_run(store, tmp_path, points=2)
    uri = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with pytest.raises(MlflowPluginError, match=f"cannot reach the MLflow tracking server at '{uri}'"):
        aquarium.export([record.id], "mlflow", to=uri, store=store, progress=False)
    assert time.monotonic() - started < 10
    assert "aquarium.exported.mlflow" not in store.get_run(record.id).tags
    assert "MLFLOW_HTTP_REQUEST_MAX_RETRIES" not in os.environ  # restored after the check


def test_a_server_that_never_answers_fails_within_the_timeout(store, tmp_path):
    """A socket that accepts connections and never answers (a hung server)."""
    record = make_run(store, tmp_path, points=2)
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        uri = f"http://127.0.0.1:{hung.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(MlflowPluginError, match="1 s timeout") as error:
            aquarium.export([record.id], "mlflow", to=uri, store=store, progress=False, check_timeout=1)
        assert time.monotonic() - started < 8
    assert uri in str(error.value)


def test_cli_reports_an_unreachable_server(store, tmp_path):
    record = make_run(store, tmp_path, points=2)
    uri = f"http://127.0.0.1:{_closed_port()}"
    result = CliRunner().invoke(cli, ["export", "mlflow", record.id, "--to", uri, "--store", store.uri])
    assert result.exit_code != 0 and uri in result.output


def test_missing_mlflow_names_the_package(store, tmp_path, monkeypatch):
    """mlflow cannot be uninstalled from the shared venv: its import is made to fail instead."""
    record = make_run(store, tmp_path, points=2)
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(MlflowPluginError, match=r"pip install aquarium-mlflow"):
        aquarium.export([record.id], "mlflow", to="sqlite:///x.db", store=store, progress=False)
    with pytest.raises(MlflowPluginError, match=r"pip install aquarium-mlflow"):
        aquarium.import_runs("mlflow", "http://127.0.0.1:1", store=tmp_path / "b", progress=False)


def test_missing_sqlalchemy_names_the_packages(store, tmp_path, monkeypatch):
    record = make_run(store, tmp_path, points=2)
    monkeypatch.setitem(sys.modules, "alembic", None)
    with pytest.raises(MlflowPluginError, match=r"pip install sqlalchemy alembic"):
        aquarium.export([record.id], "mlflow", to=f"sqlite:///{tmp_path}/x.db", store=store, progress=False)


def test_reserved_artifact_name_is_refused(clean_sqlite_uri, store, tmp_path):
    (tmp_path / "fake.json").write_text("{}")
    with aquarium.start_run(name="r", store=store, capture_source=False) as run:
        run.log_artifact(tmp_path / "fake.json", "aquarium/run.json")
    (result,) = aquarium.export([run.id], "mlflow", to=clean_sqlite_uri, store=store, progress=False)
    assert result.status == "failed" and "reserved" in result.error


def test_cli_export_and_import(server_uri, store, tmp_path):
    a = make_run(store, tmp_path, points=20, name="a", experiment="cli-a")
    b = make_run(store, tmp_path, points=20, name="b", experiment="cli-b")
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "mlflow", a.id, b.id, "--to", server_uri, "--store", store.uri, "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["status"] for r in rows] == ["ok", "ok"] and all(r["target_id"] for r in rows)
    back = tmp_path / "back"
    result = runner.invoke(cli, ["import", "mlflow", server_uri, "--source-experiment", "cli-b", "--store", str(back),
                                 "--json"])
    assert result.exit_code == 0, result.output
    (row,) = json.loads(result.stdout)
    assert row["run_name"] == "b" and row["status"] == "ok" and row["points"] == 22
    result = runner.invoke(cli, ["import", "mlflow", server_uri, "--source-experiment", "nope", "--store", str(back)])
    assert result.exit_code != 0 and "no MLflow experiment named 'nope'" in result.output


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
