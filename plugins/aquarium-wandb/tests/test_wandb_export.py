"""Export to real W&B offline runs, read back from disk: with our reader (records.py), with
W&B's own offline reader (``wandb leet inspect``), and through ``aquarium/run.json``."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import aquarium
from aquarium import interop
from aquarium.cli import cli
from aquarium_wandb import WandbExporter, records, wandb_run_id
from aquarium_wandb.exporter import history_rows, project_name, wandb_tags
from aquarium_wandb.records import STEP_KEY, find_run_files, read_run_file, wait_until_written
from aquarium_wandb.writer import RunFileWriter


def make_run(store, tmp_path, **kwargs):
    """A finished run with repeated and decreasing steps, special values, params, tags and a model."""
    kwargs = {"name": "export me", "experiment": "exp/one", "params": {"lr": 0.001, "opt": {"name": "adam",
              "betas": [0.9, 0.999]}, "epochs": 3, "flag": True, "none": None, "whole": 2.0},
              "tags": {"team": "vision", "baseline": ""}, "notes": "first try", "group": "sweep-1",
              "capture_source": False, "store": store, **kwargs}
    with aquarium.start_run(**kwargs) as run:
        for step in (0, 1, 1, 5, 3, 3):  # repeated, then lower than the last
            run.log({"loss": 1.0 / (step + 2), "acc": step / 10}, step=step)
        run.log({"weird": math.nan}, step=2)
        run.log({"weird": -math.inf}, step=0)
        run.log({"weird": -0.0}, step=0)
        model = tmp_path / "model.pt"
        model.write_bytes(b"\x00weights" * 100)
        run.log_artifact(model, name="models/model.pt", kind="model", metadata={"framework": "torch",
                                                                                  "epoch": 3})
        table = tmp_path / "table.csv"
        table.write_text("a,b\n1,2\n")
        run.log_artifact(table, name="table.csv")
    return store.get_run(run.id)


def only_folder(to: Path) -> Path:
    (path,) = find_run_files(to)
    return Path(path).parent


def leet(folder: Path, *args: str) -> list[dict]:
    """W&B's own reader of offline runs (Go, part of the wandb wheel): one JSON per line."""
    exe = Path(sys.executable).with_name("wandb")
    proc = subprocess.run([str(exe), "leet", "inspect", "--json", *args, str(folder)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.strip()
    return [json.loads(out)] if args else [json.loads(line) for line in out.splitlines()]


def test_export_writes_an_offline_run_every_point_survives(store, tmp_path):
    record = make_run(store, tmp_path)
    to = tmp_path / "out"
    (result,) = aquarium.export([record.id], "wandb", to=str(to), store=store)
    assert result.status == "ok", result.error
    assert result.target_id == record.id == wandb_run_id(record.id)
    assert result.points == 15 and result.artifacts == 2
    folder = only_folder(to)
    assert folder.parent == to / "wandb" and folder.name.startswith("offline-run-")
    assert folder.name.endswith("-" + record.id)

    run = read_run_file(str(folder / f"run-{record.id}.wandb"))
    history = store.history(record.id)
    for key, series in history.items():  # every point, in logging order, with its own timestamp
        steps, values, stamps = run.history[key]
        assert steps == series.steps.tolist()
        assert np.array_equal(np.array(values), series.values, equal_nan=True)
        assert [math.copysign(1, v) for v in values] == [math.copysign(1, v) for v in series.values]
        assert stamps == series.timestamps.tolist()
    assert run.last_step == 8  # W&B's _step counts rows: 6 shared by loss and acc, 3 of weird

    assert run.display_name == "export me" and run.project == "exp-one" and run.group == "sweep-1"
    assert run.notes == "first try" and sorted(run.tags) == ["baseline", "team:vision"]
    assert run.config == {"_wandb": {}, **record.params}
    assert isinstance(run.config["whole"], float)
    assert run.summary["aquarium/tags"] == record.tags and run.summary["aquarium/status"] == "completed"
    assert run.summary["aquarium/started"] == record.started and run.summary["aquarium/ended"] == record.ended
    assert run.summary["aquarium/experiment"] == "exp/one" and run.summary["aquarium/run_id"] == record.id
    assert run.exit_code == 0
    assert "aquarium/run.json" in run.files


def test_w_and_b_reads_the_export_itself(store, tmp_path):
    """W&B's own offline reader sees a finished run with our config, summary and x-axis."""
    record = make_run(store, tmp_path)
    aquarium.export([record.id], "wandb", to=str(tmp_path / "out"), store=store)
    folder = only_folder(tmp_path / "out")
    (summary,) = leet(folder, "--summary")
    assert summary["state"] == "finished" and summary["exit_code"] == 0 and summary["run_id"] == record.id
    assert summary["name"] == "export me" and summary["config"] == record.params
    assert summary["summary"]["aquarium/tags"] == record.tags
    lines = leet(folder)
    metrics = {m["metric"].get("name"): m["metric"] for m in lines if m["type"] == "metric"}
    assert metrics["loss"]["step_metric"] == STEP_KEY and metrics["acc"]["step_metric"] == STEP_KEY
    rows = [m["history"]["item"] for m in lines if m["type"] == "history"]
    assert [r[STEP_KEY] for r in rows if "loss" in r] == [0, 1, 1, 5, 3, 3]
    assert [r["_step"] for r in rows] == list(range(len(rows)))


def test_run_json_lands_in_the_run_and_reads_back(store, tmp_path):
    record = make_run(store, tmp_path)
    aquarium.export([record.id], "wandb", to=str(tmp_path / "out"), store=store)
    run_json = only_folder(tmp_path / "out") / "files" / "aquarium" / "run.json"
    back, history = interop.load_run_json(run_json.read_text())
    assert back.id == record.id and back.params == record.params and back.tags == record.tags
    assert history == store.history(record.id)


def test_artifacts_are_wandb_artifacts_kept_in_the_run_folder(store, tmp_path):
    record = make_run(store, tmp_path)
    aquarium.export([record.id], "wandb", to=str(tmp_path / "out"), store=store)
    folder = only_folder(tmp_path / "out")
    run = read_run_file(str(folder / f"run-{record.id}.wandb"), history=False)
    by_path = {a.path: a for a in run.artifacts}
    model = by_path["models/model.pt"]
    assert model.type == "model" and model.metadata == {"framework": "torch", "epoch": 3}
    assert model.artifact == "models-model.pt"
    assert by_path["table.csv"].type == "file"
    for name, entry in by_path.items():
        data = store.read_artifact(record.id, name)
        assert Path(entry.local_path).is_relative_to(folder)  # `wandb sync` uploads from inside the run
        assert Path(entry.local_path).read_bytes() == data
        assert entry.size == len(data)
        assert entry.digest == base64.b64encode(hashlib.md5(data).digest()).decode()


@pytest.mark.parametrize(("status", "code"), [("failed", 1), ("killed", 255)])
def test_status_becomes_the_exit_code(store, tmp_path, status, code):
    run = aquarium.start_run(store=store, capture_source=False, name=status)
    run.log({"x": 1.0})
    if status == "failed":
        run.finish(status="failed", error="ValueError: boom")
    else:
        run.finish(status="killed")
    aquarium.export([run.id], "wandb", to=str(tmp_path / "out"), store=store)
    wb = read_run_file(find_run_files(tmp_path / "out")[0])
    assert wb.exit_code == code and wb.summary["aquarium/status"] == status
    if status == "failed":
        assert wb.summary["aquarium/error"] == "ValueError: boom"


def test_re_export_replaces_the_earlier_offline_run(store, tmp_path):
    record = make_run(store, tmp_path)
    other = make_run(store, tmp_path, name="other")
    to = tmp_path / "out"
    aquarium.export([record.id, other.id], "wandb", to=str(to), store=store)
    first = {Path(p).name: Path(p).parent for p in find_run_files(to)}
    (to / "wandb" / first[f"run-{record.id}.wandb"].name / "stale-marker").write_text("old")
    store.update_run(record.id, tags={"reviewed": "yes"})
    (result,) = aquarium.export([record.id], "wandb", to=str(to), store=store)
    assert result.status == "ok"
    now = {Path(p).name: Path(p).parent for p in find_run_files(to)}
    assert sorted(now) == sorted(first)  # one folder per run, still
    assert not (now[f"run-{record.id}.wandb"] / "stale-marker").exists()
    assert now[f"run-{other.id}.wandb"] == first[f"run-{other.id}.wandb"]  # the other run untouched
    wb = read_run_file(str(now[f"run-{record.id}.wandb"] / f"run-{record.id}.wandb"))
    assert wb.summary["aquarium/tags"]["reviewed"] == "yes"
    assert store.get_run(record.id).tags["aquarium.exported.wandb"] == record.id  # the mapping, kept


@pytest.mark.parametrize("writer", ["direct", "client"])
def test_export_that_died_halfway_completes_on_re_run(store, tmp_path, monkeypatch, writer):
    record = make_run(store, tmp_path)
    to = tmp_path / "out"

    def boom(self, run, bundle):
        run.log({"loss": 1.0, STEP_KEY: 0})
        raise RuntimeError("disk full")

    def boom_direct(self, rows):
        for i, _row in enumerate(rows):
            self._log.write(b"row")  # some of the file written, then the failure
            if i == 2:
                raise RuntimeError("disk full")

    with monkeypatch.context() as m:
        if writer == "client":
            m.setattr(WandbExporter, "_write", boom)
        else:
            m.setattr(RunFileWriter, "history", boom_direct)
        (result,) = aquarium.export([record.id], "wandb", to=str(to), store=store, writer=writer)
    assert result.status == "failed" and "disk full" in result.error
    assert find_run_files(to) == []  # nothing half-written left behind
    (result,) = aquarium.export([record.id], "wandb", to=str(to), store=store, writer=writer)
    assert result.status == "ok" and len(find_run_files(to)) == 1
    # a folder left by a process that died (no cleanup) is replaced too
    leftover = to / "wandb" / f"offline-run-20000101_000000-{record.id}"
    leftover.mkdir()
    (leftover / f"run-{record.id}.wandb").write_bytes(b":W&B")
    (result,) = aquarium.export([record.id], "wandb", to=str(to), store=store, writer=writer)
    assert result.status == "ok" and len(find_run_files(to)) == 1 and not leftover.exists()


def test_reserved_metric_names_are_refused_by_name(store, tmp_path):
    with aquarium.start_run(store=store, capture_source=False) as run:
        run.log({"_step": 1.0})
    (result,) = aquarium.export([run.id], "wandb", to=str(tmp_path / "out"), store=store)
    assert result.status == "failed" and "'_step' is reserved" in result.error
    assert find_run_files(tmp_path / "out") == [] if (tmp_path / "out").exists() else True


def test_export_leaves_the_callers_wandb_run_alone(store, tmp_path):
    import wandb

    mine = wandb.init(project="mine", dir=str(tmp_path / "mine"), mode="offline",
                      settings=wandb.Settings(silent=True, console="off", x_disable_stats=True))
    try:
        record = make_run(store, tmp_path)
        (result,) = aquarium.export([record.id], "wandb", to=str(tmp_path / "out"), store=store)
        assert result.status == "ok"
        assert wandb.run is mine
        mine.log({"still": 1.0})
    finally:
        mine.finish()
    (path,) = find_run_files(tmp_path / "mine")
    wait_until_written(path)  # finish() returns before wandb-core has written the file
    assert read_run_file(path).history["still"][1] == [1.0]


def test_check_names_the_missing_package(monkeypatch, tmp_path, store):
    """No real way to uninstall wandb inside a test: hide it from the import system instead."""
    record = make_run(store, tmp_path)
    monkeypatch.setitem(sys.modules, "wandb", None)
    with pytest.raises(aquarium.AquariumError, match=r"package `wandb` \(pip install wandb"):
        WandbExporter().check(str(tmp_path))
    with pytest.raises(aquarium.AquariumError, match="pip install wandb"):
        aquarium.export([record.id], "wandb", to=str(tmp_path / "out"), store=store)
    with pytest.raises(aquarium.AquariumError, match="pip install wandb"):
        aquarium.import_runs("wandb", str(tmp_path), store=store)
    assert not (tmp_path / "out").exists()


def test_check_refuses_a_file_target(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(aquarium.AquariumError, match="is a file"):
        WandbExporter().check(str(tmp_path / "f"))


def test_cli_export_and_import(store, tmp_path):
    record = make_run(store, tmp_path)
    runner = CliRunner()
    out = runner.invoke(cli, ["export", "wandb", record.id, "--to", str(tmp_path / "out"),
                              "--store", str(tmp_path / "store"), "--json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)[0]["target_id"] == record.id
    out = runner.invoke(cli, ["import", "wandb", str(tmp_path / "out"), "--store", str(tmp_path / "dst"),
                              "--json", "--source-experiment", "exp-one"])
    assert out.exit_code == 0, out.output
    (row,) = json.loads(out.stdout)
    assert row["status"] == "ok" and row["target_id"] == record.id and row["points"] == 15
    out = runner.invoke(cli, ["import", "wandb", str(tmp_path / "out"), "--store", str(tmp_path / "dst2"),
                              "--json", "--source-experiment", "nope"])
    assert out.exit_code == 0 and json.loads(out.stdout) == []


# -- pure helpers (no W&B process) ------------------------------------------------------------------
def test_names_w_and_b_accepts():
    assert wandb_run_id("01h8x") == "01h8x"
    odd = wandb_run_id("a/b:c")
    assert odd.startswith("aq-") and odd == wandb_run_id("a/b:c") and len(odd) <= 64
    assert project_name("a/b:c#d") == "a-b-c-d" and project_name("///") == "---" and project_name(" ") == "default"
    assert len(project_name("x" * 300)) == 128
    assert wandb_tags({"a": "", "b": "c", "aquarium.source": "x", "long": "y" * 80, "nl": "x\ny", "sp": "x "}) == [
        "a", "b:c"]


def test_history_rows_keep_every_point_in_order():
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from aquarium.model import MetricSeries

    points = st.lists(st.tuples(st.integers(0, 5), st.floats(allow_nan=False, width=64), st.integers(0, 3)),
                      max_size=12)

    @given(st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), points), st.booleans())
    @settings(max_examples=200, deadline=None)
    def check(spec, shared):
        history = {}
        base = None
        for key, pts in spec.items():
            if shared and base is not None and len(pts) == len(base):
                pts = [(s, v, t) for (s, _, t), (_, v, _) in zip(base, pts)]  # same steps and times as another key
            base = pts
            history[key] = MetricSeries(key, [p[0] for p in pts], [p[1] for p in pts],
                                        [1000.0 + p[2] for p in pts])
        rows = list(history_rows(history))
        for key, series in history.items():
            mine = [(r[STEP_KEY], r[key], r["_timestamp"]) for r in rows if key in r]
            assert mine == list(zip(series.steps.tolist(), series.values.tolist(), series.timestamps.tolist()))
        assert all(STEP_KEY in r and "_timestamp" in r for r in rows)
        assert len(rows) <= sum(len(s) for s in history.values())

    check()


def test_keys_logged_together_share_rows():
    from aquarium.model import MetricSeries

    steps, stamps = list(range(100)), [float(i) for i in range(100)]
    history = {k: MetricSeries(k, steps, np.arange(100.0) + i, stamps) for i, k in enumerate("abcdefghij")}
    history["late"] = MetricSeries("late", [7], [1.0], [50.5])
    rows = list(history_rows(history))
    assert len(rows) == 101
    assert rows[51] == {"late": 1.0, STEP_KEY: 7, "_timestamp": 50.5}


def test_reserved_keys_cover_what_wandb_adds():
    assert {"_step", "_timestamp", "_runtime", STEP_KEY} <= records.RESERVED_KEYS
    assert os.sep.join(("aquarium", "artifacts")) == records.ARTIFACTS_DIR


def test_export_returns_once_the_run_file_is_complete(store, tmp_path):
    """W&B's finish() returns before its writer is done; export waits for the exit record."""
    for i in range(5):
        with aquarium.start_run(store=store, capture_source=False, name=f"r{i}") as run:
            run.log({"x": float(i)})
        (result,) = aquarium.export([run.id], "wandb", to=str(tmp_path / "out"), store=store)
        assert result.status == "ok"
        path = next(p for p in find_run_files(tmp_path / "out") if p.endswith(f"run-{run.id}.wandb"))
        assert records.has_exit_record(path) and read_run_file(path).exit_code == 0


def test_wait_until_written_is_bounded(tmp_path):
    path = tmp_path / "run-x.wandb"
    path.write_bytes(b":W&B\xe1\xbe\x00")
    with pytest.raises(aquarium.AquariumError, match=r"did not finish writing .*run-x\.wandb within 0\.2 s"):
        wait_until_written(path, timeout=0.2)


def test_loading_the_plugin_does_not_import_wandb():
    code = ("import sys, aquarium; from aquarium import interop; interop.exporters(); interop.importers(); "
            "assert 'wandb' in interop.exporters() and 'wandb' in interop.importers(); "
            "assert 'wandb' not in sys.modules, 'wandb imported'")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
