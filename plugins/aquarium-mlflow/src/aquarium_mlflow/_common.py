"""What the exporter and the importer share: the lazy mlflow import, the environment MLflow
reads, tag names, the status mapping, MLflow's limits and how a run looks inside MLflow.

Nothing here imports mlflow at module import time: ``aquarium --help`` stays fast and a
missing mlflow is reported when it is needed, naming the package to install.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import posixpath
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import attrs

from aquarium.errors import AquariumError
from aquarium.interop import EXPORTED_TAG, IMPORT_STATE_TAG, SOURCE_TAG
from aquarium.model import RunRecord
from aquarium.validation import flatten

# -- tags on the MLflow run ---------------------------------------------------------------
#: The Aquarium run id: how a re-export finds the MLflow run it wrote before.
TAG_RUN_ID = "aquarium.run_id"
TAG_GROUP = "aquarium.group"
#: The exact Aquarium status (MLflow's own status has no "crashed").
TAG_STATUS = "aquarium.status"
TAG_ERROR = "aquarium.error"
TAG_PARENT = "aquarium.parent"
#: JSON list of ``{"name", "framework"}`` for the model artifacts of the run.
TAG_MODELS = "aquarium.models"
#: ``partial`` while an export writes the run, ``complete`` once everything is there.
TAG_STATE = "aquarium.export"
#: Digest of everything an export wrote; an unchanged run is not written again.
TAG_DIGEST = "aquarium.export.digest"
#: Digest of the metric history written; an unchanged history is not read back or re-sent.
TAG_HISTORY = "aquarium.export.history"
#: JSON list of what had to be shortened or renamed to fit MLflow (full values in run.json).
TAG_ADJUSTED = "aquarium.adjusted"
OUR_TAGS = frozenset({TAG_RUN_ID, TAG_GROUP, TAG_STATUS, TAG_ERROR, TAG_PARENT, TAG_MODELS, TAG_STATE,
                      TAG_DIGEST, TAG_HISTORY, TAG_ADJUSTED})

NOTE_TAG = "mlflow.note.content"
RUN_NAME_TAG = "mlflow.runName"
PARENT_TAG = "mlflow.parentRunId"
USER_TAG = "mlflow.user"
GIT_COMMIT_TAG = "mlflow.source.git.commit"
SOURCE_NAME_TAG = "mlflow.source.name"

#: Aquarium tags that describe the source store only; they are not written to MLflow.
LOCAL_TAGS = (SOURCE_TAG, IMPORT_STATE_TAG)

STATUS_TO_MLFLOW = {"running": "RUNNING", "completed": "FINISHED", "failed": "FAILED", "killed": "KILLED",
                    "crashed": "FAILED"}
STATUS_FROM_MLFLOW = {"RUNNING": "running", "SCHEDULED": "running", "FINISHED": "completed", "FAILED": "failed",
                      "KILLED": "killed"}

# -- MLflow's limits (mlflow.utils.validation) ----------------------------------------------
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_KEY = 250
#: The ``runs.name`` column is 250 characters in MLflow's database schema.
MAX_RUN_NAME = 250
MAX_EXPERIMENT_NAME = 500
#: What a truncated value ends with, so it never passes for the whole value.
TRUNCATED = "…[truncated; full value in aquarium/run.json]"

#: Seconds the reachability check waits for an HTTP tracking server (no retries).
DEFAULT_CHECK_TIMEOUT = 10.0
#: Bumped when what an export writes changes: older exports are then rewritten.
EXPORT_FORMAT = "1"


class MlflowPluginError(AquariumError):
    """A problem with the MLflow side: a missing library, an unreachable tracking URI."""


class MlflowExportWarning(UserWarning):
    """Something had to be shortened or renamed to fit MLflow (the full value is in run.json)."""


# -- the library ------------------------------------------------------------------------------
def scheme(uri: str) -> str:
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*):", uri)
    if match is None or len(match.group(1)) == 1:  # a bare path (or a Windows drive letter)
        return "file"
    return match.group(1).lower().split("+")[0]


def require_mlflow(uri: str) -> Any:
    """Import mlflow (and what ``uri`` needs) or fail naming the package to install."""
    try:
        import mlflow
        from mlflow.tracking import MlflowClient  # noqa: F401
    except ImportError as error:
        raise MlflowPluginError(
            f"MLflow is not installed (needed for {uri!r}): run `pip install aquarium-mlflow` "
            f"(it brings mlflow-skinny) or `pip install mlflow-skinny` ({error})") from error
    if scheme(uri) in ("sqlite", "postgresql", "mysql", "mssql"):
        for package in ("sqlalchemy", "alembic"):
            try:
                __import__(package)
            except ImportError as error:
                raise MlflowPluginError(
                    f"MLflow needs {package} for database tracking URIs such as {uri!r}: "
                    f"run `pip install sqlalchemy alembic` (or `pip install aquarium-mlflow`) ({error})") from error
    return mlflow


@contextmanager
def mlflow_env(uri: str, probe_timeout: float | None = None) -> Iterator[None]:
    """The environment MLflow reads while we work on ``uri``, restored afterwards.

    A ``file:`` URI opts in to MLflow's filesystem store (in maintenance mode since MLflow 3:
    the user asked for it by naming it), unless ``MLFLOW_ALLOW_FILE_STORE`` is set already.
    With ``probe_timeout``, HTTP requests are neither retried nor waited on longer than that.
    MLflow's "View run at" lines on stdout are turned off: the CLI's stdout is its report.
    """
    changes: dict[str, str] = {}
    if "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT" not in os.environ:  # keep stdout ours (``--json``)
        changes["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
    if scheme(uri) == "file" and "MLFLOW_ALLOW_FILE_STORE" not in os.environ:
        changes["MLFLOW_ALLOW_FILE_STORE"] = "true"
    if probe_timeout is not None:
        changes["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
        changes["MLFLOW_HTTP_REQUEST_TIMEOUT"] = str(max(1, math.ceil(probe_timeout)))
    saved = {key: os.environ.get(key) for key in changes}
    os.environ.update(changes)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def client_for(uri: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def probe(uri: str, timeout: float | None = None) -> Any:
    """A client for ``uri`` after one cheap request proved the target answers.

    For HTTP servers the request is made without retries and with ``timeout`` seconds at
    most, so an unreachable server fails fast; the error names the URI.
    """
    timeout = DEFAULT_CHECK_TIMEOUT if timeout is None else float(timeout)
    require_mlflow(uri)
    with mlflow_env(uri, probe_timeout=timeout):
        try:
            client = client_for(uri)
            client.search_experiments(max_results=1)
        except Exception as error:
            reason = " ".join(str(error).split())[:400]
            where = ("the MLflow tracking server at" if scheme(uri) in ("http", "https")
                     else "the MLflow tracking URI")
            raise MlflowPluginError(
                f"cannot reach {where} {uri!r} (one try, {timeout:g} s timeout): "
                f"{type(error).__name__}: {reason}") from error
    return client


# -- keys and values that fit MLflow ----------------------------------------------------------
_BAD_CHARS = re.compile(r"[^/\w.\- :]")


def _digest(text: str, n: int = 8) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:n]


def _sanitize(key: str) -> str:
    """``key`` with what MLflow refuses replaced: characters outside ``[/\\w.\\- :]``, path
    segments that are empty, ``.`` or ``..``, and a leading ``..``."""
    text = _BAD_CHARS.sub("_", key)
    text = "/".join(part if part not in ("", ".", "..") else "_" for part in text.split("/"))
    if text.startswith(".."):
        text = "_" + text[1:]
    if len(text) > MAX_KEY or posixpath.normpath(text) != text:
        text = text[: MAX_KEY - 9] + "-" + _digest(key)
    return text


def key_map(keys: Any, what: str, adjustments: list[str]) -> dict[str, str]:
    """Aquarium keys → MLflow keys of one namespace (params, tags or metrics).

    A valid key maps to itself; another is made valid, and one that then collides with a
    key of the namespace gets a hash of the original appended. Deterministic for a set of
    keys, whatever their order. Each renamed key is added to ``adjustments``.
    """
    keys = list(keys)
    out: dict[str, str] = {}
    for key in keys:
        if _sanitize(key) == key:
            out[key] = key
    used = set(out.values())
    for key in sorted(k for k in keys if k not in out):
        candidate = _sanitize(key)
        if candidate in used:
            candidate = candidate[: MAX_KEY - 9] + "-" + _digest(key)
        used.add(candidate)
        out[key] = candidate
        adjustments.append(f"{what} key {_short(key)} renamed to {_short(candidate)} (MLflow allows only "
                           f"letters, digits, _ - . : space and / in keys of up to {MAX_KEY} characters)")
    return out


def _short(text: str, n: int = 60) -> str:
    return repr(text if len(text) <= n else text[:n] + "…")


def fit(value: str, limit: int, what: str, adjustments: list[str]) -> str:
    """``value`` cut to MLflow's ``limit`` with a visible marker; reported in ``adjustments``."""
    if len(value) <= limit:
        return value
    adjustments.append(f"{what} has {len(value)} characters, truncated to MLflow's limit of {limit}")
    return value[: limit - len(TRUNCATED)] + TRUNCATED


