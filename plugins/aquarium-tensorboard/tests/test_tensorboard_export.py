"""Export: event files written with tensorboardX, read back with TensorBoard's EventAccumulator."""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import pytest
from click.testing import CliRunner

import aquarium
from aquarium import interop
from aquarium.cli import cli
from aquarium.errors import AquariumError
from aquarium.model import MetricSeries
from aquarium_tensorboard._common import run_dirname
from aquarium_tensorboard.exporter import TensorBoardExporter, image_size

EXACT = [0.1, 1 / 3, -0.0, math.nan, math.inf, -math.inf, 1e39, 1e-300, 5e-324, 1.7976931348623157e308, 2.0**60]


def _event_files(folder):
    return sorted(f for f in os.listdir(folder) if "tfevents" in f)


def _only_dir(logdir):
    (entry,) = [e for e in os.listdir(logdir) if not e.startswith(".")]
    return os.path.join(logdir, entry)


def test_every_point_float64_exact_at_its_step_and_time(put_run, store, tmp_path, accumulate):
    n = 25_000  # more than EventAccumulator's default reservoir of 10,000 scalars per tag
    rng = np.random.default_rng(7)
    steps = np.arange(n, dtype=np.int64) * 3 + 2**40
    times = 1.7e9 + np.cumsum(rng.random(n))
    values = rng.standard_normal(n) * 1e10
    values[: len(EXACT)] = EXACT
    other_times = times.copy()
    other_times[::2] += 0.5  # a second key that shares only some events with the first
    history = {"train/loss": MetricSeries("train/loss", steps, values, times),
               "val/acc": MetricSeries("val/acc", steps[:100], values[:100] / 2, other_times[:100]),
               "repeat": MetricSeries("repeat", [5, 5, 3, 9], [1.0, 2.0, 3.0, 4.0], [1.7e9, 1.7e9, 1.6e9, 1.8e9])}
    run_id = put_run(history, name="exact")
    (result,) = aquarium.export([run_id], "tensorboard", to=str(tmp_path / "logs"), store=store)
    assert result.status == "ok", result.error
    assert result.points == n + 104
    folder = _only_dir(tmp_path / "logs")
    assert result.target_id == os.path.abspath(folder)
    assert len(_event_files(folder)) == 1

    acc = accumulate(folder)
    tags = acc.Tags()
    assert set(history) <= set(tags["tensors"])
    assert tags["scalars"] == []  # nothing goes through the float32 path
    for key, series in history.items():
        assert acc.SummaryMetadata(key).plugin_data.plugin_name == "scalars"
        events = acc.Tensors(key)
        from tensorboard.util import tensor_util

        back = np.array([tensor_util.make_ndarray(e.tensor_proto).item() for e in events])
        assert [e.step for e in events] == series.steps.tolist()
        assert [e.wall_time for e in events] == series.timestamps.tolist()
        assert back.dtype == np.float64
        assert [repr(v) for v in back.tolist()] == [repr(v) for v in series.values.tolist()]
        assert all(math.copysign(1, a) == math.copysign(1, b) for a, b in zip(back, series.values))


