"""Import of runs written by W&B's own client (not by us), read back from their ``.wandb`` files."""

from __future__ import annotations

import math
import os
import time

import pytest

import aquarium
from aquarium_wandb.importer import MISSING_TAG, SKIPPED_TAG, WandbImporter, status_of
from aquarium_wandb.records import find_run_files, read_run_file

NATIVE = """
t0 = __import__("time").time()
run = wandb.init(project="native-proj", name="resnet run", group="g", notes="by hand", tags=["baseline", "v2"],
                 config={"lr": 0.01, "model": {"depth": 18, "act": "relu"}, "nanny": float("nan")},
                 dir=os.environ["OUT"], settings=SETTINGS)
for s in range(0, 50, 2):
    run.log({"loss": 1.0 / (s + 1), "train/acc": s / 100}, step=s)
    if s % 10 == 0:
        run.log({"val/loss": 0.5 + s}, step=s)  # same step: W&B merges it into the step's row
run.log({"sample": "some text", "hist": wandb.Histogram([1, 2, 3]), "nested": {"a": 1.5}, "flag": True,
         "img": wandb.Image(__import__("numpy").zeros((4, 4, 3), dtype="uint8"))}, step=60)
run.summary["test_acc"] = 0.93
run.summary["best"] = {"loss": 0.01}
with open("model.pt", "wb") as f:
    f.write(b"torch weights")
art = wandb.Artifact("resnet", type="model", metadata={"framework": "torch"})
art.add_file("model.pt")
run.log_artifact(art)
ds = wandb.Artifact("data", type="dataset")
with open("a.csv", "w") as f:
    f.write("x\\n1\\n")
with open("b.csv", "w") as f:
    f.write("x\\n2\\n")
ds.add_file("a.csv")
ds.add_file("b.csv", name="sub/b.csv")
run.log_artifact(ds)
run.config.update({"late": 7})
run.finish()
print(json.dumps({"id": run.id, "t0": t0, "t1": __import__("time").time()}))
"""


def _native(runner, folder):
    folder.mkdir()
    return runner(NATIVE, folder), folder


@pytest.fixture(scope="module")
def native(tmp_path_factory, wandb_offline_env, native_runner):
    """One run written by W&B's client, shared by the tests that only read it."""
    return _native(native_runner, tmp_path_factory.mktemp("shared") / "native")


def test_a_native_run_imports(native, store):
    info, folder = native
    (result,) = aquarium.import_runs("wandb", str(folder), store=store)
    assert result.status == "ok", result.error
    assert result.target_id == info["id"]
    run = store.get_run(result.run_id)
    assert run.name == "resnet run" and run.experiment == "native-proj" and run.group == "g"
    assert run.notes == "by hand" and run.status == "completed"
    assert run.tags["baseline"] == "" and run.tags["v2"] == ""
    assert run.tags["aquarium.source"] == f"wandb:{info['id']}"
    # W&B writes a NaN in config as null
    assert run.params == {"lr": 0.01, "model": {"depth": 18, "act": "relu"}, "nanny": None, "late": 7}
    assert info["t0"] - 1 <= run.started <= info["t1"] and run.started <= run.ended <= info["t1"] + 1
    assert run.source is not None and run.source.host

    history = store.history(run.id)
    steps = list(range(0, 50, 2))
    assert history["loss"].steps.tolist() == steps  # steps from _step
    assert history["loss"].values.tolist() == [1.0 / (s + 1) for s in steps]
    assert history["train/acc"].values.tolist() == [s / 100 for s in steps]
    assert history["val/loss"].steps.tolist() == [0, 10, 20, 30, 40]
    stamps = history["loss"].timestamps
    assert (info["t0"] <= stamps).all() and (stamps <= info["t1"]).all() and (stamps[1:] >= stamps[:-1]).all()
    assert history["val/loss"].timestamps.tolist() == [t for s, t in zip(steps, stamps.tolist()) if s % 10 == 0]
    assert history["flag"].values.tolist() == [1.0] and history["nested.a"].values.tolist() == [1.5]
    # summary-only numbers: one point at the last step
    assert history["test_acc"].steps.tolist() == [60] and history["test_acc"].values.tolist() == [0.93]
    assert history["best.loss"].values.tolist() == [0.01]
    assert "sample" not in history and "hist" not in history
    assert run.tags[SKIPPED_TAG] == "hist, img, sample"
    assert not [k for k in history if k.startswith(("hist", "img"))]

    arts = {a.name: a for a in run.artifacts}
    assert set(arts) == {"model.pt", "data/a.csv", "data/sub/b.csv"}
    assert arts["model.pt"].kind == "model" and arts["model.pt"].metadata == {"framework": "torch"}
    assert arts["data/a.csv"].kind == "file" and arts["data/a.csv"].metadata == {"wandb.type": "dataset"}
    assert store.read_artifact(run.id, "model.pt") == b"torch weights"
    assert store.read_artifact(run.id, "data/sub/b.csv") == b"x\n2\n"


def test_import_twice_never_duplicates(native, store):
    _, folder = native
    (first,) = aquarium.import_runs("wandb", str(folder), store=store)
    (again,) = aquarium.import_runs("wandb", str(folder), store=store)
    assert first.status == "ok" and again.status == "exists" and again.run_id == first.run_id
    assert len(store.list_runs()) == 1


