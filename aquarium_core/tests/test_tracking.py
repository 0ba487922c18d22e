"""The tracking API in one process: what is logged reads back exactly."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

import aquarium


def test_log_and_read_back_exactly(tmp_path):
    with aquarium.start_run(name="resnet18-lr0.1", experiment="cifar10", group="lr-sweep",
                            params={"lr": 0.1, "optimizer": {"name": "sgd", "momentum": 0.9}},
                            tags={"team": "vision"}, notes="baseline", store=tmp_path) as run:
        for step in range(1000):
            run.log({"loss": 1 / (step + 1), "acc": step / 1000}, step=step)
        run.log({"loss": math.nan})            # step 1000, auto
        run.log({"loss": math.inf, "acc": -math.inf})  # step 1001
        run.log_params({"epochs": 10})
        run.set_tags({"stage": "final"})
        run.set_notes("done")
    assert run.status == "completed"
    store = aquarium.open_store(tmp_path)
    got = store.get_run(run.id)
    assert (got.name, got.experiment, got.group, got.status) == ("resnet18-lr0.1", "cifar10", "lr-sweep", "completed")
    assert got.params == {"lr": 0.1, "optimizer": {"name": "sgd", "momentum": 0.9}, "epochs": 10}
    assert got.tags == {"team": "vision", "stage": "final"}
    assert got.notes == "done" and got.ended >= got.started
    history = store.history(run.id)
    assert history["loss"].steps.tolist() == list(range(1002))
    assert history["loss"].values[:1000].tolist() == [1 / (s + 1) for s in range(1000)]
    assert math.isnan(history["loss"].values[1000]) and history["loss"].values[1001] == math.inf
    assert history["acc"].steps.tolist() == [*range(1000), 1001]
    assert np.all(np.diff(history["loss"].timestamps) >= 0)
    assert got.summaries["loss"].min == 1 / 1000 and got.summaries["loss"].last == math.inf


def test_steps_auto_increment_and_out_of_order_steps_are_kept(run_factory, aquarium_store):
    run = run_factory()
    run.log({"x": 1.0})
    run.log({"x": 2.0})
    run.log({"x": 3.0}, step=10)
    run.log({"x": 4.0})
    run.log({"x": 5.0}, step=2)
    run.log({"x": 6.0}, step=2)
    run.flush()
    series = aquarium_store.history(run.id)["x"]
    assert series.steps.tolist() == [0, 1, 10, 11, 2, 2]
    assert series.values.tolist() == [1, 2, 3, 4, 5, 6]
    assert aquarium_store.summaries(run.id)["x"].last == 6.0


def test_key_sets_may_change_and_order_of_keys_does_not_matter(run_factory, aquarium_store):
    run = run_factory()
    run.log({"a": 1.0, "b": 2.0}, step=0)
    run.log({"b": 3.0, "a": 4.0}, step=1)
    run.log({"c": 5.0}, step=2)
    run.log({"a": 6.0, "c": 7.0}, step=3)
    run.flush()
    h = aquarium_store.history(run.id)
    assert h["a"].values.tolist() == [1, 4, 6] and h["a"].steps.tolist() == [0, 1, 3]
    assert h["b"].values.tolist() == [2, 3]
    assert h["c"].values.tolist() == [5, 7] and h["c"].steps.tolist() == [2, 3]


def test_user_mutating_its_dict_after_log_changes_nothing(run_factory, aquarium_store):
    run = run_factory()
    metrics = {"x": 1.0}
    run.log(metrics)
    metrics["x"] = 99.0
    run.flush()
    assert aquarium_store.history(run.id)["x"].values.tolist() == [1.0]


def test_exception_marks_failed_and_propagates(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with aquarium.start_run(store=tmp_path, capture_source=False) as run:
            run.log({"x": 1.0})
            1 / 0
    got = aquarium.open_store(tmp_path).get_run(run.id)
    assert got.status == "failed" and got.error.startswith("ZeroDivisionError: division by zero")
    assert len(aquarium.open_store(tmp_path).history(run.id)["x"]) == 1


def test_keyboard_interrupt_marks_killed(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with aquarium.start_run(store=tmp_path, capture_source=False) as run:
            run.log({"x": 1.0})
            raise KeyboardInterrupt
    assert aquarium.open_store(tmp_path).get_run(run.id).status == "killed"


def test_finish_without_with_block(tmp_path):
    run = aquarium.start_run(store=tmp_path, capture_source=False)
    run.log({"x": 1.0})
    run.finish(status="failed", error="custom")
    run.finish()  # a second finish is a no-op
    got = aquarium.open_store(tmp_path).get_run(run.id)
    assert (got.status, got.error) == ("failed", "custom")
    with pytest.raises(RuntimeError, match="finished"):
        run.log({"x": 2.0})
    with pytest.raises(ValueError, match="status"):
        aquarium.start_run(store=tmp_path, capture_source=False).finish(status="crashed")


def test_resume_adds_data_but_not_status(tmp_path):
    owner = aquarium.start_run(store=tmp_path, capture_source=False)
    owner.log({"loss": 1.0}, step=0)
    owner.flush()
    other = aquarium.resume_run(owner.id, store=tmp_path)
    other.log({"grad_norm": 3.0})  # continues after the last stored step
    other.finish()
    store = aquarium.open_store(tmp_path)
    assert store.get_run(owner.id).status == "running"
    owner.finish()
    assert store.get_run(owner.id).status == "completed"
    assert store.history(owner.id)["grad_norm"].steps.tolist() == [1]
    with pytest.raises(aquarium.RunNotFoundError, match="nope"):
        aquarium.resume_run("nope", store=tmp_path)


def test_flush_waits_for_commit_and_thread_writes_on_interval(run_factory, aquarium_store):
    run = run_factory(flush_interval=0.05)
    run.log({"x": 1.0})
    deadline = time.monotonic() + 10
    while not aquarium_store.summaries(run.id) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert aquarium_store.summaries(run.id)["x"].count == 1  # the background thread committed it


def test_bounded_buffer_blocks_instead_of_growing(run_factory, aquarium_store):
    run = run_factory(flush_interval=10.0, flush_every=100, max_buffer=1000)
    for step in range(20_000):
        run.log({"x": float(step)}, step=step)
        assert len(run._buffer) <= 1000
    run.flush()
    assert aquarium_store.summaries(run.id)["x"].count == 20_000


def test_log_from_several_threads(run_factory, aquarium_store):
    run = run_factory()

    def worker(k):
        for step in range(2000):
            run.log({f"t{k}": float(step)}, step=step)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.flush()
    h = aquarium_store.history(run.id)
    assert all(h[f"t{k}"].values.tolist() == list(map(float, range(2000))) for k in range(4))


def test_artifacts_and_models(run_factory, aquarium_store, tmp_path):
    run = run_factory()
    (tmp_path / "confusion.png").write_bytes(b"\x89PNG fake")
    model_dir = tmp_path / "saved"
    (model_dir / "variables").mkdir(parents=True)
    (model_dir / "saved_model.pb").write_bytes(b"pb")
    (model_dir / "variables" / "v.data").write_bytes(b"data")
    run.log_artifact(tmp_path / "confusion.png")
    run.log_model(tmp_path / "confusion.png", framework="torch", name="model.pt")
    run.log_model(model_dir, framework="tensorflow")
    got = {a.name: a for a in aquarium_store.get_run(run.id).artifacts}
    assert set(got) == {"confusion.png", "model.pt", "saved/saved_model.pb", "saved/variables/v.data"}
    assert got["model.pt"].kind == "model" and got["model.pt"].metadata == {"framework": "torch"}
    assert aquarium_store.read_artifact(run.id, "saved/variables/v.data") == b"data"
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        run.log_artifact(tmp_path / "missing.bin")
    with pytest.raises(ValueError, match="climbs out"):
        run.log_artifact(tmp_path / "confusion.png", name="../escape.png")


def test_direction_override_is_stored(run_factory, aquarium_store):
    run = run_factory()
    run.set_direction("score", "min")
    assert aquarium_store.get_run(run.id).directions == {"score": "min"}
    with pytest.raises(ValueError, match="'score'"):
        run.set_direction("score", "up")


def test_source_is_captured_once_per_process(tmp_path):
    from aquarium import source

    source._capture.cache_clear()
    with aquarium.start_run(store=tmp_path) as first:
        pass
    with aquarium.start_run(store=tmp_path) as second:
        pass
    assert source._capture.cache_info().misses == 1
    got = aquarium.open_store(tmp_path).get_run(second.id).source
    assert got.host and got.python and got.command
    assert aquarium.open_store(tmp_path).get_run(first.id).source == got
    with aquarium.start_run(store=tmp_path, capture_source=False) as third:
        pass
    assert aquarium.open_store(tmp_path).get_run(third.id).source is None


def test_run_started_and_finished_events_reach_plugins(tmp_path):
    from aquarium import plugins

    seen = []

    class Listener:
        @aquarium.hookimpl
        def aquarium_run_started(self, run):
            seen.append(("started", run.status))

        @aquarium.hookimpl
        def aquarium_run_finished(self, run):
            seen.append(("finished", run.status))

    listener = Listener()
    plugins.plugin_manager().register(listener)
    try:
        with aquarium.start_run(store=tmp_path, capture_source=False):
            pass
    finally:
        plugins.plugin_manager().unregister(listener)
    assert seen == [("started", "running"), ("finished", "completed")]


@pytest.mark.parametrize("kwargs, match", [
    ({"name": ""}, "name"), ({"name": 5}, "name"), ({"params": {"lr": float("nan")}}, "'lr'"),
    ({"tags": {"t": [1]}}, "'t'"), ({"flush_interval": 0}, "flush_interval"),
])
def test_bad_start_arguments(tmp_path, kwargs, match):
    with pytest.raises((TypeError, ValueError), match=match):
        aquarium.start_run(store=tmp_path, capture_source=False, **kwargs)
