"""Compiling a query tree to parameterized SQL; the text and regex functions SQL stores share."""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ..directions import default_direction
from ..model import heartbeat_timeout
from .grammar import (
    _NULLABLE,
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
    _normal,
    _order_specs,
    check_window,
    parse,
)


# -- regular expressions and text, shared by the evaluator and the SQLite functions ---------------
@functools.lru_cache(maxsize=512)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def regexp(pattern: Any, text: Any) -> int:
    """1 when ``pattern`` matches somewhere in ``text`` (Python ``re.search``), else 0.
    Registered as the SQL function ``regexp(pattern, text)`` on SQLite connections."""
    if pattern is None or text is None:
        return 0
    try:
        return 1 if _compiled(str(pattern)).search(text if isinstance(text, str) else str(text)) else 0
    except re.error:
        return 0


def contains(text: Any, needle: Any) -> int:
    """1 when the lower-cased ``needle`` occurs in ``text`` lower-cased (SQL ``aquarium_contains``)."""
    if text is None or needle is None:
        return 0
    return 1 if str(needle) in (text if isinstance(text, str) else str(text)).lower() else 0


def register_sqlite_functions(conn: Any) -> None:
    """Give a ``sqlite3`` connection the functions compiled queries call."""
    conn.create_function("regexp", 2, regexp, deterministic=True)
    conn.create_function("aquarium_contains", 2, contains, deterministic=True)


def param_text(value: Any) -> str:
    """A param value as text: a string itself, anything else its JSON text (``0.01``, ``true``)."""
    return value if isinstance(value, str) else json.dumps(value)


def _param_number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# -- SQL -----------------------------------------------------------------------------------------
@attrs.frozen
class CompiledQuery:
    """SQL pieces to put after ``FROM runs``: ``joins`` (for ordering), ``where`` (``WHERE ...``
    or empty), ``order`` (``ORDER BY ...``) and ``window`` (``LIMIT ...`` or empty), with the
    named arguments they bind."""

    joins: str
    where: str
    order: str
    window: str
    args: dict[str, Any]

    @property
    def clause(self) -> str:
        return " ".join(part for part in (self.joins, self.where, self.order, self.window) if part)


