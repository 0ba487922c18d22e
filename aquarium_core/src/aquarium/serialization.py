"""The one cattrs converter that turns the model into JSON-able dicts and back.

Stores, exporters and the CLI's JSON output all go through :data:`converter`. Non-finite
floats become the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"`` so that every JSON
document we write is valid JSON; numpy columns become lists.
"""

from __future__ import annotations

import json
import math
from typing import Any, TypeVar

import cattrs
import numpy as np

from .model import Artifact, MetricSeries, MetricSummary, RunRecord, SourceInfo

T = TypeVar("T")

_NONFINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


def encode_float(value: float) -> float | str:
    """A float as JSON can hold it."""
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def decode_float(value: Any) -> float:
    """Inverse of :func:`encode_float`; raises ``ValueError`` on anything else."""
    if isinstance(value, str):
        try:
            return _NONFINITE[value]
        except KeyError:
            raise ValueError(f"not a number: {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"not a number: {value!r}")
    return float(value)


def _encode_floats(array: np.ndarray) -> list:
    out = array.tolist()
    if not np.isfinite(array).all():
        out = [encode_float(v) for v in out]
    return out


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter()
    conv.register_unstructure_hook(float, encode_float)
    conv.register_structure_hook(float, lambda v, _: decode_float(v))
    conv.register_unstructure_hook(
        MetricSeries,
        lambda s: {
            "key": s.key,
            "steps": s.steps.tolist(),
            "values": _encode_floats(s.values),
            "timestamps": _encode_floats(s.timestamps),
        },
    )
    conv.register_structure_hook(
        MetricSeries,
        lambda d, _: MetricSeries(
            d["key"],
            np.array(d["steps"], dtype=np.int64),
            np.array([decode_float(v) for v in d["values"]], dtype=np.float64),
            np.array([decode_float(v) for v in d["timestamps"]], dtype=np.float64),
        ),
    )
    return conv


converter = _make_converter()

#: The model classes the converter handles (the round-trip tests cover each).
MODEL_CLASSES = (SourceInfo, MetricSummary, MetricSeries, Artifact, RunRecord)


def to_dict(obj: Any) -> Any:
    """A model object (or a list/dict of them) as JSON-able data."""
    return converter.unstructure(obj)


def from_dict(data: Any, cls: type[T]) -> T:
    """Inverse of :func:`to_dict`."""
    return converter.structure(data, cls)


def dumps(obj: Any, **kwargs: Any) -> str:
    """Valid JSON (never bare NaN) for a model object or JSON-able data."""
    return json.dumps(to_dict(obj), allow_nan=False, ensure_ascii=False, **kwargs)


def loads(text: str, cls: type[T]) -> T:
    """Inverse of :func:`dumps`."""
    return from_dict(json.loads(text), cls)
