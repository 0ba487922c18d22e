"""The query language compiled to parameterized PostgreSQL.

:class:`PostgresCompiler` subclasses the core's :class:`aquarium.query.SQLCompiler` and
overrides its dialect hooks. Answers must equal the SQLite store's (and the reference
evaluator's), so three things need care:

- Regular expressions: the query language's ``~`` is Python's :mod:`re` (``re.search``);
  PostgreSQL's is POSIX ARE. :func:`translate_regex` rewrites a Python pattern into an ARE
  with the same matches: ``.`` never matches a newline, ``$`` also matches before a final
  newline, ``{,n}`` becomes ``{0,n}``, punctuation is escaped. A pattern it cannot vouch for
  (``\\d``, ``\\w``, ``\\b``, lookarounds, backreferences, named groups, inline flags,
  possessive quantifiers, repeats above 255) raises :class:`NeedsPython`, and the store
  answers that query with the reference evaluator instead: slower, never different.
- Text compares and sorts by code point (``COLLATE "C"``); case-insensitive full text
  lower-cases with ICU's root locale (Unicode full case mapping, like ``str.lower``).
- Values are bound, never spliced: ``%(qN)s`` placeholders for psycopg.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from aquarium.query import SQLCompiler

__all__ = ["NeedsPython", "PostgresCompiler", "translate_regex"]

#: Largest bound of a ``{m,n}`` repeat PostgreSQL accepts (its DUPMAX).
_PG_DUPMAX = 255
_ESCAPES = {"a": "\a", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_HEX = {"x": 2, "u": 4, "U": 8}
_REPEAT = re.compile(r"\{(\d*)(?:(,)(\d*))?\}")
_VALUE_COLUMN = re.compile(r"^(\w+)\.value$")
#: Matches nothing but a newline: what Python's ``.`` leaves out.
_NOT_NEWLINE = "[^\n]"


class NeedsPython(Exception):
    """The query uses something PostgreSQL cannot be trusted to answer like Python."""


def _literal(char: str) -> str:
    """``char`` matched literally in an ARE, outside a bracket expression."""
    if char == "\x00":
        raise NeedsPython("a NUL character (PostgreSQL text cannot hold one)")
    if char.isascii() and not char.isalnum() and char.isprintable() and char != " ":
        return "\\" + char
    return char


def _escape(pattern: str, i: int, *, in_class: bool) -> tuple[str | None, str | None, int]:
    """Read the escape at ``pattern[i]`` (a backslash): (literal char, or None; anchor, or None; next i)."""
    if i + 1 >= len(pattern):
        raise NeedsPython("a trailing backslash")
    char = pattern[i + 1]
    if char in _ESCAPES and not (char == "b" and not in_class):
        return _ESCAPES[char], None, i + 2
    if in_class and char == "b":
        return "\b", None, i + 2
    if char in _HEX:
        digits = pattern[i + 2:i + 2 + _HEX[char]]
        if len(digits) != _HEX[char] or not all(c in "0123456789abcdefABCDEF" for c in digits):
            raise NeedsPython(f"escape \\{char}")
        return chr(int(digits, 16)), None, i + 2 + _HEX[char]
    if not in_class and char == "A":
        return None, "^", i + 2
    if not in_class and char == "Z":
        return None, "$", i + 2
    if char.isascii() and not char.isalnum():
        return char, None, i + 2
    raise NeedsPython(f"escape \\{char}")


def _bracket(pattern: str, i: int) -> tuple[str, int]:
    """The bracket expression opening at ``pattern[i]``, read as Python does, written as an ARE."""
    n = len(pattern)
    i += 1
    negate = i < n and pattern[i] == "^"
    if negate:
        i += 1
    items: list[str] = []
    first = True
    while True:
        if i >= n:
            raise NeedsPython("an unterminated character class")
        char = pattern[i]
        if char == "]" and not first:
            i += 1
            break
        first = False
        if char == "\\":
            low, anchor, i = _escape(pattern, i, in_class=True)
            if low is None or anchor is not None:
                raise NeedsPython("a class escape")
        else:
            if char == "[" and i + 1 < n and pattern[i + 1] in ":=.":
                raise NeedsPython("'[' followed by ':', '=' or '.' in a class")
            low = char
            i += 1
        if i + 1 < n and pattern[i] == "-" and pattern[i + 1] != "]":
            high_char = pattern[i + 1]
            if high_char == "\\":
                high, anchor, i = _escape(pattern, i + 1, in_class=True)
                if high is None or anchor is not None:
                    raise NeedsPython("a class escape")
            else:
                high = high_char
                i += 2
            items.append(f"{_class_char(low)}-{_class_char(high)}")
        else:
            items.append(_class_char(low))
    body = "".join(items)
    return f"[{'^' if negate else ''}{body}]", i


def _class_char(char: str) -> str:
    """One character inside an ARE bracket expression, as a literal (``\\uXXXX`` for ASCII
    punctuation and controls: fixed width, so no following character is read into it)."""
    if char == "\x00":
        raise NeedsPython("a NUL character (PostgreSQL text cannot hold one)")
    if char.isascii() and not char.isalnum():
        return f"\\u{ord(char):04x}"
    return char


def translate_regex(pattern: str) -> str:
    """A POSIX ARE that matches (somewhere) exactly where Python's ``re.search(pattern)`` does.

    ``pattern`` has already compiled in Python. Raises :class:`NeedsPython` for anything
    outside what this translation vouches for.
    """
    out: list[str] = []
    i, n = 0, len(pattern)
    atom = False  # whether a quantifier may follow what was just written
    while i < n:
        char = pattern[i]
        if char == "\\":
            literal, anchor, i = _escape(pattern, i, in_class=False)
            if anchor == "^":
                out.append("^")
                atom = False
            elif anchor == "$":
                out.append("$")
                atom = False
            else:
                out.append(_literal(literal))
                atom = True
            continue
        if char == "[":
            text, i = _bracket(pattern, i)
            out.append(text)
            atom = True
            continue
        if char == ".":
            out.append(_NOT_NEWLINE)
            atom = True
        elif char == "^":
            out.append("^")
            atom = False
        elif char == "$":
            out.append("(?=\n?$)")  # Python's $ also matches just before a final newline
            atom = False
        elif char in "*+?":
            if not atom:
                raise NeedsPython("a quantifier after nothing")
            out.append(char)
            i += 1
            i = _quantifier_suffix(pattern, i, out)
            atom = False
            continue
        elif char == "{":
            repeat = _REPEAT.match(pattern, i)
            if repeat is None or pattern[i + 1:i + 2] == "}":  # not a repeat: Python reads "{" as is
                out.append(_literal("{"))
                atom = True
            else:
                if not atom:
                    raise NeedsPython("a repeat after nothing")
                low, comma, high = repeat.group(1), repeat.group(2), repeat.group(3)
                low = low or "0"
                if int(low) > _PG_DUPMAX or (high and int(high) > _PG_DUPMAX):
                    raise NeedsPython("a repeat bound above 255")
                if not comma:
                    out.append(f"{{{low}}}")
                elif high:
                    out.append(f"{{{low},{high}}}")
                else:
                    out.append(f"{{{low},}}")
                i = _quantifier_suffix(pattern, repeat.end(), out)
                atom = False
                continue
        elif char == "(":
            if pattern.startswith("(?:", i):
                out.append("(?:")
                i += 3
                atom = False
                continue
            if pattern.startswith("(?", i):
                raise NeedsPython("a group extension (?...)")
            out.append("(")
            atom = False
        elif char == ")":
            out.append(")")
            atom = True
        elif char == "|":
            out.append("|")
            atom = False
        else:
            out.append(_literal(char))
            atom = True
        i += 1
    return "".join(out)


def _quantifier_suffix(pattern: str, i: int, out: list[str]) -> int:
    """A lazy ``?`` after a quantifier is kept (it cannot change whether there is a match);
    a possessive ``+`` is refused."""
    if i < len(pattern) and pattern[i] == "?":
        out.append("?")
        return i + 1
    if i < len(pattern) and pattern[i] == "+":
        raise NeedsPython("a possessive quantifier")
    return i


class PostgresCompiler(SQLCompiler):
    """:class:`aquarium.query.SQLCompiler` for PostgreSQL (psycopg placeholders).

    ``lower_collation`` is the collation whose ``lower()`` folds case for full-text search
    (``"und-x-icu"`` when the server has ICU, else the database default).
    """

    def __init__(self, *, lower_collation: str | None = "und-x-icu", **options: Any) -> None:
        super().__init__(**options)
        self.lower_collation = lower_collation

    def placeholder(self, name: str) -> str:
        return f"%({name})s"

    def _bind_array(self, values: list[Any]) -> str:
        """A placeholder for a list (an array argument; :meth:`bind` keys arguments by value,
        which a list cannot be)."""
        name = f"q{len(self.args)}"
        self.args[name] = values
        return self.placeholder(name)

    def regex(self, text_sql: str, pattern_sql: str) -> str:
        # ``pattern_sql`` holds Python's pattern; PostgreSQL gets its translation as its own argument
        pattern = self.args[pattern_sql[2:-2]]
        return f"({text_sql} ~ {self.bind(translate_regex(pattern))})"

    def contains(self, text_sql: str, needle: str) -> str:
        collate = f' COLLATE "{self.lower_collation}"' if self.lower_collation else ""
        return f"(strpos(lower(({text_sql}){collate}), {self.bind(needle)}) > 0)"

    def json_lookup(self, json_sql: str, key_sql: str) -> str:
        return f"(({json_sql})::jsonb ->> ({key_sql})::text)"

    def param_text(self, value_sql: str) -> str:
        column = _VALUE_COLUMN.match(value_sql)
        if column is not None:  # the params table keeps the text form in its own column
            return f"{column.group(1)}.txt"
        return (f"(CASE WHEN left({value_sql}, 1) = '\"' THEN ({value_sql})::jsonb #>> '{{}}' "
                f"ELSE {value_sql} END)")

    def text_order(self, text_sql: str) -> str:
        return f'(({text_sql}) COLLATE "C")'

    def in_values(self, expr_sql: str, values: Sequence[Any]) -> str:
        if all(isinstance(v, str) for v in values):
            return f"{expr_sql} = ANY({self._bind_array(list(values))}::text[])"
        return f"{expr_sql} = ANY({self._bind_array([float(v) for v in values])}::float8[])"

    def window(self, limit: int | None, offset: int) -> str:
        if limit is None and not offset:
            return ""
        if limit is None:
            return f"OFFSET {self.bind(offset)}::int8"
        return f"LIMIT {self.bind(limit)}::int8 OFFSET {self.bind(offset)}::int8"
