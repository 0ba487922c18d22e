"""Refusing regular expressions that can take exponential time.

Python's ``re`` backtracks, and holds the GIL while it does: ``name ~ "^(L+)+X$"`` against a
long name runs for minutes and freezes every thread of the process (a dashboard serving many
people, say). The catastrophic shapes are known: a repetition inside a repetition
(``(a+)+``, ``(\\w+\\s?)*``), and a repeated choice whose alternatives can match the same text
(``(a|ab)+``, ``(.|.)+``). Such patterns are refused before any store runs them; everything
else (including ``(18|50)``, ``(foo|bar)+`` and ``.*x.*``) passes.
"""

from __future__ import annotations

from typing import Any

try:  # the parser behind re.compile (a private module: re._parser from 3.11, sre_parse before)
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse  # type: ignore[no-redef]

_REPEATS = {"MAX_REPEAT", "MIN_REPEAT"}


def exponential_risk(pattern: str) -> str | None:
    """Why ``pattern`` could backtrack exponentially, or None when it cannot in these ways.
    ``pattern`` must compile."""
    return _walk(sre_parse.parse(pattern), repeated=False)


def _walk(items: Any, *, repeated: bool) -> str | None:
    for op, value in items:
        name = str(op)
        if name in _REPEATS:
            _low, high, body = value
            many = high is sre_parse.MAXREPEAT or high > 1
            if repeated and many:
                return "a repetition inside a repeated group, as in (a+)+"
            found = _walk(body, repeated=repeated or many)
            if found:
                return found
        elif name == "SUBPATTERN":
            found = _walk(value[-1], repeated=repeated)
            if found:
                return found
        elif name == "BRANCH":
            alternatives = value[1]
            if repeated and not _distinct_starts(alternatives):
                return "a repeated choice whose alternatives can match the same text, as in (a|ab)+"
            for alternative in alternatives:
                found = _walk(alternative, repeated=repeated)
                if found:
                    return found
        elif name in ("ASSERT", "ASSERT_NOT"):
            found = _walk(value[1], repeated=repeated)
            if found:
                return found
    return None


def _distinct_starts(alternatives: list[Any]) -> bool:
    """Whether every alternative starts with a literal character no other one starts with."""
    firsts = []
    for alternative in alternatives:
        items = list(alternative)
        if not items or str(items[0][0]) != "LITERAL":
            return False
        firsts.append(items[0][1])
    return len(set(firsts)) == len(firsts)
