"""The round-trip contract (``aquarium.testing.ExporterSuite``) with real event files."""

from __future__ import annotations

import os

import pytest

from aquarium.testing.exporter_suite import ExporterSuite


class TestTensorBoardRoundTrip(ExporterSuite):
    exporter = "tensorboard"
    declared_losses = frozenset()  # nothing: see the README
    examples = 10

    @pytest.fixture
    def target(self, tmp_path):
        return str(tmp_path / "logs")

    def fresh_target(self, target, folder):
        return os.path.join(folder, "logs")
