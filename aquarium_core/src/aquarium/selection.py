"""Turning what users name runs by (ids, id prefixes, run objects, a query) into records."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .errors import AquariumError, RunNotFoundError
from .interfaces import Store
from .model import RunRecord

#: The shortest id prefix the CLI accepts for a run id.
MIN_PREFIX = 6
_ID_CHARS = re.compile(r"^[0-9a-z]+$")


def resolve_id(store: Store, text: str) -> str:
    """A full run id from an id or a unique prefix of at least :data:`MIN_PREFIX` characters."""
    text = text.strip().lower()
    if not _ID_CHARS.match(text):
        raise RunNotFoundError(text)
    try:
        return store.get_run(text).id
    except RunNotFoundError:
        if len(text) < MIN_PREFIX:
            raise AquariumError(f"no run with id {text!r} (a prefix needs at least {MIN_PREFIX} characters)") \
                from None
    matches = store.ids_with_prefix(text, limit=2)
    if not matches:
        raise RunNotFoundError(text)
    if len(matches) > 1:
        raise AquariumError(f"run id prefix {text!r} is ambiguous: it matches {matches[0]}, {matches[1]}, ...")
    return matches[0]


def resolve_runs(runs: str | Iterable[Any], store: Store,
                 directions: Mapping[str, str] | None = None) -> list[RunRecord]:
    """Records for a query string, or for a list of ids, id prefixes, ``RunRecord``s or ``Run``s.

    A query runs through ``store.search`` (``directions`` overrides ``.best``); records are
    taken as given; live runs are flushed first, so what their loop logged counts. Order
    follows the list (a query's own order for a query); a run named twice counts once.
    """
    if isinstance(runs, str):
        return list(store.search(runs, directions=directions))
    out: dict[str, RunRecord] = {}
    for item in runs:
        if isinstance(item, RunRecord):
            record = item
        elif isinstance(item, str):
            record = store.get_run(resolve_id(store, item))
        elif hasattr(item, "record") and isinstance(item.record, RunRecord):  # a live Run
            if not item._closed:
                item.flush()
            record = item.store.get_run(item.id)
        else:
            raise TypeError(f"cannot name a run with {item!r}: give ids, RunRecords, Runs or a query string")
        out.setdefault(record.id, record)
    return list(out.values())
