"""Import: logdirs written by PyTorch, tensorboardX and TensorBoard's TF-free writer (the TF2 /
Keras event format), compared with what TensorBoard's own EventAccumulator reads."""

from __future__ import annotations

import os

import numpy as np
import pytest
from click.testing import CliRunner

import aquarium
from aquarium.cli import cli
from aquarium.stores.sqlite import SQLiteStore
from aquarium_tensorboard.importer import TensorBoardImporter, _scalar


def _import(logdir, store_path, **options):
    results = aquarium.import_runs("tensorboard", str(logdir), store=str(store_path), progress=False, **options)
    assert all(r.status in ("ok", "exists") for r in results), [r.error for r in results]
    return results


def _runs(store_path):
    store = SQLiteStore(str(store_path))
    return {r.name: store.get_run(r.id) for r in store.list_runs()}, store


def test_pytorch_summary_writer_logdir(tmp_path, accumulate):
    """PyTorch's own SummaryWriter: add_scalar (float32 and float64 styles), add_text and
    add_hparams, whose sub-run is merged into the run."""
    from torch.utils.tensorboard import SummaryWriter

    logdir = tmp_path / "runs"
    rng = np.random.default_rng(3)
    losses = rng.random(12_000) * 10  # beyond EventAccumulator's default reservoir (10,000)
    exact = rng.standard_normal(50)
    with SummaryWriter(log_dir=str(logdir / "exp1")) as writer:
        for step, value in enumerate(losses.tolist()):
            writer.add_scalar("train/loss", value, step, walltime=1.7e9 + step / 10)
        for step, value in enumerate(exact.tolist()):
            writer.add_scalar("lr", value, step * 10, new_style=True, double_precision=True)
        writer.add_text("config", "lr: 0.001\nbatch: 32", 0)
        writer.add_hparams({"lr": 0.001, "bs": 32, "opt": "adam", "aug": True},
                           {"hparam/accuracy": 0.9, "hparam/loss": 0.1})
    (child,) = [d for d in os.listdir(logdir / "exp1") if os.path.isdir(logdir / "exp1" / d)]  # the sub-run

    results = _import(logdir, tmp_path / "store")
    assert [r.run_name for r in results] == ["exp1"]
    runs, store = _runs(tmp_path / "store")
    run = runs["exp1"]
    assert run.params == {"lr": 0.001, "bs": 32, "opt": "adam", "aug": True}
    assert run.experiment == "runs" and run.status == "completed"
    assert "## config" in run.notes and "batch: 32" in run.notes
    history = store.history(run.id)
    assert set(history) == {"train/loss", "lr", "hparam/accuracy", "hparam/loss"}

    acc = accumulate(logdir / "exp1")
    events = acc.Scalars("train/loss")
    assert len(events) == 12_000 == len(history["train/loss"])
    assert history["train/loss"].steps.tolist() == [e.step for e in events]
    assert history["train/loss"].values.tolist() == [e.value for e in events]  # float32, as TensorBoard has it
    assert history["train/loss"].values.tolist() == [float(np.float32(v)) for v in losses]
    assert history["train/loss"].timestamps.tolist() == [e.wall_time for e in events]
    assert history["lr"].values.tolist() == exact.tolist()  # PyTorch's double_precision: exact
    assert history["lr"].steps.tolist() == list(range(0, 500, 10))
    assert history["hparam/accuracy"].values.tolist() == [pytest.approx(0.9)]
    hp = accumulate(logdir / "exp1" / child)
    assert history["hparam/loss"].values.tolist() == [e.value for e in hp.Scalars("hparam/loss")]
    assert run.started == events[0].wall_time == 1.7e9  # the earliest event (others are at real time)
    assert run.ended == max(e.wall_time for e in hp.Scalars("hparam/loss"))  # the sub-run came last


def test_import_twice_never_duplicates(tmp_path):
    from tensorboardX import SummaryWriter

    for name in ("a", "b/c"):
        with SummaryWriter(logdir=str(tmp_path / "logs" / name)) as writer:
            for step in range(5):
                writer.add_scalar("x", step, step)
    first = _import(tmp_path / "logs", tmp_path / "store")
    assert sorted(r.run_name for r in first) == ["a", "b/c"]
    again = _import(tmp_path / "logs", tmp_path / "store")
    assert {r.status for r in again} == {"exists"}
    runs, _store = _runs(tmp_path / "store")
    assert sorted(runs) == ["a", "b/c"]
    assert runs["b/c"].tags["aquarium.source"] == "tensorboard:b/c"


