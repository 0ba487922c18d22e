"""The store contract, unchanged, against a real PostgreSQL server (a fresh schema per test)."""

from __future__ import annotations

import pytest

from aquarium.testing import StoreSuite


class TestPostgresStore(StoreSuite):
    @pytest.fixture
    def store(self, pg_store):
        return pg_store
