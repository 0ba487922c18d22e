"""The grammar: the tree, the tokenizer and the parser (see :mod:`aquarium.query`)."""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Sequence
from typing import Any

import attrs

from ..errors import QueryError
from ..model import STATUSES
from .backtracking import exponential_risk

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
            risk = exponential_risk(literal.text)
            if risk:
                raise self.error(f"this regular expression could take exponential time: {risk}; write it "
                                 f"without that nesting (\"^L+X$\" rather than \"^(L+)+X$\")", literal.position)
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
