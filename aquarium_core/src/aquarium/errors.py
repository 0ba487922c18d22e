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
