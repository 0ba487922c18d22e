"""The pytest plugin of ``aquarium-core`` (entry point ``pytest11``).

It imports nothing heavy when pytest loads it, so installing the core never slows or
breaks anyone else's test suite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def aquarium_store(tmp_path: Any) -> Iterator[Any]:
    """A fresh embedded SQLite store in a temporary folder."""
    from aquarium.stores.sqlite import SQLiteStore

    store = SQLiteStore(str(tmp_path / "aquarium-store"))
    yield store
    store.close()


@pytest.fixture
def run_factory(aquarium_store: Any) -> Iterator[Callable[..., Any]]:
    """``run_factory(**start_run_kwargs)``: start runs in ``aquarium_store``; all are finished
    at teardown."""
    import aquarium

    runs: list[Any] = []

    def make(**kwargs: Any) -> Any:
        kwargs.setdefault("store", aquarium_store)
        kwargs.setdefault("capture_source", False)
        run = aquarium.start_run(**kwargs)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.finish()
