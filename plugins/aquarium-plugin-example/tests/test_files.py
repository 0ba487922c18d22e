"""What a user of the plugin sees: the files, their content, re-exports and error messages."""

from __future__ import annotations

import csv
import json
import math

import pytest
from click.testing import CliRunner

import aquarium
from aquarium.cli import cli


@pytest.fixture
def store(tmp_path):
    return aquarium.open_store(tmp_path / "store")


@pytest.fixture
def run_id(store, tmp_path):
    (tmp_path / "model.pt").write_bytes(b"weights")
    with aquarium.start_run(name="mlp, lr=0.1", experiment="digits", group="sweep", store=store,
                            params={"lr": 0.1, "optimizer": {"name": "sgd"}}, capture_source=False) as run:
        run.log({"loss": 1.5, "acc": 0.25}, step=0)
        run.log({"loss": math.nan, "acc": 0.5}, step=1)
        run.log({"loss": 0.1 + 0.2}, step=1)  # a repeated step and an inexact float
        run.log_model(str(tmp_path / "model.pt"), framework="torch")
    return run.id


def test_files_are_readable_without_aquarium(store, run_id, tmp_path):
    out = tmp_path / "out"
    (result,) = aquarium.export([run_id], "jsonl", to=str(out), store=store)
    assert (result.status, result.points, result.artifacts) == ("ok", 5, 1)

    (line,) = (out / "runs.jsonl").read_text(encoding="utf-8").splitlines()
    run = json.loads(line)["run"]
    assert (run["name"], run["group"], run["status"], run["params"]) == (
        "mlp, lr=0.1", "sweep", "completed", {"lr": 0.1, "optimizer": {"name": "sgd"}})
    assert run["summaries"]["loss"]["min"] == pytest.approx(0.3)

    with open(out / "metrics" / f"{run_id}.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["key"], r["step"], r["value"]) for r in rows] == [
        ("acc", "0", "0.25"), ("acc", "1", "0.5"),
        ("loss", "0", "1.5"), ("loss", "1", "nan"), ("loss", "1", "0.30000000000000004")]
    assert (out / "artifacts" / run_id / "model.pt").read_bytes() == b"weights"


def test_import_gives_the_run_back(store, run_id, tmp_path):
    aquarium.export([run_id], "jsonl", to=str(tmp_path / "out"), store=store)
    other = aquarium.open_store(tmp_path / "other")
    (result,) = aquarium.import_runs("jsonl", str(tmp_path / "out"), store=other)
    assert result.status == "ok" and result.run_id == run_id  # the id is kept
    back = other.get_run(run_id)
    assert back.params == {"lr": 0.1, "optimizer": {"name": "sgd"}}
    assert other.history(run_id, "loss")["loss"].values[2] == 0.1 + 0.2
    assert (back.artifacts[0].kind, back.artifacts[0].metadata) == ("model", {"framework": "torch"})
    assert other.read_artifact(run_id, "model.pt") == b"weights"


def test_export_again_replaces_the_line(store, run_id, tmp_path):
    out = tmp_path / "out"
    with aquarium.start_run(name="second", store=store, capture_source=False) as run:
        run.log({"x": 1.0})
    aquarium.export([run_id, run.id], "jsonl", to=str(out), store=store)
    store.update_run(run_id, notes="re-exported")
    aquarium.export([run_id], "jsonl", to=str(out), store=store)
    lines = [json.loads(line)["run"] for line in (out / "runs.jsonl").read_text().splitlines()]
    assert [(r["id"], r["notes"]) for r in lines] == [(run_id, "re-exported"), (run.id, "")]
    assert store.get_run(run_id).tags["aquarium.exported.jsonl"] == run_id


def test_no_artifacts_option(store, run_id, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["export", "jsonl", run_id, "--to", str(out), "--no-artifacts",
                                      "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    assert not (out / "artifacts" / run_id).exists()
    assert json.loads((out / "runs.jsonl").read_text())["run"]["artifacts"] == []
    (back,) = aquarium.import_runs("jsonl", str(out), store=tmp_path / "other")
    assert back.status == "ok" and back.artifacts == 0


def test_missing_folder_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'.*nowhere': no such folder"):
        aquarium.import_runs("jsonl", str(tmp_path / "nowhere"), store=tmp_path / "s")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="holds no runs.jsonl"):
        aquarium.import_runs("jsonl", str(tmp_path / "empty"), store=tmp_path / "s")


def test_corrupt_line_fails_that_run_alone(store, run_id, tmp_path):
    out = tmp_path / "out"
    aquarium.export([run_id], "jsonl", to=str(out), store=store)
    with open(out / "runs.jsonl", "a") as f:
        f.write('{"format": "aquarium-jsonl/1", "run": {"id": "x"\n')
    other = aquarium.open_store(tmp_path / "other")
    good, bad = aquarium.import_runs("jsonl", str(out), store=other)
    assert good.status == "ok"
    assert bad.status == "failed" and f"{out / 'runs.jsonl'}:2: not valid JSON" in bad.error
    assert [r.id for r in other.list_runs()] == [run_id]

    result = CliRunner().invoke(cli, ["import", "jsonl", str(out), "--store", str(tmp_path / "third")])
    assert result.exit_code == 1 and "runs.jsonl:2: not valid JSON" in result.output

    with pytest.raises(ValueError, match=r"runs.jsonl:2: not valid JSON .*fix or remove that line"):
        aquarium.export([run_id], "jsonl", to=str(out), store=store)  # refused before writing


def test_bad_csv_row_is_named(store, run_id, tmp_path):
    out = tmp_path / "out"
    aquarium.export([run_id], "jsonl", to=str(out), store=store)
    path = out / "metrics" / f"{run_id}.csv"
    path.write_text(path.read_text().replace("0.5", "half"))
    (result,) = aquarium.import_runs("jsonl", str(out), store=tmp_path / "other")
    assert result.status == "failed"
    assert f"{path}:3: metric 'acc': could not convert string to float: 'half'" in result.error
    path.unlink()
    (result,) = aquarium.import_runs("jsonl", str(out), store=tmp_path / "other")
    assert f"{path}: no such file" in result.error
    assert aquarium.open_store(tmp_path / "other").list_runs() == []


def test_export_to_a_file_is_refused(store, run_id, tmp_path):
    (tmp_path / "afile").write_text("")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        aquarium.export([run_id], "jsonl", to=str(tmp_path / "afile"), store=store)