def param_text(value: Any) -> str:
    """A param value as MLflow holds it: ``str()``, as ``mlflow.log_param`` writes it."""
    return str(value)


def typed_param(text: str) -> Any:
    """Inverse of :func:`param_text` where it is unambiguous: ``"3"`` → 3, ``"0.5"`` → 0.5,
    ``"True"``/``"False"`` → bool, ``"None"`` → None; anything else stays text (``"1.10"``,
    ``"1e-3"`` and ``"[1, 2]"`` stay text: ``str()`` of no value gives them)."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    if re.fullmatch(r"-?[0-9]+", text):
        number = int(text)
        if str(number) == text:
            return number
    if re.fullmatch(r"-?[0-9][0-9.e+-]*", text):
        try:
            real = float(text)
        except ValueError:
            return text
        if math.isfinite(real) and repr(real) == text:
            return real
    return text


# -- a run as MLflow shows it -------------------------------------------------------------------
@attrs.define
class MlflowView:
    """What an export writes into MLflow's own fields (run.json holds the exact record)."""

    run_name: str
    params: dict[str, str]
    tags: dict[str, str]
    #: Aquarium metric key → MLflow metric key.
    metric_keys: dict[str, str]
    adjustments: list[str]


def render(record: RunRecord, metric_keys: Any) -> MlflowView:
    """The MLflow view of ``record``; deterministic, so the importer can recompute it."""
    adjustments: list[str] = []
    run_name = fit(record.name, MAX_RUN_NAME, "run name", adjustments)

    flat = flatten(record.params)
    names = key_map(flat, "param", adjustments)
    params = {names[k]: fit(param_text(v), MAX_PARAM_VALUE, f"param {_short(k)}", adjustments)
              for k, v in flat.items()}

    user = {k: v for k, v in record.tags.items() if k not in LOCAL_TAGS and not k.startswith(EXPORTED_TAG)}
    names = key_map(user, "tag", adjustments)
    tags = {names[k]: fit(v, MAX_TAG_VALUE, f"tag {_short(k)}", adjustments) for k, v in user.items()}
    if record.notes:
        tags[NOTE_TAG] = fit(record.notes, MAX_TAG_VALUE, "notes", adjustments)
    source = record.source
    if source is not None:
        if source.user:
            tags[USER_TAG] = fit(source.user, MAX_TAG_VALUE, "source user", adjustments)
        if source.git_commit:
            tags[GIT_COMMIT_TAG] = fit(source.git_commit, MAX_TAG_VALUE, "git commit", adjustments)
        if source.command:
            tags[SOURCE_NAME_TAG] = fit(source.command[0], MAX_TAG_VALUE, "source command", adjustments)
    tags[TAG_RUN_ID] = record.id
    tags[TAG_STATUS] = record.status
    if record.group is not None:
        tags[TAG_GROUP] = fit(record.group, MAX_TAG_VALUE, "group", adjustments)
    if record.error:
        tags[TAG_ERROR] = fit(record.error, MAX_TAG_VALUE, "error", adjustments)
    if record.parent:
        tags[TAG_PARENT] = record.parent
    models = [{"name": a.name, "framework": a.metadata.get("framework")} for a in record.artifacts
              if a.kind == "model"]
    if models:
        tags[TAG_MODELS] = fit(json.dumps(models, ensure_ascii=False), MAX_TAG_VALUE, "model list", adjustments)

    metrics = key_map(metric_keys, "metric", adjustments)
    if adjustments:
        tags[TAG_ADJUSTED] = _fit_list(adjustments)
    return MlflowView(run_name, params, tags, metrics, adjustments)


def _fit_list(items: list[str]) -> str:
    for n in range(len(items), -1, -1):
        shown = items[:n] + ([f"… and {len(items) - n} more"] if n < len(items) else [])
        text = json.dumps(shown, ensure_ascii=False)
        if len(text) <= MAX_TAG_VALUE:
            return text
    return "[]"  # pragma: no cover - an empty list always fits


def report(adjustments: list[str], record: RunRecord, uri: str) -> None:
    """Say what did not fit MLflow: a warning (shown by the CLI) naming the run and the URI."""
    if not adjustments:
        return
    shown = "; ".join(adjustments[:5]) + (f"; and {len(adjustments) - 5} more" if len(adjustments) > 5 else "")
    warnings.warn(f"MLflow export of run {record.id} ({record.name!r}) to {uri}: {shown}. The MLflow run's tag "
                  f"{TAG_ADJUSTED!r} lists every change; aquarium/run.json keeps the full values.",
                  MlflowExportWarning, stacklevel=3)
