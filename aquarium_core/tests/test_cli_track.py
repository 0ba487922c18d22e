"""``aquarium track`` and ``aquarium runs``: shell-driven tracking and run management."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

import aquarium
from aquarium.cli import cli


@pytest.fixture
def shell(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("AQUARIUM_STORE", str(tmp_path / "store"))
    runner = CliRunner()

    def run(*args, ok=True, **kwargs):
        result = runner.invoke(cli, list(args), catch_exceptions=False, **kwargs)
        if ok:
            assert result.exit_code == 0, result.output
        return result

    return run


def test_track_a_run_from_the_shell(shell, tmp_path):
    run_id = shell("track", "init", "bash-run", "--experiment", "shell", "-p", "lr=0.1", "-p", "opt=adam",
                   "-t", "team=ml").output.strip()
    assert (tmp_path / ".aquarium-run").read_text().strip() == run_id
    shell("track", "log", "-m", "loss=0.5", "-m", "acc=0.7")
    shell("track", "log", "-m", "loss=0.25", "--step", "5", "-p", "epochs=3")
    (tmp_path / "model.pt").write_bytes(b"w")
    shell("track", "log", "--model", "model.pt", "--framework", "torch", "--artifact", "model.pt")
    store = aquarium.open_store(tmp_path / "store")
    assert store.get_run(run_id).status == "running"   # no heartbeat: a shell run never reads as crashed
    assert shell("track", "end").output.strip() == f"{run_id} completed"
    record = store.get_run(run_id)
    assert record.status == "completed" and record.heartbeat is None and record.ended
    assert record.params == {"lr": 0.1, "opt": "adam", "epochs": 3} and record.tags == {"team": "ml"}
    assert store.history(run_id)["loss"].steps.tolist() == [0, 5]
    assert {a.name for a in record.artifacts} == {"model.pt"}
    assert not (tmp_path / ".aquarium-run").exists()


def test_track_errors_are_clear(shell, tmp_path):
    result = shell("track", "log", "-m", "loss=1", ok=False)
    assert result.exit_code == 2 and "aquarium track init" in result.output
    shell("track", "init", "x")
    result = shell("track", "log", "-m", "loss=abc", ok=False)
    assert result.exit_code == 2 and "'loss'" in result.output
    result = shell("track", "log", "-m", "noequals", ok=False)
    assert result.exit_code == 2 and "key=value" in result.output


def test_runs_show_tag_rm(shell, tmp_path):
    with aquarium.start_run(name="<b>shown</b>", params={"lr": 0.1}, store=tmp_path / "store") as run:
        run.log({"loss": 2.0})
        run.log({"loss": 1.0})
    prefix = run.id[:-4]
    out = shell("runs", "show", prefix).output
    assert "<b>shown</b>" in out and "lr" in out and "completed" in out
    data = json.loads(shell("runs", "show", run.id, "--json").output)
    assert data["summaries"]["loss"]["min"] == 1.0 and data["params"] == {"lr": 0.1}
    shell("runs", "tag", run.id, "stage=final", "note=hello world")
    assert aquarium.open_store(tmp_path / "store").get_run(run.id).tags == {"stage": "final", "note": "hello world"}
    result = shell("runs", "rm", run.id, input="n\n", ok=False)
    assert result.exit_code == 1
    assert aquarium.open_store(tmp_path / "store").get_run(run.id)
    shell("runs", "rm", run.id, "--yes")
    with pytest.raises(aquarium.RunNotFoundError):
        aquarium.open_store(tmp_path / "store").get_run(run.id)


def test_unknown_and_short_ids(shell):
    result = shell("runs", "show", "zzzzzzzzzz", ok=False)
    assert result.exit_code == 1 and "zzzzzzzzzz" in result.output
    result = shell("runs", "show", "01", ok=False)
    assert result.exit_code == 1 and "at least 6" in result.output


def test_track_as_real_subprocesses(tmp_path):
    env = {"AQUARIUM_STORE": str(tmp_path / "store"), "PATH": "/usr/bin:/bin"}

    def aq(*args):
        return subprocess.run([sys.executable, "-m", "aquarium", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=120, check=True).stdout

    run_id = aq("track", "init", "sub").strip()
    aq("track", "log", "-m", "loss=3")
    aq("track", "end", "--status", "failed", "--error", "oom")
    record = aquarium.open_store(tmp_path / "store").get_run(run_id)
    assert (record.status, record.error) == ("failed", "oom")


@pytest.fixture
def sweep(tmp_path):
    store = aquarium.open_store(tmp_path / "store")
    ids = {}
    for lr in (0.01, 0.1, 1.0):
        for seed in (0, 1):
            with aquarium.start_run(name=f"lr{lr}-s{seed}", group=f"lr={lr}", params={"lr": lr, "seed": seed},
                                    store=store, capture_source=False) as run:
                for step in range(20):
                    run.log({"loss": lr + 1 / (step + 1) + seed / 100, "acc": step / 20 - lr / 10}, step=step)
            ids[run.name] = run.id
    return ids


def test_runs_ls_filters_sorts_and_prints_json(shell, sweep):
    out = shell("runs", "ls", "params.lr >= 0.1 and metrics.acc.best > 0.8", "--sort", "-params.lr",
                "--columns", "name,params.lr,metrics.loss.min").stdout
    lines = out.splitlines()
    assert lines[0].split() == ["name", "params.lr", "metrics.loss.min"]
    rows = [line.split() for line in lines[2:]]
    assert [r[1] for r in rows] == ["1", "1", "0.1", "0.1"]         # acc.best = 0.95 - lr/10 > 0.8
    assert {r[0] for r in rows} == {"lr1.0-s0", "lr1.0-s1", "lr0.1-s0", "lr0.1-s1"}
    for name, _, loss_min in rows:
        lr, seed = float(name[2:5]), int(name[-1])
        assert loss_min == f"{lr + 1 / 20 + seed / 100:.6g}"
    data = json.loads(shell("runs", "ls", "params.lr = 1.0", "--json").output)
    assert sorted(r["name"] for r in data) == ["lr1.0-s0", "lr1.0-s1"]
    assert all(r["summaries"]["loss"]["count"] == 20 for r in data)
    assert json.loads(shell("runs", "ls", "--limit", "2", "--json").output)[0]["name"] == "lr1.0-s1"
    bad = shell("runs", "ls", "params.lr >", ok=False)
    assert bad.exit_code == 1 and "^" in bad.output
    bad = shell("runs", "ls", "--columns", "name,what.ever", ok=False)
    assert bad.exit_code == 2 and "what.ever" in bad.output


def test_compare_marks_the_best_and_lists_differing_params(shell, sweep):
    ids = sweep
    out = shell("compare", ids["lr0.01-s0"][:20], ids["lr1.0-s0"], "--metrics", "loss").output
    best_line = next(line for line in out.splitlines() if "*" in line)
    assert "lr0.01-s0" in best_line                     # a loss: the smallest wins
    assert "params that differ" in out and "lr" in out
    out = shell("compare", "-q", 'group = "lr=0.1"', "--json").output
    assert {r["name"] for r in json.loads(out)["runs"]} == {"lr0.1-s0", "lr0.1-s1"}
    none = shell("compare", "-q", 'name = "nothing"', ok=False)
    assert none.exit_code == 1 and "no runs match" in none.output
    both = shell("compare", ids["lr0.01-s0"], "-q", "x", ok=False)
    assert both.exit_code == 2
