"""Turning buffered ``run.log`` calls into metric columns, in bulk, off the training thread."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from .model import MetricSeries

#: One buffered call: (step, timestamp, {key: float | int}).
Entry = tuple[int, float, dict]


def to_columns(entries: Sequence[Entry]) -> dict[str, MetricSeries]:
    """Group entries by key set and build each key's columns in logging order."""
    n = len(entries)
    steps = np.fromiter((e[0] for e in entries), np.int64, n)
    times = np.fromiter((e[1] for e in entries), np.float64, n)
    groups: dict[tuple[str, ...], list[int]] = {}
    for i, entry in enumerate(entries):
        groups.setdefault(tuple(entry[2]), []).append(i)
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    for keys, rows in groups.items():
        values = np.fromiter(
            itertools.chain.from_iterable(entries[i][2].values() for i in rows),
            np.float64, len(rows) * len(keys),
        ).reshape(len(rows), len(keys))
        index = np.asarray(rows, dtype=np.int64)
        for j, key in enumerate(keys):
            parts.setdefault(key, []).append((index, values[:, j]))
    out = {}
    for key, pieces in parts.items():
        if len(pieces) == 1:
            index, values = pieces[0]
        else:
            index = np.concatenate([p[0] for p in pieces])
            values = np.concatenate([p[1] for p in pieces])
            order = np.argsort(index, kind="stable")
            index, values = index[order], values[order]
        out[key] = MetricSeries(key, steps[index], values, times[index])
    return out
