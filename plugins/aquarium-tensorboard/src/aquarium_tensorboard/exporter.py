"""Export Aquarium runs as TensorBoard event files written with tensorboardX.

One folder per run, ``<logdir>/<safe name>-<id suffix>/``, holding one event file and the
artifact files (``aquarium-artifacts/<name>``). In the event file:

- every metric point as a float64 (``DT_DOUBLE``) scalar tensor for the scalars plugin, at
  its own step and wall time: lossless, and TensorBoard's Scalars tab shows it; points
  logged together (same step and time) share one event;
- the HParams plugin's session data (``tensorboardX.summary.hparams``) in the run's own
  folder, so the HParams tab lists the run's params beside its metrics;
- the params (a Markdown table), the notes and the typed record ``aquarium/run.json`` as
  text summaries; image artifacts (PNG, JPEG) as image summaries.

An export is built in a hidden staging folder and swapped in when complete, so exporting
again replaces the run's event files (never appends) and an export that died halfway leaves
the previous one intact.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import struct
import time
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from aquarium import interop
from aquarium.interfaces import Exporter
from aquarium.interop import RunBundle, TransferResult
from aquarium.model import MetricSeries, RunRecord
from aquarium.validation import flatten

from ._common import (
    DT_DOUBLE,
    EVENT_FILE_SUFFIX,
    HPARAMS_PLUGIN,
    IMAGE_TAG_PREFIX,
    NOTES_TAG,
    PARAMS_TAG,
    RUN_JSON_TAG,
    SCALARS_PLUGIN,
    STAGING_PREFIX,
    artifact_path,
    event_files,
    id_suffix,
    require,
    run_dirname,
)

#: Aquarium status → the HParams plugin's session status (``api.proto``'s ``Status`` has no
#: "aborted": a killed run is ``STATUS_UNKNOWN``).
SESSION_STATUS = {"completed": "STATUS_SUCCESS", "failed": "STATUS_FAILURE", "crashed": "STATUS_FAILURE",
                  "killed": "STATUS_UNKNOWN", "running": "STATUS_RUNNING"}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")


class TensorBoardExporter(Exporter):
    name = "tensorboard"
    description = "TensorBoard event files (tensorboardX): float64 scalars, hparams, text, images"
    target_help = "a TensorBoard logdir (created if missing); each run becomes <logdir>/<name>-<id suffix>/"

    def check(self, to: str, **options: Any) -> None:
        require("tensorboardX", "tensorboardX")
        require("tensorboard", "tensorboard")
        if os.path.exists(to) and not os.path.isdir(to):
            raise ValueError(f"export target {to!r} is a file, not a TensorBoard logdir (a folder)")

    def export_run(self, bundle: RunBundle, to: str, **options: Any) -> TransferResult:
        self.check(to)
        record = bundle.record
        _check_tags(bundle)
        os.makedirs(to, exist_ok=True)
        final = os.path.join(to, run_dirname(record.name, record.id))
        staging = os.path.join(to, f"{STAGING_PREFIX}staging-{id_suffix(record.id)}")
        shutil.rmtree(staging, ignore_errors=True)  # left by an export that died
        os.makedirs(staging)
        try:
            write_events(bundle, staging)
            for name, path in bundle.artifact_files.items():
                dest = artifact_path(staging, name)
                os.makedirs(os.path.dirname(dest), exist_ok=True)
                shutil.copyfile(path, dest)
            _swap_in(staging, final, to, record.id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return TransferResult(record.id, record.name, self.name, os.path.abspath(final), bundle.points,
                              len(bundle.artifact_files))


# -- the event file -----------------------------------------------------------------------------
def write_events(bundle: RunBundle, folder: str) -> str:
    """Write the run's one event file into ``folder``; returns its path."""
    record_writer = require("tensorboardX.record_writer", "tensorboardX")
    event_pb2 = require("tensorboardX.proto.event_pb2", "tensorboardX")
    summary_pb2 = require("tensorboardX.proto.summary_pb2", "tensorboardX")
    summary = require("tensorboardX.summary", "tensorboardX")
    Event, Summary = event_pb2.Event, summary_pb2.Summary

    record = bundle.record
    begin = record.started if record.started is not None else record.created
    path = os.path.join(folder, f"events.out.tfevents.{int(time.time()):010d}{EVENT_FILE_SUFFIX}")
    writer = record_writer.RecordWriter(path)
    write = writer.write

    def put(summary_proto: Any, wall_time: float, step: int = 0) -> None:
        write(Event(wall_time=wall_time, step=step, summary=summary_proto).SerializeToString())

    try:
        write(Event(wall_time=begin, file_version="brain.Event:2").SerializeToString())
        # The typed record first, so readers find it in the first records. The points are not
        # repeated in it: the float64 tensors below hold them exactly.
        put(_text(summary, RUN_JSON_TAG, interop.dump_run_json(RunBundle(record, {}))), begin)
        start, end = _hparams(summary, record)
        put(start, begin)
        params = flatten(record.params)
        if params:
            put(_text(summary, PARAMS_TAG, _params_table(params)), begin)
        if record.notes:
            put(_text(summary, NOTES_TAG, record.notes), begin)
        for event in _metric_events(bundle.history, Event, summary_pb2):
            write(event)
        for artifact in record.artifacts:
            image = _image(bundle.artifact_files.get(artifact.name), artifact.name, Summary)
            if image is not None:
                put(Summary(value=[Summary.Value(tag=IMAGE_TAG_PREFIX + artifact.name, image=image)]),
                    artifact.created)
        put(end, record.ended if record.ended is not None else _last_time(bundle.history, begin))
        writer.flush()
    finally:
        writer.close()
    return path


