"""Exceptions users may catch; each message names the culprit."""

from __future__ import annotations


class AquariumError(Exception):
    """Base of Aquarium's own errors."""


class RunNotFoundError(AquariumError, KeyError):
    """No run has this id."""

    def __init__(self, run_id: str) -> None:
        super().__init__(run_id)
        self.run_id = run_id

    def __str__(self) -> str:
        return f"no run with id {self.run_id!r}"


class StoreError(AquariumError):
    """A store could not be opened or answered with an error."""


class UnknownSchemeError(StoreError, ValueError):
    """No installed plugin provides a store for this URI's scheme."""


class QueryError(AquariumError, ValueError):
    """A query (or an ``order_by`` field) that does not parse or does not make sense.

    ``query`` is the text, ``position`` the 0-based offset of the culprit and ``reason``
    what was wrong or expected; ``str(error)`` shows the query with a caret under it.
    """

    def __init__(self, reason: str, query: str, position: int) -> None:
        self.reason = reason
        self.query = query
        self.position = max(0, min(position, len(query)))
        super().__init__(self._render())

    def __reduce__(self) -> tuple:
        return (type(self), (self.reason, self.query, self.position))

    def _render(self) -> str:
        start = self.query.rfind("\n", 0, self.position) + 1
        end = self.query.find("\n", self.position)
        line = self.query[start:] if end < 0 else self.query[start:end]
        pad = "".join("\t" if c == "\t" else " " for c in line[:self.position - start])
        return f"{self.reason} (position {self.position})\n  {line}\n  {pad}^"
