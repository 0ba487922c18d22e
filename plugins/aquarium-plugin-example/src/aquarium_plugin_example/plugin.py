"""The entry point ``jsonl`` of the group ``aquarium``: the hook implementations.

Aquarium imports this module when it loads plugins and calls each ``@aquarium.hookimpl``
function once per process, with a ``register(name, thing)`` callable.
"""

from __future__ import annotations

from collections.abc import Callable

import aquarium
from aquarium.interfaces import Exporter, Importer

from .exporter import JsonlExporter
from .importer import JsonlImporter


@aquarium.hookimpl
def aquarium_register_exporters(register: Callable[[str, Exporter], None]) -> None:
    """``aquarium.export(runs, "jsonl", to=FOLDER)`` and ``aquarium export jsonl``."""
    register("jsonl", JsonlExporter())


@aquarium.hookimpl
def aquarium_register_importers(register: Callable[[str, Importer], None]) -> None:
    """``aquarium.import_runs("jsonl", FOLDER)`` and ``aquarium import jsonl``."""
    register("jsonl", JsonlImporter())