def _metric_events(history: Mapping[str, MetricSeries], Event: Any, summary_pb2: Any) -> Iterator[bytes]:
    """Serialized events holding every point as a float64 scalar tensor.

    Points of different keys that share a step and a wall time go into one event (keys
    logged together in one call). Each key's points keep their logging order in the file.
    """
    series = [s for s in history.values() if len(s)]
    if not series:
        return
    steps = np.concatenate([s.steps for s in series])
    times = np.concatenate([s.timestamps for s in series])
    values = np.concatenate([s.values for s in series])
    which = np.repeat(np.arange(len(series)), [len(s) for s in series])
    if all(bool(np.all(np.diff(s.timestamps) >= 0)) for s in series):
        order = np.argsort(times, kind="stable")  # interleave keys by time, each key in order
        steps, times, values, which = steps[order], times[order], values[order], which[order]
    starts = np.flatnonzero(np.concatenate([[True], (steps[1:] != steps[:-1]) | (times[1:] != times[:-1])]))
    bounds = np.append(starts, len(steps)).tolist()
    metadata = summary_pb2.SummaryMetadata(plugin_data=summary_pb2.SummaryMetadata.PluginData(
        plugin_name=SCALARS_PLUGIN))
    tags = [s.key for s in series]
    first = [True] * len(series)
    steps_l, times_l, values_l, which_l = steps.tolist(), times.tolist(), values.tolist(), which.tolist()
    for a, b in itertools.pairwise(bounds):
        event = Event(wall_time=times_l[a], step=steps_l[a])
        add = event.summary.value.add
        for j in range(a, b):
            k = which_l[j]
            value = add(tag=tags[k])
            if first[k]:  # TensorBoard keeps the first metadata of a tag; once is enough
                value.metadata.CopyFrom(metadata)
                first[k] = False
            tensor = value.tensor
            tensor.dtype = DT_DOUBLE
            tensor.double_val.append(values_l[j])
        yield event.SerializeToString()


def _text(summary: Any, tag: str, text: str) -> Any:
    """A text-plugin summary (``tensorboardX.summary.text``) under exactly ``tag``."""
    proto = summary.text(tag, text)
    proto.value[0].tag = tag  # tensorboardX appends "/text_summary"
    return proto


def _params_table(params: Mapping[str, Any]) -> str:
    def cell(text: str) -> str:
        return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")

    rows = [f"| {cell(k)} | {cell(json.dumps(v, ensure_ascii=False))} |" for k, v in params.items()]
    return "\n".join(["| param | value |", "| --- | --- |", *rows])


