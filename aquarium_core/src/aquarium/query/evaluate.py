"""The reference evaluator: the same answers as the SQL, on RunRecords in Python."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..directions import default_direction
from ..model import RunRecord, heartbeat_timeout
from ..validation import flatten
from .grammar import (
    All,
    And,
    Compare,
    Field,
    In,
    IsNull,
    Node,
    Not,
    Or,
    Query,
    Text,
    Value,
    _order_specs,
    check_window,
    parse,
    parse_order,
)
from .sql import _param_number, param_text, regexp


def field_value(record: RunRecord, field: str | Field, directions: Mapping[str, str] | None = None) -> Any:
    """The value of a field of the language (``"metrics.loss.min"``, ``"params.lr"``, ``"status"``)
    for one run, as search sees it (None when missing)."""
    if isinstance(field, str):
        field, _ = parse_order(field)
    return _Evaluator(None, None, directions).value(record, field)


# -- the reference evaluator ---------------------------------------------------------------------
class _Evaluator:
    """Evaluates a tree on :class:`RunRecord` objects exactly as :class:`SQLCompiler`'s SQL does."""

    def __init__(self, now: float | None, stale_after: float | None,
                 directions: Mapping[str, str] | None) -> None:
        self.now = time.time() if now is None else float(now)
        self.stale_after = heartbeat_timeout() if stale_after is None else float(stale_after)
        self.directions = dict(directions or {})
        self._flat: dict[int, dict[str, Any]] = {}

    def params(self, record: RunRecord) -> dict[str, Any]:
        flat = self._flat.get(id(record))
        if flat is None:
            flat = self._flat[id(record)] = flatten(record.params)
        return flat

    def status(self, record: RunRecord) -> str:
        return record.effective_status(self.now, self.stale_after)

    def value(self, record: RunRecord, field: Field) -> Any:
        """The field's value (None when missing; NaN reads as None); params give the raw value."""
        if field.kind == "attribute":
            name = field.name
            if name == "status":
                return self.status(record)
            if name == "duration":
                end = record.ended
                if end is None:
                    crashed = self.status(record) == "crashed" and record.heartbeat is not None
                    end = record.heartbeat if crashed else self.now
                return end - (record.started if record.started is not None else record.created)
            return getattr(record, name)
        if field.kind == "tags":
            return record.tags.get(field.key)
        if field.kind == "params":
            return self.params(record).get(field.key)
        summary = record.summaries.get(field.key)
        if summary is None:
            return None
        aggregate = field.aggregate
        if aggregate in ("best", "best_step"):
            direction = self.directions.get(field.key) or record.directions.get(field.key) \
                or default_direction(field.key)
            aggregate = ("min" if direction == "min" else "max") + aggregate[4:]
        value = getattr(summary, aggregate)
        return None if isinstance(value, float) and math.isnan(value) else value

    def literal(self, value: Value, kind: str) -> Any:
        if kind == "text":
            return value.text
        return self.now + value.number if value.relative else value.number

    def matches(self, record: RunRecord, node: Node) -> bool:
        if isinstance(node, All):
            return True
        if isinstance(node, And):
            return all(self.matches(record, item) for item in node.items)
        if isinstance(node, Or):
            return any(self.matches(record, item) for item in node.items)
        if isinstance(node, Not):
            return not self.matches(record, node.item)
        if isinstance(node, Text):
            needle = node.text.lower()
            haystacks = [record.name, record.notes, *record.tags.values(),
                         *(param_text(v) for v in self.params(record).values())]
            return any(needle in text.lower() for text in haystacks)
        value = self.value(record, node.field)
        if isinstance(node, IsNull):
            return (value is not None) == node.negated
        if value is None:
            return False
        if node.field.kind == "params":
            return self.param(value, node)
        kind = node.field.type
        if isinstance(node, In):
            found = any(value == self.literal(v, kind) for v in node.values)
            return found != node.negated
        if node.op == "~":
            return bool(regexp(node.value.text, value))
        return _compare(value, node.op, self.literal(node.value, kind))

    def param(self, value: Any, node: Compare | In) -> bool:
        text, number = param_text(value), _param_number(value)

        def equal(values: Iterable[Value]) -> bool:
            return any((number is not None and v.number is not None and number == v.number) or text == v.text
                       for v in values)

        if isinstance(node, In):
            return equal(node.values) != node.negated
        if node.op == "~":
            return bool(regexp(node.value.text, text))
        if node.op in ("=", "!="):
            return equal([node.value]) == (node.op == "=")
        if node.value.number is not None:
            return number is not None and _compare(number, node.op, node.value.number)
        return _compare(text, node.op, node.value.text)

    def order(self, records: list[RunRecord], specs: Sequence[tuple[Field, bool]]) -> list[RunRecord]:
        rows = sorted(records, key=lambda r: (r.created, r.id), reverse=True)
        for field, descending in reversed(specs):  # stable sorts, least significant first
            values = [(self.value(r, field), r) for r in rows]
            missing = [r for v, r in values if v is None]
            present = [(v, r) for v, r in values if v is not None]
            if field.kind == "params":
                numeric = [((_param_number(v), param_text(v)), r) for v, r in present if _param_number(v) is not None]
                textual = [(param_text(v), r) for v, r in present if _param_number(v) is None]
                groups = [numeric, textual]
            else:
                groups = [present]
            rows = []
            for group in groups:
                group.sort(key=lambda pair: pair[0], reverse=descending)
                rows += [r for _, r in group]
            rows += missing
        return rows


def _compare(a: Any, op: str, b: Any) -> bool:
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    return a >= b


def matches(record: RunRecord, query: str | Query, *, now: float | None = None,
            directions: Mapping[str, str] | None = None) -> bool:
    """Whether one run matches ``query`` (the reference semantics every store follows)."""
    return _Evaluator(now, None, directions).matches(record, parse(query).root)


def select(records: Iterable[RunRecord], query: str | Query = "", *,
           order_by: str | Sequence[str] | None = ("-created",), limit: int | None = None, offset: int = 0,
           directions: Mapping[str, str] | None = None, now: float | None = None) -> list[RunRecord]:
    """Filter, order and window runs in Python: the reference evaluator, and the default
    ``Store.search`` for stores that do not compile queries."""
    check_window(limit, offset)
    parsed = parse(query)
    specs = _order_specs(order_by)
    evaluator = _Evaluator(now, None, directions)
    chosen = [r for r in records if evaluator.matches(r, parsed.root)]
    chosen = evaluator.order(chosen, specs)
    return chosen[offset:None if limit is None else offset + limit]


def search(query: str | Query = "", *, experiment: str | None = None,
           order_by: str | Sequence[str] | None = ("-created",), limit: int | None = None, offset: int = 0,
           store: Any = None, directions: Mapping[str, str] | None = None) -> list[RunRecord]:
    """Runs matching ``query`` with their params, tags and metric summaries (no metric points).

    ``order_by`` takes fields of the query language, ``-`` first for descending order
    (``"-metrics.acc.best"``); runs lacking a field sort last. ``directions`` overrides
    which way is better for ``.best`` (``{"acc": "max"}``). ``store`` is a URI, a path or a
    ``Store`` (default: ``AQUARIUM_STORE`` or ``./.aquarium``).
    """
    from ..stores import open_store

    return open_store(store).search(query, experiment=experiment, order_by=order_by, limit=limit,
                                    offset=offset, directions=directions)

