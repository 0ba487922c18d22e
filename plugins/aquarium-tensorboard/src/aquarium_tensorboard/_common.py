"""What the exporter and the importer share: tag names, folder names, library checks."""

from __future__ import annotations

import importlib
import os
import re
from types import ModuleType

from aquarium.errors import AquariumError

#: The typed record of the run (``aquarium.interop.dump_run_json``), a text summary.
RUN_JSON_TAG = "aquarium/run.json"
#: The flattened params as a Markdown table, a text summary (for people; run.json is exact).
PARAMS_TAG = "aquarium/params"
#: The run's notes, a text summary.
NOTES_TAG = "aquarium/notes"
#: Image artifacts are image summaries tagged ``aquarium/artifacts/<artifact name>``.
IMAGE_TAG_PREFIX = "aquarium/artifacts/"
#: Artifact files are copied under this folder of the run's folder.
ARTIFACTS_DIR = "aquarium-artifacts"
#: Hidden folders an export builds before swapping them in (never imported).
STAGING_PREFIX = ".aquarium-"
#: Suffix of the one event file an export writes.
EVENT_FILE_SUFFIX = ".aquarium"
#: Characters of the run id at the end of a run's folder name.
ID_SUFFIX = 8

SCALARS_PLUGIN = "scalars"
TEXT_PLUGIN = "text"
IMAGES_PLUGIN = "images"
HPARAMS_PLUGIN = "hparams"
#: ``tensorflow.DataType`` values.
DT_FLOAT, DT_DOUBLE, DT_STRING = 1, 2, 7

_UNSAFE = re.compile(r"[^\w.+-]+")


def require(module: str, package: str) -> ModuleType:
    """Import ``module`` or fail with an error naming the package to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise AquariumError(f"the TensorBoard plugin needs the package {package!r}, which could not be "
                            f"imported ({error}); install it with `pip install {package}` "
                            f"(or `pip install aquarium-tensorboard`)") from error


def safe(text: str, limit: int = 60) -> str:
    """``text`` as one filesystem-safe path component (letters, digits, ``_.+-``)."""
    out = _UNSAFE.sub("_", text).lstrip(".-")[:limit].rstrip(".")
    return out or "run"


def run_dirname(name: str, run_id: str) -> str:
    """The folder of a run in an exported logdir: ``<safe name>-<last 8 characters of the id>``.

    Stable (the same run always gets the same folder while its name is unchanged), unique
    (the id suffix; ULIDs end in 80 random bits) and safe on any filesystem.
    """
    return f"{safe(name)}-{id_suffix(run_id)}"


def id_suffix(run_id: str) -> str:
    return safe(run_id, limit=10_000)[-ID_SUFFIX:]


def artifact_path(folder: str, name: str) -> str:
    """Where the artifact ``name`` (``/``-separated) lies under a run's folder."""
    parts = name.split("/")
    if name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"artifact name {name!r} is not a relative path inside the run")
    return os.path.join(folder, ARTIFACTS_DIR, *parts)


def is_event_file(name: str) -> bool:
    """TensorBoard's own test (``io_wrapper.IsTensorFlowEventsFile``)."""
    return "tfevents" in os.path.basename(name)


def event_files(folder: str) -> list[str]:
    """The event files directly in ``folder``, in the order TensorBoard reads them (by name)."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    return sorted(os.path.join(folder, n) for n in names
                  if is_event_file(n) and os.path.isfile(os.path.join(folder, n)))
