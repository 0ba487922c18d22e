"""The round-trip contract of the test kit: generated runs exported and imported back, equal."""

from __future__ import annotations

import os

import pytest

from aquarium.testing import ExporterSuite


class TestJsonlRoundTrip(ExporterSuite):
    exporter = "jsonl"  # the importer has the same name
    declared_losses = frozenset()  # nothing is lost: see the README
    examples = 25  # plain files are fast

    @pytest.fixture
    def target(self, tmp_path):
        return str(tmp_path / "out")

    def fresh_target(self, target, folder):
        return os.path.join(folder, "out")
