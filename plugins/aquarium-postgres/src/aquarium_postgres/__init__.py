"""aquarium-postgres: the Aquarium store on PostgreSQL, for teams and clusters.

Point every trainer and the dashboard at one database::

    AQUARIUM_STORE=postgresql://aquarium@db.lab:5432/aquarium
    AQUARIUM_ARTIFACTS=/shared/aquarium-artifacts        # or s3://bucket/aquarium

See docs/postgres.md. :class:`PostgresStore` is imported lazily (it needs psycopg).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["PostgresStore", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "PostgresStore":
        from .store import PostgresStore

        return PostgresStore
    raise AttributeError(name)
