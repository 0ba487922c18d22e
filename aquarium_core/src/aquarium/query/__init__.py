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

Modules: :mod:`.grammar` (tree and parser), :mod:`.sql` (the SQL compiler), :mod:`.evaluate`
(the reference evaluator, ``select`` and ``search``).
"""

from __future__ import annotations

from ..errors import QueryError
from .evaluate import field_value, matches, search, select
from .grammar import (
    AGGREGATES,
    FIELDS,
    MAX_DEPTH,
    All,
    And,
    Compare,
    Field,
    In,
    IsNull,
    Not,
    Or,
    Query,
    Text,
    Value,
    check_window,
    parse,
    parse_order,
    quote,
    quote_key,
)
from .sql import CompiledQuery, SQLCompiler, param_text, regexp, register_sqlite_functions

__all__ = [
    "AGGREGATES", "FIELDS", "MAX_DEPTH", "All", "And", "Compare", "CompiledQuery", "Field", "In", "IsNull", "Not",
    "Or", "Query", "QueryError", "SQLCompiler", "Text", "Value", "check_window", "field_value", "matches",
    "param_text", "parse", "parse_order", "quote", "quote_key", "regexp", "register_sqlite_functions", "search",
    "select",
]
