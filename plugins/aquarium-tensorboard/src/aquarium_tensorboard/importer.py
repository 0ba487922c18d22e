"""Import any TensorBoard logdir, read with TensorBoard's own reader.

One Aquarium run per run directory (a directory holding event files), named after its path
relative to the logdir; the source id is that relative path. An hparams sub-run (a child
directory holding only hparams data, as ``add_hparams`` of tensorboardX and PyTorch writes
it) is merged into its parent. Every point of every scalar is kept, whether logged as a
legacy ``simple_value`` (float32) or as a scalar tensor (float64 stays exact), at its event's
step and wall time. When the run holds ``aquarium/run.json`` (an Aquarium export), the typed
record in it is read first and taken as is.

Events are read with ``tensorboard.backend.event_processing.event_file_loader`` (the
record reader behind ``EventAccumulator``), without the accumulator's reservoir sampling.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from typing import Any

import attrs
import numpy as np

from aquarium import interop
from aquarium.ids import new_run_id
from aquarium.interfaces import Importer
from aquarium.interop import RunBundle, SourceRun
from aquarium.model import Artifact, MetricSeries, RunRecord

from ._common import (
    ARTIFACTS_DIR,
    DT_DOUBLE,
    DT_FLOAT,
    DT_STRING,
    HPARAMS_PLUGIN,
    IMAGES_PLUGIN,
    NOTES_TAG,
    RUN_JSON_TAG,
    SCALARS_PLUGIN,
    STAGING_PREFIX,
    TEXT_PLUGIN,
    artifact_path,
    event_files,
    require,
    safe,
)

#: A child run directory whose event files are larger than this is never an hparams sub-run
#: (those hold a few summaries); smaller ones may be read whole during discovery.
SMALL = 1 << 20
#: The HParams plugin's session status → Aquarium status.
STATUS = {1: "completed", 2: "failed", 3: "running"}
_TEXT_SUFFIX = "/text_summary"  # what tensorboardX and PyTorch append to text tags


@attrs.define
class Contents:
    """What the event files of one run directory hold."""

    scalars: dict[str, tuple[list[int], list[float], list[float]]] = attrs.field(factory=dict)
    texts: dict[str, list[tuple[int, str]]] = attrs.field(factory=dict)
    images: list[tuple[str, int, float, bytes]] = attrs.field(factory=list)
    params: dict[str, Any] = attrs.field(factory=dict)
    session: bool = False  # has the HParams plugin's session_start_info
    status: str | None = None
    run_json: str | None = None
    other: int = 0  # values of kinds not imported (histograms, audio, ...)
    first_time: float | None = None
    last_time: float | None = None


class TensorBoardImporter(Importer):
    name = "tensorboard"
    description = "TensorBoard logdirs (tensorboardX, PyTorch, Keras, TensorFlow): every scalar point"
    source_help = "a TensorBoard logdir; each directory holding event files becomes one run"

    def discover(self, source: str, **options: Any) -> list[SourceRun]:
        require("tensorboard", "tensorboard")
        if not os.path.isdir(source):
            what = "is not a folder" if os.path.exists(source) else "does not exist"
            raise FileNotFoundError(f"TensorBoard logdir {source!r} {what}")
        runs = run_directories(source)
        kinds = {}
        for rel, files in runs.items():
            parent = _parent(rel)
            may_merge = parent in runs and sum(os.path.getsize(f) for f in files) <= SMALL
            kinds[rel] = probe(files, may_merge)
        children: dict[str, list[str]] = {}
        for rel, kind in kinds.items():
            if kind == "hparams":
                children.setdefault(_parent(rel) or ".", []).append(rel)
        merged = {parent: kids for parent, kids in children.items() if len(kids) == 1}
        absorbed = {kid for kids in merged.values() for kid in kids}
        found = []
        for rel in runs:
            if rel in absorbed or (kinds[rel] == "empty" and rel not in merged):
                continue  # merged, or nothing but the file header (or an hparams experiment definition)
            name = rel if rel != "." else os.path.basename(os.path.abspath(source)) or "."
            found.append(SourceRun(rel, name, {"merge": merged.get(rel, [])}))
        return found

    def read(self, item: SourceRun, source: str, **options: Any) -> RunBundle:
        folder = os.path.join(source, *item.source_id.split("/"))
        contents = read_contents(event_files(folder))
        for child in item.extra.get("merge", []):
            _merge(contents, read_contents(event_files(os.path.join(source, *child.split("/")))))
        if contents.run_json is not None:
            return _aquarium_bundle(contents, folder)
        return _foreign_bundle(contents, item, source)


# -- discovery ----------------------------------------------------------------------------------
def run_directories(source: str) -> dict[str, list[str]]:
    """Relative path (``/``-separated, ``"."`` for the logdir itself) → event files, for every
    directory holding event files. Export staging folders and artifact folders are skipped."""
    from ._common import is_event_file

    out: dict[str, list[str]] = {}
    for folder, dirs, files in os.walk(source):
        events = sorted(os.path.join(folder, f) for f in files if is_event_file(f))
        dirs[:] = sorted(d for d in dirs if not d.startswith(STAGING_PREFIX) and d != ARTIFACTS_DIR)
        if events:
            rel = os.path.relpath(folder, source).replace(os.sep, "/")
            out[rel] = events
    return out


def _parent(rel: str) -> str | None:
    if rel == ".":
        return None
    head = rel.rpartition("/")[0]
    return head or "."


# -- reading events -----------------------------------------------------------------------------
def records(path: str) -> Iterator[bytes]:
    """The serialized events of one event file, through TensorBoard's record reader."""
    loader = require("tensorboard.backend.event_processing.event_file_loader", "tensorboard")
    return loader.RawEventFileLoader(path).Load()