def test_hparams_text_and_images_in_the_run_own_folder(put_run, store, tmp_path, accumulate, png):
    from tensorboard.plugins.hparams import plugin_data_pb2

    image = png(3, 2)
    run_id = put_run({"loss": MetricSeries("loss", [0, 1], [0.5, 0.25], [1.7e9, 1.7e9 + 1])},
                     files={"plots/curve.png": image, "model.pt": b"weights"},
                     kinds={"model.pt": ("model", {"framework": "torch"})},
                     name="hp run", params={"lr": 0.001, "opt": {"name": "adam"}, "bs": 32, "aug": True,
                                            "layers": [64, 32], "none": None},
                     notes="# Notes\nwith *markdown*", status="failed", error="ValueError: boom")
    aquarium.export([run_id], "tensorboard", to=str(tmp_path / "logs"), store=store)
    folder = _only_dir(tmp_path / "logs")
    # no sub-run: the only folder besides the event file holds the artifact files
    assert {e for e in os.listdir(folder) if "tfevents" not in e} == {"aquarium-artifacts"}
    assert [d for d, _, files in os.walk(folder) if any("tfevents" in f for f in files)] == [folder]
    with open(os.path.join(folder, "aquarium-artifacts", "model.pt"), "rb") as f:
        assert f.read() == b"weights"

    acc = accumulate(folder)
    content = acc.PluginTagToContent("hparams")
    assert set(content) == {"_hparams_/session_start_info", "_hparams_/session_end_info"}
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = {k: v for k, v in start.session_start_info.hparams.items()}
    assert {k: v.WhichOneof("kind") for k, v in hparams.items()} == {
        "lr": "number_value", "opt.name": "string_value", "bs": "number_value", "aug": "bool_value",
        "layers": "string_value"}
    assert hparams["lr"].number_value == 0.001 and hparams["layers"].string_value == "[64, 32]"
    assert start.session_start_info.start_time_secs == 1.7e9
    end = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_end_info"])
    assert end.session_end_info.status == 2  # STATUS_FAILURE
    assert end.session_end_info.end_time_secs == 1.7e9 + 60

    def text(tag):
        from tensorboard.util import tensor_util

        (event,) = acc.Tensors(tag)
        return tensor_util.make_ndarray(event.tensor_proto).item().decode()

    assert set(acc.PluginTagToContent("text")) == {"aquarium/run.json", "aquarium/params", "aquarium/notes"}
    assert text("aquarium/notes") == "# Notes\nwith *markdown*"
    assert "| opt.name | \"adam\" |" in text("aquarium/params")
    record, history = interop.load_run_json(text("aquarium/run.json"))
    assert record.id == run_id and record.error == "ValueError: boom" and history == {}
    assert {a.name: a.metadata for a in record.artifacts}["model.pt"] == {"framework": "torch"}

    (shown,) = acc.Images("aquarium/artifacts/plots/curve.png")
    assert shown.encoded_image_string == image and (shown.width, shown.height) == (3, 2)
    assert acc.Tags()["images"] == ["aquarium/artifacts/plots/curve.png"]


def test_re_export_replaces_the_event_files(put_run, store, tmp_path, accumulate):
    run_id = put_run({"loss": MetricSeries("loss", [0, 1, 2], [3.0, 2.0, 1.0], [1.7e9, 1.7e9 + 1, 1.7e9 + 2])},
                     name="again")
    logs = str(tmp_path / "logs")
    for _ in range(3):
        (result,) = aquarium.export([run_id], "tensorboard", to=logs, store=store)
        assert result.status == "ok", result.error
    assert os.listdir(logs) == [run_dirname("again", run_id)]  # no staging folder left over
    folder = _only_dir(logs)
    assert len(_event_files(folder)) == 1
    assert [e.step for e in accumulate(folder).Tensors("loss")] == [0, 1, 2]  # not 9 points

    store.update_run(run_id, notes="changed")
    aquarium.export([run_id], "tensorboard", to=logs, store=store)
    assert "aquarium/notes" in accumulate(_only_dir(logs)).PluginTagToContent("text")
    assert store.get_run(run_id).tags["aquarium.exported.tensorboard"] == os.path.abspath(folder)


def test_a_renamed_run_replaces_its_earlier_folder(put_run, store, tmp_path):
    run_id = put_run({"x": MetricSeries("x", [0], [1.0], [1.7e9])}, name="before")
    other = put_run({"x": MetricSeries("x", [0], [1.0], [1.7e9])}, name="bystander")
    logs = str(tmp_path / "logs")
    aquarium.export([run_id, other], "tensorboard", to=logs, store=store)
    assert run_dirname("before", run_id) in os.listdir(logs)
    # the store's rename path is not part of this test: export the same id under a new name
    record = store.get_run(run_id)
    bundle = interop.RunBundle(record, store.history(run_id), {})
    record.name = "after"
    TensorBoardExporter().export_run(bundle, logs)
    assert sorted(os.listdir(logs)) == sorted([run_dirname("after", run_id), run_dirname("bystander", other)])


