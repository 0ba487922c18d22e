"""A template Aquarium plugin: runs exported as JSON Lines and CSV, and imported back.

Written only against Aquarium's public plugin API (``aquarium.hookimpl``,
``aquarium.interfaces.Exporter``/``Importer``, the ``aquarium.interop`` types and the core
converter ``aquarium.serialization``), so it is a starting point to copy. The walk-through
is docs/plugins.md.
"""

from __future__ import annotations

from .exporter import JsonlExporter
from .importer import JsonlImporter
from .layout import FORMAT, RUNS_FILE

__version__ = "0.1.0"

__all__ = ["FORMAT", "RUNS_FILE", "JsonlExporter", "JsonlImporter"]
