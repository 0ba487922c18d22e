"""The query language: one grammar, parsed once into a tree, compiled by each store.

``parse(text)`` turns a query into a :class:`Query` (a tree of attrs nodes) or raises
:class:`aquarium.QueryError` with the position of the mistake. Stores compile the tree:
SQL stores through :class:`SQLCompiler` (SQLite here; the PostgreSQL store subclasses it
and overrides the dialect hooks), any other store through the reference evaluator
:func:`select`, which is also the default ``Store.search``. docs/query.md is the user's
reference; in short::

    metrics.acc.best > 0.9 and params.optimizer.name in ("adam", "sgd")
    status = "crashed" or (tags.team = vision and created > -7d)
    name ~ "^resnet-(18|50)$" and not params.`batch size` < 64
    "lr sweep" duration > 2h          # a quoted phrase, then a comparison (implicit "and")

Grammar (``not`` binds tighter than ``and``, which binds tighter than ``or``; two terms
side by side mean ``and``)::

    query      := [or_expr]
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr (["and"] not_expr)*
    not_expr   := "not" not_expr | primary
    primary    := "(" or_expr ")" | comparison | TEXT
    comparison := field (OP value | ["not"] "in" "(" value ("," value)* ")" | "is" ["not"] "null")
    field      := params.KEY | metrics.KEY[.AGGREGATE] | tags.KEY | id | name | experiment
                | group | status | parent | notes | created | started | ended | duration
    KEY        := SEGMENT ("." SEGMENT)*      SEGMENT := WORD | `backticked`
    value      := "string" | 'string' | NUMBER | DURATION | WORD
    TEXT       := "string" | 'string' | WORD | NUMBER     (full-text search)

``metrics.a.b.min``: a trailing unquoted ``.min .max .last .first .count .best .best_step``
is the aggregate and the rest is the key (``a.b``); a backticked last segment is always part
of the key (``metrics.`loss.min``` is the metric named ``loss.min``).

Regular expressions (``~``) follow Python's :mod:`re` (``re.search``: a match anywhere, use
``^``/``$`` to anchor). Every store must answer this subset identically: literal
characters, ``.``, ``*``, ``+``, ``?``, character classes ``[abc]``, ``[a-z]``, ``[^a]``,
anchors ``^`` and ``$``, alternation ``|`` and groups ``(...)``; backslash-escaped
punctuation (``\\.``) is literal. Anything else (``\\d``, ``{m,n}``, lookarounds, inline
flags) works in the SQLite store but may differ elsewhere.

Comparisons are two-valued: a run that lacks the field (or whose metric value is NaN)
matches no comparison, not even ``!=`` or ``not in``; ``not (...)`` then matches it.
"""

from __future__ import annotations

import datetime
import difflib
import functools
import json
import math
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from .directions import default_direction
from .errors import QueryError
from .model import STATUSES, RunRecord, heartbeat_timeout
from .validation import flatten

__all__ = [
    "AGGREGATES", "FIELDS", "All", "And", "Compare", "CompiledQuery", "Field", "In", "IsNull", "Not", "Or", "Query",
    "QueryError", "SQLCompiler", "Text", "Value", "check_window", "matches", "parse", "parse_order", "quote",
    "quote_key", "regexp", "register_sqlite_functions", "search", "select",
]

AGGREGATES = ("last", "first", "min", "max", "count", "best", "best_step")
#: Run attributes compared as text, as times (seconds since the epoch) and as numbers.
TEXT_FIELDS = ("id", "name", "experiment", "group", "status", "parent", "notes")
TIME_FIELDS = ("created", "started", "ended")
NUMBER_FIELDS = ("duration",)
KEYED_FIELDS = ("params", "metrics", "tags")
FIELDS = TEXT_FIELDS + TIME_FIELDS + NUMBER_FIELDS + KEYED_FIELDS
OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "~")
KEYWORDS = ("and", "or", "not", "in", "is", "null")
#: Units of durations and relative times: ``90s``, ``30m``, ``2h``, ``-7d``, ``-2w``.
UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
#: Parentheses and ``not`` may nest this deep (SQLite parses SQL nested a little deeper).
MAX_DEPTH = 20

_NULLABLE = frozenset({"group", "parent", "started", "ended"})
_EXPECTED_OPERATOR = "an operator (=, !=, <, <=, >, >=, ~, in, not in, is null, is not null)"
_EXPECTED_VALUE = 'a value ("text", a number, a duration such as 2h, a date, -7d)'


