"""Test kit for Aquarium and its plugins: fixtures and contract suites.

The pytest plugin (:mod:`aquarium.testing.plugin`, entry point ``pytest11``) provides the
fixtures ``aquarium_store`` and ``run_factory``. Contract suites (``StoreSuite``,
``ExporterSuite``, ``VisualizerSuite``) are imported from here (they need the ``aquarium-core[testing]`` extra,
i.e. hypothesis)::

    from aquarium.testing import StoreSuite

    class TestMyStore(StoreSuite):
        @pytest.fixture
        def store(self, tmp_path):
            return MyStore(...)
"""

from __future__ import annotations

from typing import Any

__all__ = ["ExporterSuite", "StoreSuite", "VisualizerSuite", "make_series"]


def __getattr__(name: str) -> Any:  # keep ``import aquarium.testing`` light
    if name == "StoreSuite":
        from .store_suite import StoreSuite

        return StoreSuite
    if name == "ExporterSuite":
        from .exporter_suite import ExporterSuite

        return ExporterSuite
    if name == "VisualizerSuite":
        from .visualizer_suite import VisualizerSuite

        return VisualizerSuite
    if name == "make_series":
        from .store_suite import make_series

        return make_series
    raise AttributeError(name)
