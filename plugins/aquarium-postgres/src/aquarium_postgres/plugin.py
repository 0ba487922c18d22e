"""The ``aquarium`` entry point: ``postgresql://`` and ``postgres://`` URIs open a :class:`PostgresStore`.

psycopg is imported only when such a store is opened, so ``aquarium plugins`` and every
command that uses another store stay as fast as without this plugin.
"""

from __future__ import annotations

from typing import Any

from aquarium import hookimpl

SCHEMES = ("postgresql", "postgres")


def open_store(uri: str, *, artifacts: str | None = None) -> Any:
    """The store factory: ``uri`` as given, ``artifacts`` from ``AQUARIUM_ARTIFACTS``."""
    from .store import PostgresStore

    return PostgresStore(uri, artifacts=artifacts)


@hookimpl
def aquarium_register_stores(register: Any) -> None:
    """PostgreSQL stores for ``postgresql://`` and ``postgres://`` URIs."""
    for scheme in SCHEMES:
        register(scheme, open_store)