# -- the tree ------------------------------------------------------------------------------------
@attrs.frozen
class Field:
    """A field of a run. ``kind`` is ``"attribute"`` (``name`` is the attribute) or one of
    ``"params"``, ``"metrics"``, ``"tags"`` (with ``key``; metrics also with ``aggregate``)."""

    kind: str
    name: str
    key: str | None = None
    aggregate: str | None = None
    position: int = 0
    text: str = ""

    @property
    def type(self) -> str:
        """How values compare: ``"text"``, ``"time"``, ``"number"`` or ``"param"``."""
        if self.kind == "attribute":
            if self.name in TIME_FIELDS:
                return "time"
            return "number" if self.name in NUMBER_FIELDS else "text"
        return {"params": "param", "metrics": "number", "tags": "text"}[self.kind]


@attrs.frozen
class Value:
    """A literal, already read for its field. ``text`` is a quoted string's content or the
    literal as written; ``number`` its numeric reading (seconds for durations, seconds since
    the epoch for times; for params only plain unquoted numbers have one); ``relative``
    marks a time given as an offset from now (``-7d``)."""

    text: str
    number: float | None = None
    relative: bool = False
    quoted: bool = False
    position: int = 0


@attrs.frozen
class Compare:
    field: Field
    op: str
    value: Value
    position: int = 0


@attrs.frozen
class In:
    field: Field
    values: tuple[Value, ...]
    negated: bool = False
    position: int = 0


@attrs.frozen
class IsNull:
    field: Field
    negated: bool = False
    position: int = 0


@attrs.frozen
class Text:
    """Full-text search: a case-insensitive substring of the name, notes, a tag value or a
    param value."""

    text: str
    position: int = 0


@attrs.frozen
class And:
    items: tuple[Node, ...]


@attrs.frozen
class Or:
    items: tuple[Node, ...]


@attrs.frozen
class Not:
    item: Node
    position: int = 0


@attrs.frozen
class All:
    """The empty query: every run."""


Node = Compare | In | IsNull | Text | And | Or | Not | All


@attrs.frozen
class Query:
    """A parsed query: its text and the root of its tree."""

    text: str
    root: Node

    def __str__(self) -> str:
        return self.text


# -- tokens --------------------------------------------------------------------------------------
@attrs.frozen
class _Token:
    kind: str  # path, string, number, op, keyword, (, ), ",", end
    text: str
    position: int
    value: Any = None


