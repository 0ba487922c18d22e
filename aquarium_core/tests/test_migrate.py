"""``aquarium migrate``: runs move between stores whole, and never twice."""

from __future__ import annotations

import time

from click.testing import CliRunner

import aquarium
from aquarium.cli import cli
from aquarium.migrate import migrate


def make_runs(store, tmp_path):
    ids = []
    (tmp_path / "weights.bin").write_bytes(b"\x00\x01" * 100)
    for i, status in enumerate(["completed", "failed", "killed"]):
        run = aquarium.start_run(name=f"r{i}", experiment="mig", group="g", params={"lr": 0.1 * (i + 1)},
                                 tags={"i": str(i)}, notes="n", store=store, capture_source=False)
        for step in range(300):
            run.log({"loss": 1 / (step + 1), "acc": step / 300.0}, step=step)
        run.log_model(tmp_path / "weights.bin", framework="torch")
        run.finish(status, error="boom" if status == "failed" else None)
        ids.append(run.id)
    stale = aquarium.start_run(name="stale", store=store, capture_source=False)
    stale.log({"loss": 1.0})
    stale.detach()
    store.update_run(stale.id, heartbeat=time.time() - 3600)
    ids.append(stale.id)
    return ids


def test_migrate_copies_everything_and_never_twice(tmp_path):
    src = aquarium.open_store(tmp_path / "src")
    dst = aquarium.open_store(tmp_path / "dst")
    ids = make_runs(src, tmp_path)
    results = migrate(src, dst)
    assert sorted(r.run_id for r in results) == sorted(ids) and {r.status for r in results} == {"ok"}
    for run_id in ids:
        a, b = src.get_run(run_id), dst.get_run(run_id)
        assert (a.name, a.status, a.error, a.params, a.tags, a.group, a.started, a.ended) == \
            (b.name, b.status, b.error, b.params, b.tags, b.group, b.started, b.ended)
        assert a.summaries == b.summaries
        assert [(x.name, x.sha256, x.kind, x.metadata) for x in a.artifacts] == \
            [(x.name, x.sha256, x.kind, x.metadata) for x in b.artifacts]
        ha, hb = src.history(run_id), dst.history(run_id)
        assert ha == hb
    assert dst.get_run(ids[-1]).status == "crashed"
    again = migrate(src, dst)
    assert {r.status for r in again} == {"exists"}
    more = aquarium.resume_run(ids[0], store=src)
    more.log({"loss": 0.001})
    more.detach()
    third = {r.run_id: r.status for r in migrate(src, dst)}
    assert third[ids[0]] == "ok" and list(third.values()).count("exists") == 3
    assert dst.summaries(ids[0])["loss"].count == 301
    assert len(dst.list_runs()) == 4


def test_migrate_cli_with_query(tmp_path):
    src = aquarium.open_store(tmp_path / "src")
    ids = make_runs(src, tmp_path)
    result = CliRunner().invoke(cli, ["migrate", str(tmp_path / "src"), str(tmp_path / "dst"),
                                      'status = "failed"', "--json"])
    assert result.exit_code == 0, result.output
    assert [r.id for r in aquarium.open_store(tmp_path / "dst").list_runs()] == [ids[1]]
    result = CliRunner().invoke(cli, ["migrate", str(tmp_path / "src"), str(tmp_path / "src")])
    assert result.exit_code == 1 and "same store" in result.output
