"""The offline spool: a store that stops answering loses nothing, and nothing twice.

An embedded SQLite file cannot become "unreachable", so these tests use a real SQLite store
behind a small fault-injecting plugin (``flaky://``): while the file ``<store>/OUTAGE``
exists every write raises, as a dropped network connection would. The PostgreSQL plugin's
tests do the same with a real server that is stopped and started again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from click.testing import CliRunner

import aquarium
from aquarium import plugins
from aquarium.cli import cli
from aquarium.spool import Journal, pending_journals

FLAKY = textwrap.dedent("""
    import os
    import aquarium
    from aquarium.errors import StoreError
    from aquarium.stores.sqlite import SQLiteStore

    class FlakyStore(SQLiteStore):
        name = "flaky"

        def __init__(self, uri, *, artifacts=None):
            self.folder = uri[len("flaky://"):]
            super().__init__(self.folder, artifacts=artifacts)
            self.uri = uri

        def _check(self):
            if os.path.exists(os.path.join(self.folder, "OUTAGE")):
                raise StoreError("connection refused (simulated outage)")

        def write_batch(self, *args, **kwargs):
            self._check()
            return super().write_batch(*args, **kwargs)

        def update_run(self, *args, **kwargs):
            self._check()
            return super().update_run(*args, **kwargs)

    @aquarium.hookimpl
    def aquarium_register_stores(register):
        register("flaky", FlakyStore)
""")


@pytest.fixture
def flaky(tmp_path, monkeypatch):
    """A `flaky://` store plugin installed as a real distribution, and a private spool folder."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "flaky_store.py").write_text(FLAKY)
    dist = site / "flaky_store-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: flaky-store\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[aquarium]\nflaky = flaky_store\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("AQUARIUM_SPOOL", str(tmp_path / "spool"))
    plugins.reset()
    folder = tmp_path / "store"
    yield f"flaky://{folder}", folder
    plugins.reset()


def wait_for(condition, seconds=30.0):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_outage_is_spooled_and_replayed_exactly_once(flaky):
    uri, folder = flaky
    run = aquarium.start_run(store=uri, capture_source=False, flush_interval=0.05, spool_after=0.3)
    for step in range(1000):
        run.log({"x": float(step)}, step=step)
    run.flush()
    (folder / "OUTAGE").write_text("")
    for step in range(1000, 2000):
        run.log({"x": float(step)}, step=step)
    wait_for(lambda: pending_journals())                      # the journal took over
    for step in range(2000, 2500):
        run.log({"x": float(step)}, step=step)                  # training goes on meanwhile
    run.flush()                                                  # durable: in the journal
    os.unlink(folder / "OUTAGE")
    for step in range(2500, 3000):
        run.log({"x": float(step)}, step=step)
    run.finish()
    store = aquarium.open_store(uri)
    series = store.history(run.id)["x"]
    assert series.steps.tolist() == list(range(3000))             # every point, once, in order
    assert np.array_equal(series.values, np.arange(3000.0))
    assert store.get_run(run.id).status == "completed"
    assert pending_journals() == []


def test_process_that_ends_during_the_outage_is_delivered_by_sync(flaky):
    uri, folder = flaky
    folder.mkdir()
    (folder / "OUTAGE").write_text("")
    aquarium.open_store(uri)  # the schema exists; the outage only hits writes
    os.unlink(folder / "OUTAGE")
    script = textwrap.dedent(f"""
        import os, aquarium
        run = aquarium.start_run(name="offline", store={uri!r}, capture_source=False, flush_interval=0.05,
                                 spool_after=0.2)
        open(os.path.join({str(folder)!r}, "OUTAGE"), "w").close()
        for step in range(5000):
            run.log({{"loss": 1.0 / (step + 1)}}, step=step)
        run.finish()
        print(run.id)
    """)
    child = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    run_id = child.stdout.strip()
    assert "aquarium sync" in child.stderr                       # the user is told what to do
    store = aquarium.open_store(uri)
    assert store.get_run(run_id).status == "running" and store.summaries(run_id) == {}
    result = CliRunner().invoke(cli, ["sync"])
    assert result.exit_code == 1 and "simulated outage" in result.output  # still away: kept
    assert len(pending_journals()) == 1
    os.unlink(folder / "OUTAGE")
    result = CliRunner().invoke(cli, ["sync"])
    assert result.exit_code == 0, result.output
    assert "delivered" in result.output
    record = store.get_run(run_id)
    assert record.status == "completed" and record.summaries["loss"].count == 5000
    assert store.history(run_id)["loss"].steps.tolist() == list(range(5000))
    assert "nothing to sync" in CliRunner().invoke(cli, ["sync"]).output


def test_torn_tail_and_double_replay_are_harmless(flaky, tmp_path):
    uri, _ = flaky
    store = aquarium.open_store(uri)
    with aquarium.start_run(store=store, capture_source=False) as run:
        pass
    journal = Journal(str(tmp_path / "j.journal"))
    from aquarium.testing.store_suite import make_series

    for seq in range(3):
        journal.append_batch(uri, run.id, "w:1:a", seq, {"m": make_series("m", [seq, seq + 0.5])}, None)
    with open(journal.path, "ab") as f:
        f.write(b"AQJ1\x10\x00")                                  # a kill while appending
    shutil.copy(journal.path, tmp_path / "copy.journal")
    assert journal.replay(store) == 3
    assert Journal(str(tmp_path / "copy.journal")).replay(store) == 3  # a replay whose commit was in doubt
    assert store.history(run.id)["m"].values.tolist() == [0, 0.5, 1, 1.5, 2, 2.5]


def test_journal_is_private(flaky, tmp_path):
    journal = Journal(str(tmp_path / "spool" / "x.journal"))
    journal.append_update("postgresql://u:secret@h/db", "run", status="completed")
    assert oct(os.stat(journal.path).st_mode & 0o777) == "0o600"


def test_flush_fails_clearly_when_the_journal_cannot_be_written_either(flaky, tmp_path, monkeypatch):
    uri, folder = flaky
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("AQUARIUM_SPOOL", str(blocker / "spool"))  # a file where the folder should be
    run = aquarium.start_run(store=uri, capture_source=False, flush_interval=0.05, spool_after=0.2)
    (folder / "OUTAGE").write_text("")
    run.log({"x": 1.0})
    from aquarium.tracking import SpoolError

    with pytest.raises(SpoolError, match="journal"):
        run.flush()
    os.unlink(folder / "OUTAGE")
    run.finish()                                                 # the store is back: nothing was lost
    assert aquarium.open_store(uri).history(run.id)["x"].values.tolist() == [1.0]