def _hparams(summary: Any, record: RunRecord) -> tuple[Any, Any]:
    """The HParams plugin's session summaries (start, end), built by ``tensorboardX.summary.hparams``.

    Its third summary, the experiment definition, is left out on purpose: TensorBoard uses
    the experiment of one run it picks arbitrarily, which would hide the params and metrics
    of every other run in the logdir; without one, it builds the experiment from all runs'
    sessions and scalars, so runs exported into one logdir at different times all show.

    Params are flattened with dots; numbers, strings and booleans are shown as they are,
    other values (lists, empty dicts) as JSON text; ``None`` is left out (as tensorboardX
    does). The session gets the run's start time, its status and (once ended) its end time.
    """
    plugin_data_pb2 = require("tensorboardX.proto.plugin_hparams_pb2", "tensorboardX")
    api_pb2 = require("tensorboardX.proto.api_pb2", "tensorboardX")
    shown = {}
    for key, value in flatten(record.params).items():
        if value is None:
            continue
        shown[key] = value if isinstance(value, (bool, int, float, str)) else json.dumps(value, ensure_ascii=False)
    _experiment, start, end = summary.hparams(shown, {})  # metrics: TensorBoard finds the run's scalars
    begin = record.started if record.started is not None else record.created

    def edit(proto: Any, change: Any) -> Any:
        value = proto.value[0]
        data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
        change(data)
        value.metadata.plugin_data.content = data.SerializeToString()
        assert value.metadata.plugin_data.plugin_name == HPARAMS_PLUGIN
        return proto

    def on_start(data: Any) -> None:
        data.session_start_info.start_time_secs = begin

    start = edit(start, on_start)
    status = SESSION_STATUS.get(record.status, "STATUS_UNKNOWN")

    def on_end(data: Any) -> None:
        data.session_end_info.status = api_pb2.Status.Value(status)
        if record.ended is not None:
            data.session_end_info.end_time_secs = record.ended

    return start, edit(end, on_end)


def _last_time(history: Mapping[str, MetricSeries], default: float) -> float:
    times = [float(s.timestamps[-1]) for s in history.values() if len(s)]
    return max(times, default=default)


# -- images -------------------------------------------------------------------------------------
def _image(path: str | None, name: str, Summary: Any) -> Any:
    """An image summary of a PNG or JPEG artifact, or ``None`` (other files, unreadable images)."""
    if path is None or not name.lower().endswith(IMAGE_EXTENSIONS):
        return None
    with open(path, "rb") as f:
        data = f.read()
    size = image_size(data)
    if size is None:
        return None
    width, height, channels = size
    return Summary.Image(width=width, height=height, colorspace=channels, encoded_image_string=data)


def image_size(data: bytes) -> tuple[int, int, int] | None:
    """(width, height, channels) of PNG or JPEG bytes, read from their headers; else ``None``."""
    if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR" and len(data) >= 26:
        width, height = struct.unpack(">II", data[16:24])
        channels = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}.get(data[25], 3)
        return width, height, channels
    if data[:2] == b"\xff\xd8":
        pos = 2
        while pos + 4 <= len(data):
            if data[pos] != 0xFF:
                return None
            marker = data[pos + 1]
            if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
                pos += 2
                continue
            (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
            if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC) and pos + 10 <= len(data):
                height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
                return width, height, data[pos + 9]
            pos += 2 + length
    return None


# -- files --------------------------------------------------------------------------------------
def _check_tags(bundle: RunBundle) -> None:
    """A metric key may not take a tag the export uses for something else."""
    reserved = {RUN_JSON_TAG, PARAMS_TAG, NOTES_TAG} | {IMAGE_TAG_PREFIX + a.name for a in bundle.record.artifacts}
    for key in bundle.history:
        if key in reserved or key.startswith("_hparams_/"):
            raise ValueError(f"metric key {key!r} is a tag the TensorBoard export uses itself; rename the metric")


def _swap_in(staging: str, final: str, to: str, run_id: str) -> None:
    """Replace the run's folder with the finished staging folder; drop earlier exports of the
    same run under another name (the run was renamed)."""
    from .importer import read_run_json_head

    suffix = "-" + id_suffix(run_id)
    old = os.path.join(to, f"{STAGING_PREFIX}replaced-{id_suffix(run_id)}")
    shutil.rmtree(old, ignore_errors=True)
    if os.path.isdir(final):
        os.rename(final, old)
    os.rename(staging, final)
    shutil.rmtree(old, ignore_errors=True)
    for entry in os.listdir(to):
        other = os.path.join(to, entry)
        if other == final or not entry.endswith(suffix) or not os.path.isdir(other):
            continue
        found = read_run_json_head(event_files(other))
        if found is not None and found[0].id == run_id:
            shutil.rmtree(other)