def probe(files: list[str], may_merge: bool) -> str:
    """What a run directory holds, reading no further than needed: ``"empty"`` (no data),
    ``"hparams"`` (only hparams data, when ``may_merge``: an hparams session and at most one
    point per scalar) or ``"data"``."""
    event_pb2 = require("tensorboard.compat.proto.event_pb2", "tensorboard")
    plugin_data_pb2 = require("tensorboard.plugins.hparams.plugin_data_pb2", "tensorboard")
    plugins: dict[str, str] = {}
    seen: set[str] = set()
    session = False
    for path in files:
        for raw in records(path):
            for value in event_pb2.Event.FromString(raw).summary.value:
                tag = value.tag
                plugin = plugins.setdefault(tag, value.metadata.plugin_data.plugin_name)
                kind = value.WhichOneof("value")
                if plugin == HPARAMS_PLUGIN:
                    data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
                    session = session or data.WhichOneof("data") == "session_start_info"
                elif kind == "simple_value" or (kind == "tensor" and plugin in (SCALARS_PLUGIN, "")):
                    if not may_merge or tag in seen:
                        return "data"
                    seen.add(tag)
                else:
                    return "data"
    if session:
        return "hparams" if may_merge else "data"
    return "data" if seen else "empty"


def read_run_json_head(files: list[str], limit: int = 4) -> tuple[RunRecord, dict[str, MetricSeries]] | None:
    """The ``aquarium/run.json`` among the first ``limit`` events of each file, or ``None``."""
    event_pb2 = require("tensorboard.compat.proto.event_pb2", "tensorboard")
    for path in files:
        for i, raw in enumerate(records(path)):
            if i >= limit:
                break
            for value in event_pb2.Event.FromString(raw).summary.value:
                if value.tag == RUN_JSON_TAG:
                    return interop.load_run_json(value.tensor.string_val[0].decode("utf-8"))
    return None


