"""Checks on what users hand us; each error names the culprit."""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

MAX_KEY_LENGTH = 250
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FLOAT64_MAX = 1.7976931348623157e308


def check_key(key: Any, what: str = "metric key") -> str:
    """A metric, param or tag key: a str of 1–250 characters without control characters."""
    if not isinstance(key, str):
        raise ValueError(f"{what} {key!r} must be a str, not {type(key).__name__}")
    if not 1 <= len(key) <= MAX_KEY_LENGTH:
        raise ValueError(f"{what} {key!r} must be 1 to {MAX_KEY_LENGTH} characters long (it has {len(key)})")
    if _CONTROL.search(key):
        raise ValueError(f"{what} {key!r} contains a control character")
    return key


def metric_value(key: str, value: Any) -> float | int:
    """The slow path of ``run.log``: turn one value into a float or a float-safe int.

    Accepts int, float, bool, numpy scalars, 0-d and one-element arrays, and anything with
    one element that ``float()`` understands (torch and jax scalars and tensors).
    """
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int):
        if abs(value) > _FLOAT64_MAX:
            raise ValueError(f"metric {key!r}: the int {value} is too large for a float64")
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, (np.generic, np.ndarray)):
        array = np.asarray(value)
        if array.size == 1 and array.dtype.kind in "biuf":
            return float(array.reshape(()))
    elif not isinstance(value, (str, bytes, list, tuple, dict, set, type(None))) and hasattr(value, "__float__"):
        size = getattr(value, "numel", lambda: getattr(value, "size", 1))()
        if size == 1:
            try:
                return float(value)
            except (TypeError, ValueError):
                pass
    shape = getattr(value, "shape", None)
    detail = f" of shape {tuple(shape)}" if shape is not None else ""
    raise TypeError(f"metric {key!r}: expected a number, got {type(value).__name__}{detail}")


def plain_param(name: str, value: Any) -> Any:
    """A param value as plain JSON-compatible data (numpy scalars unwrapped)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"param {name!r}: {value} is not JSON-compatible (NaN and infinity are refused)")
        return value
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            check_key(k, "param key")
            out[k] = plain_param(f"{name}.{k}", v)
        return out
    if isinstance(value, (list, tuple)):
        return [plain_param(f"{name}[{i}]", v) for i, v in enumerate(value)]
    raise TypeError(f"param {name!r}: {type(value).__name__} is not JSON-compatible")


def flatten(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params as one level with dotted keys: ``{"optimizer.name": "sgd"}``."""
    out: dict[str, Any] = {}
    for key, value in params.items():
        if isinstance(value, Mapping) and value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def merge_params(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """``old`` updated with ``new``; a param logged again with another value raises ``ValueError``."""
    flat_old = flatten(old)
    for key, value in flatten(new).items():
        if key in flat_old and flat_old[key] != value:
            raise ValueError(f"param {key!r} is already {flat_old[key]!r}; it cannot change to {value!r}")
        for other in flat_old:  # a leaf may not become a branch, nor the reverse
            if other.startswith(key + ".") or key.startswith(other + "."):
                raise ValueError(f"param {key!r} conflicts with the logged param {other!r}")
    # a dotted key naming a nested param with the same value adds nothing
    new = {k: v for k, v in new.items() if not ("." in k and k not in old and flat_old.get(k, new) == v)}
    return _deep_merge(old, new)


def _deep_merge(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def check_tags(tags: Mapping[str, Any]) -> dict[str, str]:
    """Tags are str → str; other scalar values are turned into str."""
    out = {}
    for key, value in tags.items():
        check_key(key, "tag key")
        if not isinstance(value, (str, int, float, bool)):
            raise TypeError(f"tag {key!r}: expected a str, got {type(value).__name__}")
        out[key] = value if isinstance(value, str) else str(value)
    return out


def check_step(step: Any) -> int:
    """A step: an int >= 0 (numpy integers accepted)."""
    if isinstance(step, (int, np.integer)) and not isinstance(step, bool) and step >= 0:
        return int(step)
    raise ValueError(f"step {step!r} must be an int >= 0")


def artifact_name(name: Any) -> str:
    """A stored artifact name: relative, posix, never climbing out of the run's folder."""
    if not isinstance(name, str) or not name or "\x00" in name:
        raise ValueError(f"artifact name {name!r} must be a non-empty str")
    posix = name.replace("\\", "/")
    if posix.startswith("/") or re.match(r"^[A-Za-z]:", posix):
        raise ValueError(f"artifact name {name!r} is absolute; give a name relative to the run")
    normal = posixpath.normpath(posix)
    if normal == ".." or normal.startswith("../") or ".." in posix.split("/"):
        raise ValueError(f"artifact name {name!r} climbs out of the run's folder")
    if normal in (".", ""):
        raise ValueError(f"artifact name {name!r} names no file")
    return normal