class SQLCompiler:
    """Compiles a :class:`Query` to parameterized SQL over the layout the SQL stores share.

    Tables: ``runs`` (id, name, experiment, grp, status, created, started, ended, heartbeat,
    parent, notes, directions as a JSON object), ``params`` (run_id, key with dots, value as
    JSON text, num: the value when it is a number), ``tags`` (run_id, key, value) and
    ``summaries`` (run_id, key, count, first, last, min, max and their steps; NaN as NULL).
    The outer query must name the runs table ``runs``. Values are never spliced into the SQL
    text: :meth:`bind` adds a named argument and returns its placeholder.

    This class speaks SQLite. Another dialect subclasses it and overrides the hooks
    :meth:`placeholder`, :meth:`regex`, :meth:`contains`, :meth:`json_lookup`,
    :meth:`param_text`, :meth:`text_order`, :meth:`in_values` and :meth:`window`; it must
    give the same answers, including the regular-expression subset of the module docstring,
    code-point order for text (``COLLATE "C"`` in PostgreSQL) and two-valued comparisons.
    """

    def __init__(self, *, now: float | None = None, stale_after: float | None = None,
                 directions: Mapping[str, str] | None = None) -> None:
        self.now = time.time() if now is None else float(now)
        self.stale_after = heartbeat_timeout() if stale_after is None else float(stale_after)
        self.directions = dict(directions or {})
        self.args: dict[str, Any] = {}
        self._names: dict[tuple[type, Any], str] = {}

    # -- dialect hooks -----------------------------------------------------------------------
    def placeholder(self, name: str) -> str:
        """How a named argument appears in the SQL text."""
        return f":{name}"

    def regex(self, text_sql: str, pattern_sql: str) -> str:
        """True when the pattern matches somewhere in the text (Python ``re.search``)."""
        return f"regexp({pattern_sql}, {text_sql})"

    def contains(self, text_sql: str, needle: str) -> str:
        """True when ``needle`` (already lower case) occurs in the text, lower-cased."""
        if needle.isascii():  # SQLite's lower() folds ASCII only: enough for an ASCII needle
            return f"instr(lower({text_sql}), {self.bind(needle)}) > 0"
        return f"aquarium_contains({text_sql}, {self.bind(needle)})"

    def json_lookup(self, json_sql: str, key_sql: str) -> str:
        """The text stored under a key of a JSON object, or NULL."""
        return f"(SELECT j.value FROM json_each({json_sql}) AS j WHERE j.key = {key_sql})"

    def param_text(self, value_sql: str) -> str:
        """A param's value (JSON text) as text: a JSON string decoded, anything else as is."""
        return f"CASE WHEN substr({value_sql}, 1, 1) = '\"' THEN json_extract({value_sql}, '$') ELSE {value_sql} END"

    def text_order(self, text_sql: str) -> str:
        """Text as it compares and sorts: by code point."""
        return text_sql

    def in_values(self, expr_sql: str, values: Sequence[Any]) -> str:
        """``expr IN (values)``; a long list of strings goes in as one JSON argument."""
        if len(values) > 50 and all(isinstance(v, str) for v in values):
            return f"{expr_sql} IN (SELECT value FROM json_each({self.bind(json.dumps(list(values)))}))"
        return f"{expr_sql} IN ({', '.join(self.bind(v) for v in values)})"

    def window(self, limit: int | None, offset: int) -> str:
        if limit is None and not offset:
            return ""
        return f"LIMIT {self.bind(-1 if limit is None else limit)} OFFSET {self.bind(offset)}"

    # -- the compiler ------------------------------------------------------------------------
    def bind(self, value: Any) -> str:
        """The placeholder of a new named argument (one per distinct value)."""
        key = (type(value), value)
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = f"q{len(self.args)}"
            self.args[name] = value
        return self.placeholder(name)

    def compile(self, query: str | Query = "", *, experiment: str | None = None,
                order_by: str | Sequence[str] | None = ("-created",), limit: int | None = None,
                offset: int = 0) -> CompiledQuery:
        """Everything after ``FROM runs`` for a search, as a :class:`CompiledQuery`."""
        check_window(limit, offset)
        parsed = parse(query)
        specs = _order_specs(order_by)
        conditions = []
        if not isinstance(parsed.root, All):
            conditions.append(self.condition(parsed.root))
        if experiment is not None:
            conditions.append(f"runs.experiment = {self.bind(experiment)}")
        where = f"WHERE {self._join('AND', [f'({c})' for c in conditions])}" if conditions else ""
        joins, order = self.order(specs)
        return CompiledQuery(joins, where, order, self.window(limit, offset), self.args)

    def condition(self, node: Node) -> str:
        """A two-valued SQL condition (never NULL) for ``node``.

        ``not`` is pushed down to the comparisons and nested ``and``/``or`` of one kind are
        merged, so the SQL nests only where ``and`` and ``or`` alternate (SQLite's parser
        allows a few dozen levels)."""
        return self._boolean(_normal(node), "OR")

    def _boolean(self, node: Node, parent: str) -> str:
        if isinstance(node, (And, Or)):
            op = "AND" if isinstance(node, And) else "OR"
            sql = self._join(op, [self._boolean(item, op) for item in node.items])
            return f"({sql})" if op == "OR" and parent == "AND" else sql  # AND binds tighter than OR
        if isinstance(node, Not):
            return f"NOT ({self._leaf(node.item)})"
        return self._leaf(node)

    def _leaf(self, node: Node) -> str:
        if isinstance(node, All):
            return "1 = 1"
        if isinstance(node, Text):
            return self.full_text(node.text)
        field = node.field
        if field.kind == "attribute":
            return self._attribute_condition(node)
        if field.kind == "params":
            return self._keyed_condition(node, "params", "p", "p.value != 'null'", self._param_predicate)
        if field.kind == "tags":
            return self._keyed_condition(node, "tags", "t", "1 = 1",
                                         lambda n: self._predicate(n, self.text_order("t.value"), "text"))
        aggregate = self.aggregate("s", field.key, field.aggregate,
                                   "(SELECT r.directions FROM runs AS r WHERE r.id = s.run_id)")
        return self._keyed_condition(node, "summaries", "s", f"{aggregate} IS NOT NULL",
                                     lambda n: self._predicate(n, aggregate, "number"))

    @staticmethod
    def _join(op: str, parts: list[str], chunk: int = 64) -> str:
        """``a OP b OP ...``; long chains in parenthesized chunks, so neither the SQL parser's
        stack nor the expression tree grows deep."""
        while len(parts) > chunk:
            parts = [f"({f' {op} '.join(parts[i:i + chunk])})" for i in range(0, len(parts), chunk)]
        return f" {op} ".join(parts)

    def full_text(self, text: str) -> str:
        needle = text.lower()
        return "(" + " OR ".join((
            self.contains("runs.name", needle),
            self.contains("runs.notes", needle),
            f"runs.id IN (SELECT t.run_id FROM tags AS t WHERE {self.contains('t.value', needle)})",
            f"runs.id IN (SELECT p.run_id FROM params AS p WHERE "
            f"{self.contains(self.param_text('p.value'), needle)})",
        )) + ")"

    def status(self) -> str:
        """The status readers see: a running run with a stale heartbeat is crashed."""
        bound = self.bind(self.now - self.stale_after)
        return (f"(CASE WHEN runs.status = 'running' AND runs.heartbeat IS NOT NULL AND runs.heartbeat < {bound}"
                f" THEN 'crashed' ELSE runs.status END)")

    def attribute(self, name: str) -> str:
        if name == "status":
            return self.status()
        if name == "duration":
            return (f"(coalesce(runs.ended, CASE WHEN {self.status()} = 'crashed' AND runs.heartbeat IS NOT NULL"
                    f" THEN runs.heartbeat ELSE {self.bind(self.now)} END) - coalesce(runs.started, runs.created))")
        return "runs.grp" if name == "group" else f"runs.{name}"

    def aggregate(self, alias: str, key: str, aggregate: str, directions_sql: str) -> str:
        """A metric aggregate of the summaries row ``alias``; ``best`` follows the direction."""
        if aggregate not in ("best", "best_step"):
            return f"{alias}.{aggregate}"
        suffix = "_step" if aggregate == "best_step" else ""
        if key in self.directions:
            return f"{alias}.{'min' if self.directions[key] == 'min' else 'max'}{suffix}"
        direction = (f"coalesce({self.json_lookup(directions_sql, self.bind(key))}, "
                     f"{self.bind(default_direction(key))})")
        return f"(CASE WHEN {direction} = 'min' THEN {alias}.min{suffix} ELSE {alias}.max{suffix} END)"

    def _value(self, value: Value, kind: str) -> Any:
        if kind == "text":
            return value.text
        return self.now + value.number if value.relative else value.number

    def _predicate(self, node: Compare | In, expr: str, kind: str) -> str:
        if isinstance(node, In):
            listed = self.in_values(expr, [self._value(v, kind) for v in node.values])
            return f"NOT ({listed})" if node.negated else listed
        if node.op == "~":
            return self.regex(expr, self.bind(node.value.text))
        return f"{expr} {node.op} {self.bind(self._value(node.value, kind))}"

    def _attribute_condition(self, node: Compare | In | IsNull) -> str:
        field = node.field
        expr = self.attribute(field.name)
        if isinstance(node, IsNull):
            return f"{expr} IS {'NOT ' if node.negated else ''}NULL"
        kind = field.type
        predicate = self._predicate(node, self.text_order(expr) if kind == "text" else expr, kind)
        return f"({expr} IS NOT NULL AND {predicate})" if field.name in _NULLABLE else predicate

    def _keyed_condition(self, node: Compare | In | IsNull, table: str, alias: str, present: str,
                         predicate: Any) -> str:
        sql = f"SELECT {alias}.run_id FROM {table} AS {alias} WHERE {alias}.key = {self.bind(node.field.key)}"
        if isinstance(node, IsNull):
            return f"runs.id {'' if node.negated else 'NOT '}IN ({sql} AND {present})"
        condition = predicate(node)
        if isinstance(condition, str):
            return f"runs.id IN ({sql} AND {present} AND {condition})"
        # Alternatives as a UNION, so each one can use the (key, ...) index on its own.
        return "runs.id IN (" + " UNION ALL ".join(f"{sql} AND {present} AND {part}" for part in condition) + ")"

    def _param_predicate(self, node: Compare | In) -> str | tuple[str, ...]:
        """SQL over the params row ``p``; a tuple holds alternatives (any may match)."""
        text = self.text_order(self.param_text("p.value"))

        def equal(values: Sequence[Value]) -> tuple[str, ...]:
            # A number param equals a literal by value; its text is its JSON text, which matches
            # a literal's text only when the numbers are equal too, so the text test is left to
            # the other params (num is NULL) and both alternatives can use the (key, num) index.
            numbers = [v.number for v in values if v.number is not None]
            texts = self.in_values(text, [v.text for v in values])
            if not numbers:
                return (texts,)
            return (f"p.num IS NOT NULL AND {self.in_values('p.num', numbers)}", f"p.num IS NULL AND {texts}")

        def unequal(values: Sequence[Value]) -> str:
            return "NOT (" + " OR ".join(f"({part})" for part in equal(values)) + ")"

        if isinstance(node, In):
            return unequal(node.values) if node.negated else equal(node.values)
        if node.op == "~":
            return self.regex(text, self.bind(node.value.text))
        if node.op in ("=", "!="):
            return equal([node.value]) if node.op == "=" else unequal([node.value])
        if node.value.number is not None:
            return f"(p.num IS NOT NULL AND p.num {node.op} {self.bind(node.value.number)})"
        return f"{text} {node.op} {self.bind(node.value.text)}"

    def order(self, specs: Sequence[tuple[Field, bool]]) -> tuple[str, str]:
        """(joins, ``ORDER BY ...``): runs lacking a field sort last; ties by newest first."""
        joins, terms = [], []
        for index, (field, descending) in enumerate(specs):
            way = "DESC" if descending else "ASC"
            alias = f"o{index}"
            if field.kind == "attribute":
                expr = self.attribute(field.name)
                if field.type == "text":
                    expr = self.text_order(expr)
                if field.name in _NULLABLE:
                    terms.append(f"({expr}) IS NULL")
                terms.append(f"{expr} {way}")  # alone, so an index on the column can serve
                continue
            table = {"params": "params", "tags": "tags", "metrics": "summaries"}[field.kind]
            joins.append(f"LEFT JOIN {table} AS {alias} ON {alias}.run_id = runs.id "
                         f"AND {alias}.key = {self.bind(field.key)}")
            if field.kind == "params":
                terms += [f"({alias}.value IS NULL OR {alias}.value = 'null')", f"{alias}.num IS NULL",
                          f"{alias}.num {way}", f"{self.text_order(self.param_text(f'{alias}.value'))} {way}"]
            elif field.kind == "tags":
                terms += [f"{alias}.value IS NULL", f"{self.text_order(f'{alias}.value')} {way}"]
            else:
                expr = self.aggregate(alias, field.key, field.aggregate, "runs.directions")
                terms += [f"({expr}) IS NULL", f"{expr} {way}"]
        terms += [t for t in ("runs.created DESC", "runs.id DESC") if t not in terms]
        return " ".join(joins), "ORDER BY " + ", ".join(terms)