def test_tensorboardx_add_hparams_sub_run_is_merged(tmp_path):
    from tensorboardX import SummaryWriter

    with SummaryWriter(logdir=str(tmp_path / "logs" / "trial")) as writer:
        for step in range(3):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_hparams({"lr": 0.1, "layers": 4, "act": "relu"}, {"loss": 0.33}, name="hp")
    _import(tmp_path / "logs", tmp_path / "store")
    runs, store = _runs(tmp_path / "store")
    assert list(runs) == ["trial"]
    assert runs["trial"].params == {"lr": 0.1, "layers": 4, "act": "relu"}
    history = store.history(runs["trial"].id)
    assert history["loss"].steps.tolist() == [0, 1, 2]  # the run's own loss is untouched
    assert history["hparams/loss"].values.tolist() == [pytest.approx(0.33)]  # the sub-run's, renamed


def test_several_add_hparams_calls_stay_separate_runs(tmp_path):
    """The pattern of PyTorch's add_hparams docstring: one writer, one sub-run per trial."""
    from torch.utils.tensorboard import SummaryWriter

    with SummaryWriter(log_dir=str(tmp_path / "logs")) as writer:
        for i in range(3):
            writer.add_hparams({"lr": 0.1 * i, "bsize": i}, {"hparam/accuracy": 10 * i}, run_name=f"trial{i}")
    results = _import(tmp_path / "logs", tmp_path / "store")
    assert sorted(r.run_name for r in results) == ["trial0", "trial1", "trial2"]  # the empty root is no run
    runs, store = _runs(tmp_path / "store")
    assert runs["trial2"].params == {"lr": pytest.approx(0.2), "bsize": 2}
    assert store.history(runs["trial2"].id)["hparam/accuracy"].values.tolist() == [20.0]


