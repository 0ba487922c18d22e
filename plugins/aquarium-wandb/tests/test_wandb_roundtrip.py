"""The round-trip contract (``aquarium.testing.ExporterSuite``) against real W&B offline runs:
hypothesis-made runs → export → import from disk → equal to the originals.

Twice: as shipped (the importer reads ``aquarium/run.json`` first), and with every run.json
removed before importing, so the W&B records alone (config, summary, history rows with our
step metric and timestamps, artifacts, exit code) must carry the run. Both declare no loss.
"""

from __future__ import annotations

import glob
import os

import pytest

from aquarium.testing.exporter_suite import ExporterSuite


class TestWandbRoundTrip(ExporterSuite):
    exporter = "wandb"
    examples = 5  # a W&B run per example costs about a second
    declared_losses = frozenset()

    @pytest.fixture
    def target(self, tmp_path):
        return str(tmp_path / "wandb-out")

    def fresh_target(self, target, folder):
        return os.path.join(folder, "wandb-out")


class TestWandbRoundTripFromRecordsAlone(TestWandbRoundTrip):
    examples = 4

    def source_for(self, target):
        for path in glob.glob(os.path.join(str(target), "wandb", "offline-run-*", "files", "aquarium", "run.json")):
            os.remove(path)
        return str(target)


@pytest.mark.parametrize("with_run_json", [True, False])
def test_a_crashed_run_comes_back_crashed(tmp_path, with_run_json):
    import time

    import aquarium
    from aquarium.ids import new_run_id
    from aquarium.model import MetricSeries, RunRecord

    src = aquarium.open_store(tmp_path / "src")
    then = time.time() - 3600
    record = RunRecord(new_run_id(), "died", status="running", created=then, started=then, heartbeat=then + 5)
    src.create_run(record)
    src.write_batch(record.id, "w", 0, {"loss": MetricSeries("loss", [0, 1], [0.5, 0.25], [then + 1, then + 2])})
    assert src.get_run(record.id).status == "crashed"
    (result,) = aquarium.export([record.id], "wandb", to=str(tmp_path / "out"), store=src)
    assert result.status == "ok", result.error
    if not with_run_json:
        TestWandbRoundTripFromRecordsAlone().source_for(tmp_path / "out")
    dst = aquarium.open_store(tmp_path / "dst")
    (back,) = aquarium.import_runs("wandb", str(tmp_path / "out"), store=dst)
    run = dst.get_run(back.run_id)
    assert run.status == "crashed" and run.ended is None
    assert dst.history(run.id)["loss"].values.tolist() == [0.5, 0.25]