def test_an_export_that_fails_leaves_the_previous_one_intact(put_run, store, tmp_path, accumulate):
    run_id = put_run({"loss": MetricSeries("loss", [0], [1.0], [1.7e9])}, name="safe", files={"a.txt": b"a"})
    logs = str(tmp_path / "logs")
    aquarium.export([run_id], "tensorboard", to=logs, store=store)
    record = store.get_run(run_id)
    bundle = interop.RunBundle(record, {"loss": MetricSeries("loss", [0, 1], [1.0, 2.0], [1.7e9] * 2)},
                               {"a.txt": str(tmp_path / "gone.txt")})
    with pytest.raises(FileNotFoundError):
        TensorBoardExporter().export_run(bundle, logs)
    assert os.listdir(logs) == [run_dirname("safe", run_id)]
    assert [e.step for e in accumulate(_only_dir(logs)).Tensors("loss")] == [0]


def test_directory_names_are_safe_stable_and_unique():
    assert run_dirname("lr=0.1 / bs 32", "01hzzzzzzzzzzzzzzzzzabcdefgh") == "lr_0.1_bs_32-abcdefgh"
    assert run_dirname("..", "x" * 26) == "run-xxxxxxxx"
    assert run_dirname("ünïcode: ok?", "0" * 18 + "abcdefgh") == "ünïcode_ok_-abcdefgh"
    assert len(run_dirname("n" * 500, "a" * 26)) == 60 + 1 + 8


def test_metric_keys_that_take_an_export_tag_are_refused(put_run, store, tmp_path):
    run_id = put_run({"aquarium/notes": MetricSeries("aquarium/notes", [0], [1.0], [1.7e9])}, name="clash")
    (result,) = aquarium.export([run_id], "tensorboard", to=str(tmp_path / "logs"), store=store)
    assert result.status == "failed" and "'aquarium/notes'" in result.error


def test_check_names_the_missing_package(monkeypatch, tmp_path):
    with monkeypatch.context() as patch:
        patch.setitem(sys.modules, "tensorboardX", None)  # what `import tensorboardX` meets when absent
        with pytest.raises(AquariumError, match=r"pip install tensorboardX"):
            TensorBoardExporter().check(str(tmp_path))
    (tmp_path / "afile").write_text("")
    with pytest.raises(ValueError, match="is a file"):
        TensorBoardExporter().check(str(tmp_path / "afile"))


def test_export_with_a_missing_library_fails_before_any_run(monkeypatch, put_run, store, tmp_path):
    run_id = put_run({"x": MetricSeries("x", [0], [1.0], [1.7e9])})
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(AquariumError, match=r"pip install tensorboard"):
        aquarium.export([run_id], "tensorboard", to=str(tmp_path / "logs"), store=store)
    assert not (tmp_path / "logs").exists()


def test_cli_export(put_run, store, tmp_path):
    run_id = put_run({"x": MetricSeries("x", [0, 1], [1.0, 2.0], [1.7e9, 1.7e9 + 1])}, name="cli")
    result = CliRunner().invoke(cli, ["export", "tensorboard", run_id, "--to", str(tmp_path / "logs"),
                                      "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.output
    assert "cli" in result.output
    assert os.listdir(tmp_path / "logs") == [run_dirname("cli", run_id)]


def test_image_size_reads_png_and_jpeg_headers(png):
    assert image_size(png(7, 5)) == (7, 5, 3)
    jpeg = (b"\xff\xd8" + b"\xff\xe0" + (16).to_bytes(2, "big") + b"JFIF\x00" + b"\x00" * 9
            + b"\xff\xc0" + (17).to_bytes(2, "big") + b"\x08" + (5).to_bytes(2, "big") + (7).to_bytes(2, "big")
            + b"\x03" + b"\x00" * 9 + b"\xff\xd9")
    assert image_size(jpeg) == (7, 5, 3)
    assert image_size(b"not an image") is None


def test_the_run_json_text_is_valid_json(put_run, store, tmp_path, accumulate):
    from tensorboard.util import tensor_util

    run_id = put_run({"x": MetricSeries("x", [0], [math.nan], [1.7e9])}, params={"a": 1})
    aquarium.export([run_id], "tensorboard", to=str(tmp_path / "logs"), store=store)
    (event,) = accumulate(_only_dir(tmp_path / "logs")).Tensors("aquarium/run.json")
    data = json.loads(tensor_util.make_ndarray(event.tensor_proto).item())
    assert data["format"] == interop.RUN_JSON_FORMAT and data["record"]["id"] == run_id