def test_tf2_keras_style_logdir(tmp_path, accumulate):
    """The TF2 event format (scalar float32 tensors, metadata on the first point only), written
    with TensorBoard's TF-free writer in Keras's layout (train/ and validation/), plus the
    HParams tutorial's layout: an experiment definition at the root, one folder per trial."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import summary_v2 as hp
    from tensorboard.summary import Writer
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    logdir = tmp_path / "keras"
    for split in ("train", "validation"):
        writer = Writer(str(logdir / "fit" / split))
        for epoch in range(20):
            writer.add_scalar("epoch_loss", 1.0 / (epoch + 1), epoch, wall_time=1.7e9 + epoch)
        writer.close()
    root = EventFileWriter(str(logdir / "tuning"))
    root.add_event(event_pb2.Event(wall_time=1.7e9, summary=hp.hparams_config_pb(
        hparams=[hp.HParam("units"), hp.HParam("dropout")], metrics=[hp.Metric("accuracy")])))
    root.close()
    for trial, (units, dropout) in enumerate([(16, 0.1), (32, 0.2)]):
        folder = logdir / "tuning" / f"run-{trial}"
        writer = EventFileWriter(str(folder))
        writer.add_event(event_pb2.Event(wall_time=1.7e9, summary=hp.hparams_pb({"units": units,
                                                                                "dropout": dropout})))
        writer.close()
        writer = Writer(str(folder))
        for step in range(3):
            writer.add_scalar("accuracy", 0.5 + trial / 10 + step / 100, step, wall_time=1.7e9 + step)
        writer.close()

    results = _import(logdir, tmp_path / "store")
    assert sorted(r.run_name for r in results) == ["fit/train", "fit/validation", "tuning/run-0", "tuning/run-1"]
    runs, store = _runs(tmp_path / "store")
    train = store.history(runs["fit/train"].id)["epoch_loss"]
    from tensorboard.util import tensor_util

    events = accumulate(logdir / "fit" / "train").Tensors("epoch_loss")
    assert train.values.tolist() == [tensor_util.make_ndarray(e.tensor_proto).item() for e in events]
    assert train.steps.tolist() == list(range(20)) and train.timestamps.tolist() == [1.7e9 + e for e in range(20)]
    assert runs["tuning/run-1"].params == {"units": 32, "dropout": 0.2}
    assert store.history(runs["tuning/run-1"].id)["accuracy"].values.tolist() == pytest.approx([0.6, 0.61, 0.62])


def test_images_text_and_other_kinds(tmp_path, png):
    from tensorboardX import SummaryWriter
    from tensorboardX.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboardX.proto.tensor_pb2 import TensorProto
    from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto

    first, second = png(2, 2), png(4, 1, (0, 0, 255))
    with SummaryWriter(logdir=str(tmp_path / "logs" / "vis")) as writer:
        legacy = Summary.Image(height=2, width=2, colorspace=3, encoded_image_string=first)
        writer.file_writer.add_summary(Summary(value=[Summary.Value(tag="samples/input", image=legacy)]), 7)
        md = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="images"))
        tensor = TensorProto(dtype=7, string_val=[b"4", b"1", second],  # the TF2 image format
                             tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=3)]))
        writer.file_writer.add_summary(Summary(value=[Summary.Value(tag="gen", metadata=md, tensor=tensor)]), 3)
        writer.add_histogram("weights", np.arange(10.0), 0)  # not imported, and no error
        writer.add_text("notes", "plain notes", 0)
        writer.add_scalar("x", 1.0, 0)
    _import(tmp_path / "logs", tmp_path / "store")
    runs, store = _runs(tmp_path / "store")
    run = runs["vis"]
    assert {a.name: a.metadata for a in run.artifacts} == {
        "tensorboard/images/samples/input/step-7.png": {"tensorboard_tag": "samples/input", "step": 7},
        "tensorboard/images/gen/step-3.png": {"tensorboard_tag": "gen", "step": 3}}
    assert store.read_artifact(run.id, "tensorboard/images/samples/input/step-7.png") == first
    assert store.read_artifact(run.id, "tensorboard/images/gen/step-3.png") == second
    assert run.notes == "## notes\n\nplain notes"
    assert list(store.history(run.id)) == ["x"]


def test_a_truncated_event_file_imports_its_complete_records(tmp_path, accumulate):
    """A writer killed mid-record: like TensorBoard, read up to the last complete record."""
    from tensorboardX import SummaryWriter

    with SummaryWriter(logdir=str(tmp_path / "logs" / "killed")) as writer:
        for step in range(10):
            writer.add_scalar("x", float(step), step)
    (path,) = [p for p in (tmp_path / "logs" / "killed").iterdir() if "tfevents" in p.name]
    path.write_bytes(path.read_bytes()[:-5])
    _import(tmp_path / "logs", tmp_path / "store")
    runs, store = _runs(tmp_path / "store")
    steps = store.history(runs["killed"].id)["x"].steps.tolist()
    assert steps == list(range(9)) == [e.step for e in accumulate(tmp_path / "logs" / "killed").Scalars("x")]


def test_scalar_fast_path_equals_make_ndarray():
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.util import tensor_util

    protos = [TensorProto(dtype=2, double_val=[0.1]), TensorProto(dtype=1, float_val=[0.1])]
    for value in (np.float16(0.1), np.int64(2**40), np.float32(1e-3), np.float64(np.pi), np.bool_(True),
                  np.array([2.5], dtype=np.float32), np.array([[7]], dtype=np.int32)):
        protos.append(tensor_util.make_tensor_proto(value))
    for proto in protos:
        assert _scalar(proto, tensor_util) == tensor_util.make_ndarray(proto).item()
    assert _scalar(tensor_util.make_tensor_proto(np.arange(3.0)), tensor_util) is None
    assert _scalar(tensor_util.make_tensor_proto(np.array(b"text")), tensor_util) is None


def test_missing_logdir_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        TensorBoardImporter().discover(str(tmp_path / "nowhere"))


def test_cli_import_and_destination_experiment(tmp_path):
    from tensorboardX import SummaryWriter

    with SummaryWriter(logdir=str(tmp_path / "logs" / "r1")) as writer:
        writer.add_scalar("x", 1.0, 0)
    result = CliRunner().invoke(cli, ["import", "tensorboard", str(tmp_path / "logs"), "--experiment", "imported",
                                      "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    runs, _ = _runs(tmp_path / "store")
    assert runs["r1"].experiment == "imported"