def read_contents(files: list[str]) -> Contents:
    """Everything importable in these event files (read in order; nothing sampled away)."""
    event_pb2 = require("tensorboard.compat.proto.event_pb2", "tensorboard")
    tensor_util = require("tensorboard.util.tensor_util", "tensorboard")
    plugin_data_pb2 = require("tensorboard.plugins.hparams.plugin_data_pb2", "tensorboard")
    parse = event_pb2.Event.FromString
    out = Contents()
    scalars = out.scalars
    plugins: dict[str, str] = {}  # tag → plugin of its first metadata
    first_time = last_time = None
    for path in files:
        for raw in records(path):
            event = parse(raw)
            wall = event.wall_time
            if first_time is None or wall < first_time:
                first_time = wall
            if last_time is None or wall > last_time:
                last_time = wall
            if not event.HasField("summary"):
                continue
            step = event.step
            for value in event.summary.value:
                tag = value.tag
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    number = value.simple_value
                elif kind == "tensor":
                    plugin = plugins.get(tag)
                    if plugin is None:
                        plugin = plugins[tag] = value.metadata.plugin_data.plugin_name
                    tensor = value.tensor
                    if plugin == SCALARS_PLUGIN or plugin == "":
                        number = _scalar(tensor, tensor_util)
                        if number is None:
                            out.other += 1
                            continue
                    elif plugin == TEXT_PLUGIN:
                        text = "\n".join(_strings(tensor, tensor_util))
                        if tag == RUN_JSON_TAG:
                            out.run_json = text
                        else:
                            out.texts.setdefault(tag, []).append((step, text))
                        continue
                    elif plugin == IMAGES_PLUGIN:
                        for blob in _strings(tensor, tensor_util, decode=False)[2:]:
                            out.images.append((tag, step, wall, blob))
                        continue
                    elif plugin == HPARAMS_PLUGIN:
                        _hparams(value.metadata.plugin_data.content, plugin_data_pb2, out)
                        continue
                    else:
                        out.other += 1
                        continue
                elif kind == "image":
                    out.images.append((tag, step, wall, value.image.encoded_image_string))
                    continue
                elif value.metadata.plugin_data.plugin_name == HPARAMS_PLUGIN:
                    _hparams(value.metadata.plugin_data.content, plugin_data_pb2, out)
                    continue
                else:
                    out.other += 1
                    continue
                points = scalars.get(tag)
                if points is None:
                    points = scalars[tag] = ([], [], [])
                points[0].append(step)
                points[1].append(number)
                points[2].append(wall)
    out.first_time, out.last_time = first_time, last_time
    return out


def _scalar(tensor: Any, tensor_util: Any) -> float | None:
    """The number in a one-element numeric tensor (as ``tensor_util.make_ndarray`` gives it)."""
    dtype = tensor.dtype
    if dtype == DT_DOUBLE and len(tensor.double_val) == 1 and not tensor.tensor_shape.dim:
        return tensor.double_val[0]
    if dtype == DT_FLOAT and len(tensor.float_val) == 1 and not tensor.tensor_shape.dim:
        return tensor.float_val[0]
    try:
        array = tensor_util.make_ndarray(tensor)
    except Exception:
        return None
    if array.size != 1 or array.dtype.kind not in "biuf":
        return None
    return float(array.reshape(()))


def _strings(tensor: Any, tensor_util: Any, decode: bool = True) -> list[Any]:
    """The strings of a string tensor, flattened (``make_ndarray(...).reshape(-1)``)."""
    if tensor.dtype == DT_STRING:
        items = list(tensor.string_val)
    else:
        items = tensor_util.make_ndarray(tensor).reshape(-1).tolist()
    return [i.decode("utf-8", "replace") if decode and isinstance(i, bytes) else i for i in items]


def _hparams(content: bytes, plugin_data_pb2: Any, out: Contents) -> None:
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    which = data.WhichOneof("data")
    if which == "session_start_info":
        out.session = True
        for key, value in data.session_start_info.hparams.items():
            out.params[key] = _param(value)
    elif which == "session_end_info":
        out.status = STATUS.get(data.session_end_info.status, out.status)