def test_source_experiment_and_destination_experiment(native, store):
    _, folder = native
    assert aquarium.import_runs("wandb", str(folder), store=store, source_experiment="other") == []
    (result,) = aquarium.import_runs("wandb", str(folder), store=store, source_experiment="native-proj",
                                     experiment="imported")
    assert store.get_run(result.run_id).experiment == "imported"


def test_missing_artifact_bytes_are_reported_not_silent(tmp_path, store, native_runner):
    """After `wandb sync` W&B deletes its staging copies: the run imports, the loss is tagged."""
    _, folder = _native(native_runner, tmp_path / "own")  # its own run: this test deletes files
    (path,) = find_run_files(folder)
    for entry in read_run_file(path, history=False).artifacts:
        if entry.path == "model.pt":
            os.remove(entry.local_path)
    (result,) = aquarium.import_runs("wandb", str(folder), store=store)
    run = store.get_run(result.run_id)
    assert run.tags[MISSING_TAG] == "model.pt"
    assert {a.name for a in run.artifacts} == {"data/a.csv", "data/sub/b.csv"}


def test_failed_killed_and_crashed_runs(native_run, tmp_path, store, monkeypatch):
    monkeypatch.setenv("AQUARIUM_HEARTBEAT_TIMEOUT", "0.5")  # the crash's last write is seconds old
    for name, ending in [("failed", "run.finish(exit_code=3)"), ("killed", "raise KeyboardInterrupt  # EXPECT_FAIL"),
                         ("crashed", "os._exit(0)  # EXPECT_FAIL")]:
        # W&B writes its file block by block: a hard crash keeps what filled whole blocks
        native_run(f"""
run = wandb.init(project="p", name="{name}", dir=os.environ["OUT"], settings=SETTINGS)
for i in range(3000 if "{name}" == "crashed" else 2):
    run.log({{"x": float(i)}})
__import__("time").sleep(0.5)
{ending}
""", tmp_path)
    results = aquarium.import_runs("wandb", str(tmp_path / "wandb"), store=store)
    status = {r.run_name: store.get_run(r.run_id).status for r in results}
    assert status == {"failed": "failed", "killed": "killed", "crashed": "crashed"}
    assert store.get_run(next(r.run_id for r in results if r.run_name == "killed")).ended is not None
    crashed = store.get_run(next(r.run_id for r in results if r.run_name == "crashed"))
    assert crashed.ended is None and crashed.heartbeat is not None
    values = store.history(crashed.id)["x"].values.tolist()
    assert 1000 < len(values) <= 3000 and values == [float(i) for i in range(len(values))]
    assert status_of(0) == "completed" and status_of(143) == "killed" and status_of(2) == "failed"


def test_a_resumed_run_in_two_folders_is_one_run(native_run, tmp_path, store):
    native_run("""
run = wandb.init(project="p", id="resumed1", name="long", dir=os.environ["OUT"], config={"a": 1}, settings=SETTINGS)
for s in range(3):
    run.log({"loss": float(s)}, step=s)
run.finish(exit_code=1)
run = wandb.init(project="p", id="resumed1", resume="allow", dir=os.environ["OUT"], settings=SETTINGS)
run.config.update({"b": 2})
for s in range(3, 6):
    run.log({"loss": float(s)}, step=s)
run.finish()
""", tmp_path)
    assert len(find_run_files(tmp_path)) == 2
    (found,) = WandbImporter().discover(str(tmp_path))
    assert found.source_id == "resumed1" and len(found.extra["files"]) == 2
    (result,) = aquarium.import_runs("wandb", str(tmp_path), store=store)
    run = store.get_run(result.run_id)
    assert run.status == "completed" and run.params == {"a": 1, "b": 2}
    assert store.history(run.id)["loss"].steps.tolist() == list(range(6))


def test_many_rows_import_exactly(native_run, tmp_path, store):
    """Every value and step of a longer run, compared with what the script logged."""
    info = native_run("""
import random
rng = random.Random(7)
rows = [{f"m{i}": rng.uniform(-1e6, 1e6) for i in range(5)} for _ in range(2000)]
run = wandb.init(project="p", dir=os.environ["OUT"], settings=SETTINGS)
for s, row in enumerate(rows):
    run.log(row, step=3 * s)
run.finish()
print(json.dumps({"rows": rows}))
""", tmp_path)
    start = time.perf_counter()
    (result,) = aquarium.import_runs("wandb", str(tmp_path), store=store)
    assert time.perf_counter() - start < 60
    history = store.history(result.run_id)
    for i in range(5):
        assert history[f"m{i}"].steps.tolist() == [3 * s for s in range(2000)]
        assert history[f"m{i}"].values.tolist() == [row[f"m{i}"] for row in info["rows"]]
    assert result.points == 10_000


def test_an_online_runs_transaction_log_imports_too(native, store, tmp_path):
    """Online runs keep the same .wandb file (in run-<time>-<id>/): any run file is read."""
    info, folder = native
    (path,) = find_run_files(folder)
    online = tmp_path / "elsewhere" / "wandb" / f"run-20250101_000000-{info['id']}"
    online.mkdir(parents=True)
    os.link(path, online / os.path.basename(path))
    (result,) = aquarium.import_runs("wandb", str(tmp_path / "elsewhere"), store=store)
    assert result.status == "ok" and math.isclose(store.history(result.run_id)["loss"].values[0], 1.0)