_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?([smhdw])?(?![\w./`-])")
_WORD = re.compile(r"[\w/-]+")
_SPACE = re.compile(r"\s+")
_OPERATOR = re.compile(r"!=|<=|>=|==|=|<|>|~")
_ESCAPABLE = "\\\"'`"


def _describe(token: _Token) -> str:
    return "the end of the query" if token.kind == "end" else repr(token.text)


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text

    def error(self, reason: str, position: int) -> QueryError:
        return QueryError(reason, self.text, position)

    def tokens(self) -> list[_Token]:
        text, out, pos, n = self.text, [], 0, len(self.text)
        while True:
            space = _SPACE.match(text, pos)
            if space:
                pos = space.end()
            if pos >= n:
                out.append(_Token("end", "", n))
                return out
            char = text[pos]
            if char in "(),":
                out.append(_Token(char, char, pos))
                pos += 1
            elif char in "\"'":
                content, end = self.quoted(pos)
                out.append(_Token("string", text[pos:end], pos, content))
                pos = end
            elif (number := _NUMBER.match(text, pos)) is not None:
                out.append(_Token("number", number.group(), pos, number.group(1)))
                pos = number.end()
            elif char == "`" or _WORD.match(text, pos):
                segments, end = self.path(pos)
                word = text[pos:end]
                if len(segments) == 1 and not segments[0][1] and word.lower() in KEYWORDS:
                    out.append(_Token("keyword", word, pos, word.lower()))
                else:
                    out.append(_Token("path", word, pos, segments))
                pos = end
            elif (operator := _OPERATOR.match(text, pos)) is not None:
                out.append(_Token("op", operator.group(), pos))
                pos = operator.end()
            elif char == "!":
                raise self.error("expected '=' after '!' (write != for 'not equal', or 'not' before a term)", pos)
            else:
                raise self.error(f"unexpected character {char!r}; to search for text holding it, "
                                 f"put the text in quotes", pos)

    def quoted(self, start: int) -> tuple[str, int]:
        """The content of the string or backticked key at ``start`` and the offset after it.

        A backslash escapes a quote, a backtick or a backslash; any other backslash is kept, so
        regular expressions such as ``"\\d+\\.\\d"`` need no doubling."""
        text, quote, pos, n = self.text, self.text[start], start + 1, len(self.text)
        chars = []
        while pos < n:
            char = text[pos]
            if char == "\\" and pos + 1 < n and text[pos + 1] in _ESCAPABLE:
                chars.append(text[pos + 1])
                pos += 2
            elif char == quote:
                return "".join(chars), pos + 1
            else:
                chars.append(char)
                pos += 1
        what = "key" if quote == "`" else "string"
        raise self.error(f"unterminated {what}: expected a closing {quote} for the one opened here", start)

    def path(self, start: int) -> tuple[list[tuple[str, bool, int]], int]:
        """Dot-separated segments (words or backticked keys) as (text, quoted, position)."""
        text, pos, segments = self.text, start, []
        while True:
            if pos < len(text) and text[pos] == "`":
                content, end = self.quoted(pos)
                if not content:
                    raise self.error("empty key: put the key between the backticks", pos)
                segments.append((content, True, pos))
            else:
                word = _WORD.match(text, pos)
                if word is None:
                    raise self.error("expected a key after '.' (quote keys holding other characters "
                                     "with backticks: params.`my key`)", pos)
                segments.append((word.group(), False, pos))
                end = word.end()
            pos = end
            if pos < len(text) and text[pos] == ".":
                pos += 1
                continue
            return segments, pos


# -- the parser ----------------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.lexer = _Lexer(text)
        self.tokens = self.lexer.tokens()
        self.index = 0
        self.depth = 0

    def error(self, reason: str, position: int) -> QueryError:
        return QueryError(reason, self.text, position)

    def peek(self, ahead: int = 0) -> _Token:
        return self.tokens[min(self.index + ahead, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.peek()
        self.index = min(self.index + 1, len(self.tokens) - 1)
        return token

    def keyword(self, token: _Token, *words: str) -> bool:
        return token.kind == "keyword" and token.value in words

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"the query nests too deeply (more than {MAX_DEPTH} levels of "
                             f"parentheses and 'not')", token.position)

    # query := [or_expr]
    def parse(self) -> Query:
        if self.peek().kind == "end":
            return Query(self.text, All())
        root = self.or_expr()
        token = self.peek()
        if token.kind == ")":
            raise self.error("unexpected ')': no '(' is open here", token.position)
        if token.kind != "end":
            raise self.error(f"unexpected {_describe(token)}: expected 'and', 'or' or the end of the query",
                             token.position)
        return Query(self.text, root)

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while self.keyword(self.peek(), "or"):
            self.advance()
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items = [self.not_expr()]
        while True:
            token = self.peek()
            if self.keyword(token, "and"):
                self.advance()
            elif not (token.kind in ("path", "string", "number", "(") or self.keyword(token, "not")):
                break
            items.append(self.not_expr())
        return items[0] if len(items) == 1 else And(tuple(items))

    def not_expr(self) -> Node:
        token = self.peek()
        if self.keyword(token, "not"):
            self.advance()
            self.enter(token)
            item = self.not_expr()
            self.depth -= 1
            return Not(item, token.position)
        return self.primary()

    def primary(self) -> Node:
        token = self.advance()
        if token.kind == "(":
            self.enter(token)
            if self.peek().kind == ")":
                raise self.error("empty parentheses: expected a search term or a comparison", self.peek().position)
            node = self.or_expr()
            close = self.peek()
            if close.kind != ")":
                raise self.error(f"expected ')' to close the '(' at position {token.position}, "
                                 f"found {_describe(close)}", close.position)
            self.advance()
            self.depth -= 1
            return node
        if token.kind == "path":
            return self.path_term(token)
        if token.kind in ("string", "number"):
            if self.starts_comparison():
                what = "a quoted string" if token.kind == "string" else "a number"
                raise self.error(f"{what} cannot be compared: a comparison starts with a field such as "
                                 f"params.lr (quote keys with backticks: params.`my key`)", token.position)
            return Text(token.value if token.kind == "string" else token.text, token.position)
        if token.kind == "end":
            raise self.error("the query ends too early: expected a search term, a comparison or '('",
                             token.position)
        raise self.error(f"unexpected {_describe(token)}: expected a search term, a comparison or '('",
                         token.position)

    def starts_comparison(self) -> bool:
        token = self.peek()
        return (token.kind == "op" or self.keyword(token, "in", "is")
                or (self.keyword(token, "not") and self.keyword(self.peek(1), "in")))

    def path_term(self, token: _Token) -> Node:
        segments = token.value
        root, root_quoted, _ = segments[0]
        if not root_quoted and root in FIELDS:
            return self.comparison(self.field(token))
        if self.starts_comparison():
            if root_quoted:
                raise self.error("a backticked key needs its field in front: params.`my key`, "
                                 "metrics.`val.loss`, tags.`my tag`", token.position)
            close = difflib.get_close_matches(root.lower(), FIELDS, 1, 0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.error(f"unknown field {root!r}{hint}: fields are params.<key>, metrics.<key>, "
                             f"tags.<key>, {', '.join(TEXT_FIELDS + TIME_FIELDS + NUMBER_FIELDS)}",
                             token.position)
        quoted = [position for _, is_quoted, position in segments if is_quoted]
        if quoted:
            raise self.error("backticks quote the keys of fields (metrics.`val.loss`); to search for "
                             "text, put it in double or single quotes", quoted[0])
        return Text(token.text, token.position)

    def field(self, token: _Token) -> Field:
        segments = token.value
        root = segments[0][0]
        if root not in KEYED_FIELDS:
            if len(segments) > 1:
                raise self.error(f"{root} has no keys (only params, metrics and tags do)", segments[1][2])
            return Field("attribute", root, position=token.position, text=token.text)
        rest = segments[1:]
        if not rest:
            example = {"params": "params.lr", "metrics": "metrics.loss.min", "tags": "tags.team"}[root]
            raise self.error(f"expected a key after '{root}.', e.g. {example}", token.position + len(root))
        aggregate = None
        if root == "metrics":
            aggregate = "last"
            if len(rest) > 1 and not rest[-1][1] and rest[-1][0] in AGGREGATES:
                aggregate = rest[-1][0]
                rest = rest[:-1]
        key = ".".join(text for text, _, _ in rest)
        return Field(root, root, key, aggregate, token.position, token.text)

    def comparison(self, field: Field) -> Node:
        token = self.advance()
        if token.kind == "op":
            op = "=" if token.text == "==" else token.text
            if op == "~" and field.type not in ("text", "param"):
                raise self.error(f"~ matches text, but {field.text} is a {field.type}; compare it with "
                                 f"=, !=, <, <=, > or >=", token.position)
            return Compare(field, op, self.value(field, op, token), token.position)
        if self.keyword(token, "is"):
            negated = self.keyword(self.peek(), "not")
            if negated:
                self.advance()
            null = self.advance()
            if not self.keyword(null, "null"):
                raise self.error(f"expected 'null' after '{'is not' if negated else 'is'}', "
                                 f"found {_describe(null)}", null.position)
            return IsNull(field, negated, token.position)
        if self.keyword(token, "in"):
            return In(field, self.values(field, token), False, token.position)
        if self.keyword(token, "not") and self.keyword(self.peek(), "in"):
            self.advance()
            return In(field, self.values(field, token), True, token.position)
        hint = "; to search for the word itself, put it in quotes" if field.kind == "attribute" else ""
        raise self.error(f"expected {_EXPECTED_OPERATOR} after {field.text!r}, found {_describe(token)}{hint}",
                         token.position)

    def values(self, field: Field, in_token: _Token) -> tuple[Value, ...]:
        opening = self.advance()
        if opening.kind != "(":
            raise self.error(f"expected '(' after 'in', found {_describe(opening)}: write "
                             f"{field.text} in (\"a\", \"b\")", opening.position)
        values = [self.value(field, "in", in_token)]
        while True:
            token = self.advance()
            if token.kind == ")":
                return tuple(values)
            if token.kind != ",":
                raise self.error(f"expected ',' or ')' in the list opened at position {opening.position}, "
                                 f"found {_describe(token)}", token.position)
            values.append(self.value(field, "in", in_token))

    def value(self, field: Field, op: str, after: _Token) -> Value:
        token = self.advance()
        if token.kind == "string":
            literal = Value(token.value, quoted=True, position=token.position)
        elif token.kind == "number":
            number = float(token.text[:-1] if token.value else token.text)
            literal = Value(token.text, number, position=token.position)
        elif token.kind == "path" and not any(quoted for _, quoted, _ in token.value):
            if token.value[0][0] in FIELDS and len(token.value) > 1:
                raise self.error(f"a field cannot be compared with another field ({token.text}); "
                                 f"put text in quotes", token.position)
            literal = Value(token.text, position=token.position)
        elif self.keyword(token, "null"):
            raise self.error(f"write '{field.text} is null' (or 'is not null') to find runs without a value",
                             token.position)
        else:
            where = "in the list" if op == "in" else f"after {op!r}"
            raise self.error(f"expected {_EXPECTED_VALUE} {where}, found {_describe(token)}", token.position)
        return self.typed(field, op, literal, token)

    def typed(self, field: Field, op: str, literal: Value, token: _Token) -> Value:
        """The literal read as ``field`` compares: checked here, so every store sees valid values."""
        kind = field.type
        if op == "~":
            try:
                re.compile(literal.text)
            except (re.error, RecursionError, OverflowError) as error:
                message = getattr(error, "msg", str(error))
                position = literal.position
                if literal.quoted and getattr(error, "pos", None) is not None:
                    position = _source_position(self.text, literal.position, error.pos)
                raise self.error(f"invalid regular expression: {message}", position) from None
            return Value(literal.text, quoted=literal.quoted, position=literal.position)
        if kind == "text":
            if field.name == "status" and op in ("=", "!=", "in") and literal.text not in STATUSES:
                raise self.error(f"unknown status {literal.text!r}: expected one of {', '.join(STATUSES)}",
                                 literal.position)
            return Value(literal.text, quoted=literal.quoted, position=literal.position)
        if kind == "param":
            plain = token.kind == "number" and not token.value
            return Value(literal.text, literal.number if plain else None, quoted=literal.quoted,
                         position=literal.position)
        if kind == "number":
            seconds = field.kind == "attribute"  # duration
            number = _number(literal.text, durations=seconds)
            if number is None:
                expected = "a number of seconds or a duration such as 90s, 30m, 2h, 1.5d" if seconds \
                    else "a number"
                raise self.error(f"{field.text} is a number: expected {expected}, found {token.text!r}",
                                 literal.position)
            return Value(literal.text, number, quoted=literal.quoted, position=literal.position)
        # a time
        relative = _relative(literal.text)
        if relative is not None:
            if literal.text[0] not in "+-":
                raise self.error(f"a relative time needs a sign: -{literal.text} means {literal.text} ago "
                                 f"(+{literal.text} from now)", literal.position)
            return Value(literal.text, relative, True, literal.quoted, literal.position)
        instant = _number(literal.text, durations=False)
        if instant is not None and literal.text.lstrip()[:1] == "-":
            raise self.error(f"{field.text} is a time: a relative time needs a unit (-{literal.text.strip()[1:]}d, "
                             f"-{literal.text.strip()[1:]}h, ...); seconds since the epoch are positive",
                             literal.position)
        if instant is None:
            instant = _instant(literal.text)
        if instant is None:
            raise self.error(f"{field.text} is a time: expected an ISO 8601 date or time in quotes "
                             f"(\"2026-01-31\", \"2026-01-31T12:00\"), a relative time (-7d, -12h) or "
                             f"seconds since the epoch, found {token.text!r}", literal.position)
        return Value(literal.text, instant, quoted=literal.quoted, position=literal.position)


def _source_position(text: str, start: int, index: int) -> int:
    """Where the ``index``-th character of the quoted string opened at ``start`` is in ``text``."""
    pos = start + 1
    for _ in range(index):
        pos += 2 if text[pos] == "\\" and pos + 1 < len(text) and text[pos + 1] in _ESCAPABLE else 1
    return pos


_PLAIN_NUMBER = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*")
_DURATION = re.compile(r"\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)([smhdw])\s*")


def _number(text: str, *, durations: bool) -> float | None:
    if _PLAIN_NUMBER.fullmatch(text):
        return float(text)
    if durations:
        match = _DURATION.fullmatch(text)
        if match:
            return float(match.group(1)) * UNITS[match.group(2)]
    return None


def _relative(text: str) -> float | None:
    match = _DURATION.fullmatch(text)
    return float(match.group(1)) * UNITS[match.group(2)] if match else None


def _instant(text: str) -> float | None:
    """Seconds since the epoch of an ISO 8601 date or time (local time unless it names a zone)."""
    text = text.strip()
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    try:
        return datetime.datetime.fromisoformat(text).timestamp()
    except (ValueError, OverflowError, OSError):
        return None


def parse(query: str | Query) -> Query:
    """Parse ``query`` once into a :class:`Query`; a mistake raises :class:`QueryError`."""
    if isinstance(query, Query):
        return query
    if not isinstance(query, str):
        raise TypeError(f"a query is a str, not {type(query).__name__}")
    try:
        query.encode("utf-8")
    except UnicodeEncodeError as error:
        raise QueryError("the query holds a lone surrogate, which is not valid Unicode", query,
                         error.start) from None
    return _Parser(query).parse()


def quote(text: str) -> str:
    """``text`` as a double-quoted string literal of the query language."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_key(key: str) -> str:
    """``key`` as a backticked key segment: ``f"params.{quote_key('batch size')} > 32"``."""
    return "`" + key.replace("\\", "\\\\").replace("`", "\\`") + "`"


def parse_order(spec: str) -> tuple[Field, bool]:
    """An ``order_by`` item (``"-metrics.acc.best"``, ``"params.lr"``, ``"name"``) as
    (field, descending); a leading ``-`` means descending, ``+`` (or nothing) ascending."""
    if not isinstance(spec, str):
        raise TypeError(f"an order_by field is a str, not {type(spec).__name__}")
    body = spec.lstrip()
    descending = body.startswith("-")
    if body[:1] in ("-", "+"):
        body = body[1:]
    offset = len(spec) - len(body)
    try:
        parser = _Parser(body)
        token, after = parser.peek(), parser.peek(1)
        if token.kind != "path" or token.value[0][1] or token.value[0][0] not in FIELDS:
            raise parser.error(f"expected a field to order by, optionally after '-' for descending order "
                               f"(\"-metrics.acc.best\", \"params.lr\", \"name\"), found {_describe(token)}",
                               token.position)
        if after.kind != "end":
            raise parser.error(f"expected one field to order by, found {_describe(after)} after it",
                               after.position)
        field = parser.field(token)
    except QueryError as error:
        raise QueryError(error.reason, spec, error.position + offset) from None
    return attrs.evolve(field, position=field.position + offset), descending


def field_value(record: RunRecord, field: str | Field, directions: Mapping[str, str] | None = None) -> Any:
    """The value of a field of the language (``"metrics.loss.min"``, ``"params.lr"``, ``"status"``)
    for one run, as search sees it (None when missing)."""
    if isinstance(field, str):
        field, _ = parse_order(field)
    return _Evaluator(None, None, directions).value(record, field)


def _order_specs(order_by: str | Sequence[str] | None) -> list[tuple[Field, bool]]:
    if order_by is None:
        return []
    if isinstance(order_by, str):
        order_by = [order_by]
    return [parse_order(spec) for spec in order_by]


def check_window(limit: int | None, offset: int) -> None:
    """``limit`` is None or an int >= 0, ``offset`` an int >= 0 (else ``ValueError``)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit {limit!r} must be None or an int >= 0")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset {offset!r} must be an int >= 0")


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
        return f"runs.id IN ({sql} AND {present} AND {predicate(node)})"

    def _param_predicate(self, node: Compare | In) -> str:
        text = self.text_order(self.param_text("p.value"))

        def equal(values: Sequence[Value]) -> str:
            numbers = [v.number for v in values if v.number is not None]
            parts = []
            if numbers:
                parts.append(f"(p.num IS NOT NULL AND {self.in_values('p.num', numbers)})")
            parts.append(self.in_values(text, [v.text for v in values]))
            return f"({' OR '.join(parts)})"

        if isinstance(node, In):
            return f"NOT {equal(node.values)}" if node.negated else equal(node.values)
        if node.op == "~":
            return self.regex(text, self.bind(node.value.text))
        if node.op in ("=", "!="):
            return equal([node.value]) if node.op == "=" else f"NOT {equal([node.value])}"
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


def _normal(node: Node, negated: bool = False) -> Node:
    """``node`` with ``not`` pushed down to the comparisons (De Morgan: sound because every
    comparison is two-valued) and nested ``and``/``or`` of one kind merged."""
    if isinstance(node, Not):
        return _normal(node.item, not negated)
    if isinstance(node, (And, Or)):
        kind = type(node) if not negated else (Or if isinstance(node, And) else And)
        items: list[Node] = []
        for item in node.items:
            item = _normal(item, negated)
            items.extend(item.items if isinstance(item, kind) else [item])
        return kind(tuple(items))
    return Not(node) if negated else node


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
    from .stores import open_store

    return open_store(store).search(query, experiment=experiment, order_by=order_by, limit=limit,
                                    offset=offset, directions=directions)