def _param(value: Any) -> Any:
    """An hparam (``google.protobuf.Value``) as a param. Numbers come as floats; whole ones
    become ints (batch sizes, epochs), since TensorBoard keeps no int type."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        number = value.number_value
        if not math.isfinite(number):
            return str(number)
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    return None


def _merge(parent: Contents, child: Contents) -> None:
    """Merge an hparams sub-run into its parent: its params, status and final metrics."""
    parent.params.update(child.params)
    parent.session = True
    parent.status = child.status or parent.status
    for tag, points in child.scalars.items():
        key = tag
        while key in parent.scalars:
            key = "hparams/" + key
        parent.scalars[key] = points
    times = [t for t in (parent.first_time, child.first_time) if t is not None]
    parent.first_time = min(times, default=None)
    times = [t for t in (parent.last_time, child.last_time) if t is not None]
    parent.last_time = max(times, default=None)


# -- bundles ------------------------------------------------------------------------------------
def _history(contents: Contents) -> dict[str, MetricSeries]:
    return {tag: MetricSeries(tag, np.array(steps, dtype=np.int64), np.array(values, dtype=np.float64),
                              np.array(times, dtype=np.float64))
            for tag, (steps, values, times) in contents.scalars.items()}


def _aquarium_bundle(contents: Contents, folder: str) -> RunBundle:
    """A run exported by Aquarium: the typed record, the exact float64 points, the files."""
    record, history = interop.load_run_json(contents.run_json or "")
    if not history:
        history = _history(contents)
    files = {}
    for artifact in record.artifacts:
        path = artifact_path(folder, artifact.name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"artifact {artifact.name!r} of run {record.name!r} is missing: {path}")
        files[artifact.name] = path
    return RunBundle(record, history, files)


def _foreign_bundle(contents: Contents, item: SourceRun, source: str) -> RunBundle:
    """A run written by another tool: scalars, hparams, text (as notes), images (as artifacts)."""
    begin = contents.first_time if contents.first_time is not None else 0.0
    notes = []
    for tag, texts in contents.texts.items():
        title = tag[: -len(_TEXT_SUFFIX)] if tag.endswith(_TEXT_SUFFIX) else tag
        if title == NOTES_TAG and len(texts) == 1:
            notes.append(texts[0][1])
            continue
        body = texts[0][1] if len(texts) == 1 else "\n\n".join(f"step {s}: {t}" for s, t in texts)
        notes.append(f"## {title}\n\n{body}")
    record = RunRecord(
        id=new_run_id(), name=item.name,
        experiment=os.path.basename(os.path.abspath(source)) or "tensorboard",
        status=contents.status or "completed", created=begin, started=begin, ended=contents.last_time,
        params={k: v for k, v in contents.params.items() if v is not None}, notes="\n\n".join(notes),
    )
    files: dict[str, str] = {}
    if contents.images:
        folder = tempfile.mkdtemp(prefix="aquarium-tensorboard-")
        names: set[str] = set()
        for tag, step, wall, blob in contents.images:
            base = "tensorboard/images/" + "/".join(safe(p) for p in tag.split("/") if p) + f"/step-{step}"
            name, n = base + _extension(blob), 1
            while name in names:
                n += 1
                name = f"{base}-{n}{_extension(blob)}"
            names.add(name)
            path = os.path.join(folder, f"{len(files)}{_extension(blob)}")
            with open(path, "wb") as f:
                f.write(blob)
            files[name] = path
            record.artifacts.append(Artifact(name, len(blob), "", "file", {"tensorboard_tag": tag, "step": step},
                                             wall))
        bundle = RunBundle(record, _history(contents), files)
        weakref.finalize(bundle, shutil.rmtree, folder, True)  # the files live as long as the bundle
        return bundle
    return RunBundle(record, _history(contents), files)


def _extension(blob: bytes) -> str:
    if blob[:8] == b"\x89PNG\r\n\x1a\n":
        return ".png"
    if blob[:2] == b"\xff\xd8":
        return ".jpg"
    if blob[:4] == b"GIF8":
        return ".gif"
    return ".bin"
