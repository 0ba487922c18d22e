"""The direct writer's ``.wandb`` file holds what W&B's own client writes for the same run.

One run is exported twice: by W&B's client (``writer="client"``: ``wandb.init`` offline,
``run.log`` per row, ``wandb-core`` writing the file) and by the direct writer. Both files are
then read by W&B's own offline reader (``wandb leet inspect``, Go, from the wandb wheel) and by
ours, and compared record by record. What may differ is listed in ``writer.py``: telemetry
records, the summary repeated after every row, wall-clock fields (``_runtime``, start time,
the artifacts' random client ids), and the order of items within a record (``wandb-core``
writes them in Go map order).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import aquarium
from aquarium import interop
from aquarium.ids import new_run_id
from aquarium.interop import RunBundle
from aquarium.model import Artifact, MetricSeries, RunRecord
from aquarium_wandb.records import Updates, find_run_files, iter_records
from aquarium_wandb.writer import go_float

T0 = 1_700_000_000.123456


def tricky_run(store: Any, tmp_path: Path) -> RunRecord:
    """Two groups of keys with their own steps, values W&B formats in every way, a config
    record larger than a 32 KiB block, rows enough to span many blocks, two artifacts."""
    n = 3000
    steps = np.arange(n, dtype=np.int64)
    steps[100:110] = 50  # repeated and lower than the last
    odd = np.array([1.0, 1e-7, 1e21, 123456789012345680000.0, math.nan, math.inf, -math.inf, -0.0, 5e-324,
                    0.1, 3.0, 1234567.0, 123456.0, 0.0001, 1e-5, -2.5e300, 1.7976931348623157e308])
    values = np.resize(odd, n) * np.where(np.arange(n) % 2, -1.0, 1.0)
    history = {
        "loss": MetricSeries("loss", steps, values, T0 + np.arange(n) * 0.01),
        "acc": MetricSeries("acc", steps, np.linspace(0, 1, n), T0 + np.arange(n) * 0.01),
        "val/x": MetricSeries("val/x", steps[::7], np.sqrt(steps[::7] + 0.5), T0 + np.arange(0, n, 7) * 0.01 + 0.003),
    }
    model = tmp_path / "model.pt"
    model.write_bytes(b"\x00weights" * 1000)
    table = tmp_path / "table.csv"
    table.write_text("a,b\n1,2\n")
    record = RunRecord(
        new_run_id(), "tricky", "exp/one", group="sweep", status="failed", error="ValueError: boom",
        created=T0, started=T0, ended=T0 + 31.5, notes="first try", tags={"team": "vision", "flag": ""},
        params={"lr": 0.001, "opt": {"name": "adam", "betas": [0.9, 0.999]}, "n": 3, "ok": True, "none": None,
                "big": "x" * 70_000, "whole": 2.0},
        artifacts=[Artifact("models/model.pt", 0, "", "model", {"framework": "torch"}), Artifact("table.csv", 0, "")],
    )
    interop.write_bundle(store, RunBundle(record, history, {"models/model.pt": str(model),
                                                            "table.csv": str(table)}), "test:" + record.id)
    return store.get_run(record.id)


def export(store: Any, record: RunRecord, to: Path, writer: str) -> Path:
    (result,) = aquarium.export([record.id], "wandb", to=str(to), store=store, writer=writer, progress=False)
    assert result.status == "ok", result.error
    (path,) = find_run_files(to)
    return Path(path)


def digest(path: Path) -> dict[str, Any]:
    """Everything a reader of the file gets, without what may differ (see the module doc)."""
    out: dict[str, Any] = {"kinds": set(), "metrics": [], "history": [], "artifacts": [], "files": []}
    summary = Updates()
    folder = path.parent
    for rec in iter_records(path):
        kind = rec.WhichOneof("record_type")
        out["kinds"].add(kind)
        if kind == "header":
            out["min_consumer"] = rec.header.version_info.min_consumer
        elif kind == "run":
            r = rec.run
            out["run"] = (r.run_id, r.project, r.display_name, r.run_group, r.notes, sorted(r.tags),
                          {u.key: json.loads(u.value_json) for u in r.config.update})
        elif kind == "metric":
            out["metrics"].append((rec.metric.name, rec.metric.step_metric, rec.metric.options.defined))
        elif kind == "history":
            items = {"/".join(i.nested_key) or i.key: i.value_json for i in rec.history.item}
            items.pop("_runtime")
            out["history"].append((rec.history.step.num, items))
        elif kind == "summary":
            summary.update(rec.summary.update)
        elif kind == "artifact":
            a = rec.artifact
            out["artifacts"].append((
                a.name, a.type, json.loads(a.metadata or "{}"), a.digest, a.digest_algorithm, list(a.aliases),
                a.finalize, a.run_id, a.project, a.manifest.version, a.manifest.storage_policy,
                [(c.key, c.value_json) for c in a.manifest.storage_policy_config],
                [(c.path, c.digest, c.size, os.path.relpath(c.local_path, folder)) for c in a.manifest.contents]))
        elif kind == "files":
            out["files"].extend((f.path, f.policy) for f in rec.files.files)
        elif kind == "exit":
            out["exit"] = rec.exit.exit_code
    final = summary.result()
    for key in ("_runtime", "_wandb"):
        final.pop(key, None)
    final["aquarium/tags"].pop("aquarium.exported.wandb", None)  # set on the run by the first export
    out["summary"] = json.dumps(final, sort_keys=True)
    return out


def leet(folder: Path, *args: str) -> str:
    exe = Path(sys.executable).with_name("wandb")
    proc = subprocess.run([str(exe), "leet", "inspect", "--json", *args, str(folder)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_direct_file_holds_what_wandbs_client_writes(store, tmp_path):
    record = tricky_run(store, tmp_path)
    by_client = export(store, record, tmp_path / "client", "client")
    direct = export(store, record, tmp_path / "direct", "direct")
    assert direct.stat().st_size > 10 * 32768  # records span many blocks, one spans several

    theirs, ours = digest(by_client), digest(direct)
    assert theirs.pop("kinds") - ours["kinds"] == {"telemetry"}
    ours.pop("kinds")
    assert len(ours["history"]) == 3000 + 429 and ours["exit"] == 1
    assert ours == theirs  # value_json texts included: numbers formatted as wandb-core formats them

    # W&B's own reader: the same run, state, config and summary
    def summary_of(path: Path) -> dict:
        seen = json.loads(leet(path.parent, "--summary"))
        for key in ("file", "last_write", "start_time"):
            seen.pop(key)
        seen["summary"].pop("_runtime")
        seen["summary"]["aquarium/tags"].pop("aquarium.exported.wandb", None)
        return seen

    assert summary_of(direct) == summary_of(by_client)
    assert json.loads(leet(direct.parent, "--summary"))["start_time"].startswith("2023-11-14T22:13:20.123")

    def records_of(path: Path) -> list[dict]:
        out = []
        for line in leet(path.parent).splitlines():
            rec = json.loads(line)
            if rec["type"] in ("telemetry", "summary", "header"):
                continue
            rec.pop("num")
            if rec["type"] == "history":
                rec["history"]["item"].pop("_runtime")
            if rec["type"] == "run":
                for key in ("start_time", "telemetry", "host"):
                    rec["run"].pop(key, None)
            if rec["type"] == "artifact":
                for key in ("client_id", "sequence_client_id"):
                    rec["artifact"].pop(key)
                for entry in rec["artifact"]["manifest"]["contents"]:
                    entry["local_path"] = os.path.relpath(entry["local_path"], path.parent)
            out.append(rec)
        return out

    assert records_of(direct) == records_of(by_client)


def test_both_writers_import_to_the_same_run(store, tmp_path):
    record = tricky_run(store, tmp_path)
    back = {}
    for writer in ("client", "direct"):
        export(store, record, tmp_path / writer, writer)
        for path in (tmp_path / writer).glob("wandb/offline-run-*/files/aquarium/run.json"):
            path.unlink()  # the W&B records alone
        dst = aquarium.open_store(tmp_path / f"back-{writer}")
        (result,) = aquarium.import_runs("wandb", str(tmp_path / writer), store=dst, progress=False)
        assert result.status == "ok", result.error
        back[writer] = (dst.get_run(result.run_id), dst.history(result.run_id))
    (run_c, hist_c), (run_d, hist_d) = back["client"], back["direct"]
    assert hist_d == hist_c == store.history(record.id)
    for run in (run_c, run_d):
        run.tags.pop("aquarium.exported.wandb", None)  # set on the source by the first export
    assert (run_d.params, run_d.tags, run_d.status, run_d.error, run_d.started, run_d.ended) == (
        run_c.params, run_c.tags, run_c.status, run_c.error, run_c.started, run_c.ended)


@pytest.mark.parametrize("x", [0.0, -0.0, 1.0, -3.0, 0.1, 1e-4, 1e-5, 1e-7, 5e-324, 123456.0, 999999.5, 1e6,
                               1234567.0, 1795717897.7584698, 1e15 + 0.5, 1e16, 1e21, 1.2345678901234568e20,
                               math.nan, math.inf, -math.inf, 1.7976931348623157e308])
def test_go_float_is_exact_and_in_wandb_cores_form(x):
    text = go_float(x)
    assert repr(float(text)) == repr(x) or (math.isnan(x) and text == "NaN")
    whole = text.lstrip("-").split("e")[0].split(".")[0]
    assert "e" in text or len(whole) <= 6 or not math.isfinite(x)  # Go's %g: an exponent from 1e+06
    assert not text.endswith(".0")
