"""What a person sees: a real TensorBoard server (started and stopped here, on 127.0.0.1) over
an exported logdir. Its Scalars, HParams, Text and Images tabs answer from our event files."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

import aquarium
from aquarium.model import MetricSeries
from aquarium_tensorboard._common import run_dirname

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def tensorboard():
    """Start ``tensorboard --logdir DIR`` on a free loopback port; yields a GET/POST helper."""
    procs = []

    def start(logdir: str, expect_runs: int):
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--host", "127.0.0.1", "--port",
             str(port), "--load_fast=false", "--reload_interval=1"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"

        def call(path: str, body: dict | None = None, raw: bool = False):
            data = None if body is None else json.dumps(body).encode()
            request = urllib.request.Request(base + path, data=data, headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=30) as response:
                payload = response.read()
            return payload if raw else json.loads(payload)

        deadline = time.monotonic() + 90
        while True:  # bounded: the server starts, then loads the logdir in the background
            assert proc.poll() is None, "tensorboard exited"
            try:
                runs = call("/data/runs")
                tags = call("/data/plugin/scalars/tags")
                if len(runs) == expect_runs and all(tags.get(r) for r in runs):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "tensorboard did not load the logdir in 90 s"
            time.sleep(0.3)
        return call

    yield start
    for proc in procs:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_tensorboard_shows_scalars_hparams_text_and_images(put_run, store, tmp_path, tensorboard, png):
    image = png(5, 4)
    first = put_run({"loss": MetricSeries("loss", [0, 10, 20], [1 / 3, 0.1, 2.0**-40], [1.7e9, 1.7e9 + 1, 1.7e9 + 2]),
                     "acc": MetricSeries("acc", [0, 10, 20], [0.5, 0.75, 0.875], [1.7e9, 1.7e9 + 1, 1.7e9 + 2])},
                    name="first", params={"lr": 0.1, "opt": {"name": "sgd"}}, notes="first *notes*",
                    files={"confusion.png": image})
    second = put_run({"loss": MetricSeries("loss", [0, 5], [2.0, 0.5], [1.7e9, 1.7e9 + 1]),
                      "f1": MetricSeries("f1", [5], [0.7], [1.7e9 + 1])},
                     name="second", params={"lr": 0.01, "bs": 64, "aug": True}, status="failed")
    logdir = str(tmp_path / "logs")
    aquarium.export([first], "tensorboard", to=logdir, store=store)
    aquarium.export([second], "tensorboard", to=logdir, store=store)  # a later export into the same logdir
    a, b = run_dirname("first", first), run_dirname("second", second)
    call = tensorboard(logdir, expect_runs=2)

    # Scalars tab: every point, float64 values, steps and wall times as logged
    assert call("/data/plugin/scalars/scalars?" + urllib.parse.urlencode({"run": a, "tag": "loss"})) == [
        [1.7e9, 0, 1 / 3], [1.7e9 + 1, 10, 0.1], [1.7e9 + 2, 20, 2.0**-40]]
    assert set(call("/data/plugin/scalars/tags")[b]) == {"loss", "f1"}

    # HParams tab: both runs' params (not only one run's) against their final metrics
    experiment = call("/data/plugin/hparams/experiment", {"experimentName": ""})
    assert {h["name"] for h in experiment["hparamInfos"]} == {"lr", "opt.name", "bs", "aug"}
    assert {m["name"]["tag"] for m in experiment["metricInfos"]} == {"loss", "acc", "f1"}
    groups = call("/data/plugin/hparams/session_groups", {
        "experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE",
                                                  "STATUS_RUNNING"],
        "colParams": [{"hparam": "lr"}, {"metric": {"tag": "loss", "group": ""}}],
        "startIndex": 0, "sliceSize": 100, "aggregationType": "AGGREGATION_AVG"})
    by_name = {g["name"]: g for g in groups["sessionGroups"]}
    assert by_name[a]["hparams"] == {"lr": 0.1, "opt.name": "sgd"}
    assert by_name[b]["hparams"] == {"lr": 0.01, "bs": 64.0, "aug": True}
    assert {m["name"]["tag"]: m["value"] for m in by_name[a]["metricValues"]} == {"loss": 2.0**-40, "acc": 0.875}
    assert by_name[b]["sessions"][0]["status"] == "STATUS_FAILURE"
    assert by_name[a]["sessions"][0]["status"] == "STATUS_SUCCESS"

    # Text tab: params table, notes, the typed record
    assert set(call("/data/plugin/text/tags")[a]) == {"aquarium/run.json", "aquarium/params", "aquarium/notes"}
    (notes,) = call("/data/plugin/text/text?" + urllib.parse.urlencode({"run": a, "tag": "aquarium/notes"}))
    assert "<em>notes</em>" in notes["text"]

    # Images tab: the PNG artifact, byte for byte
    tag = "aquarium/artifacts/confusion.png"
    (shown,) = call("/data/plugin/images/images?" + urllib.parse.urlencode({"run": a, "tag": tag}))
    assert call("/data/plugin/images/individualImage?" + shown["query"], raw=True) == image
    assert not [d for d in os.listdir(logdir) if d.startswith(".")]
