"""The round-trip contract (``aquarium.testing.ExporterSuite``) against real MLflow targets:
a real ``mlflow server`` (sqlite backend), a sqlite tracking URI and a ``file:`` store.

No declared losses: ``aquarium/run.json`` brings back what MLflow's own data model cannot
hold (±inf, sub-millisecond timestamps, nested params, the exact status).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from aquarium.testing.exporter_suite import ExporterSuite
from aquarium_mlflow.testing import purge_runs

pytestmark = pytest.mark.slow  # a real mlflow server, real databases and processes


class _MlflowSuite(ExporterSuite):
    exporter = "mlflow"
    declared_losses = frozenset()
    examples = 5  # MLflow is slow; hypothesis examples kept small


class TestServerRoundTrip(_MlflowSuite):
    @pytest.fixture
    def target(self, server_uri):
        return server_uri

    def fresh_target(self, target, folder):
        return purge_runs(target)  # one server for the session: every example starts without runs


class TestSqliteRoundTrip(_MlflowSuite):
    @pytest.fixture
    def target(self, clean_sqlite_uri):
        return clean_sqlite_uri

    def fresh_target(self, target, folder):
        return purge_runs(target)


class TestFileStoreRoundTrip(_MlflowSuite):
    @pytest.fixture
    def target(self, file_uri):
        return file_uri

    def fresh_target(self, target, folder):
        return Path(os.path.join(folder, "mlruns")).as_uri()
