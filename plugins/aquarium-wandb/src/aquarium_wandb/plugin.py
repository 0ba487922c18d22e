"""The ``aquarium`` entry point of ``aquarium-wandb``: registers the exporter and the importer."""

from __future__ import annotations

from typing import Any

from aquarium import hookimpl

from .exporter import WandbExporter
from .importer import WandbImporter


@hookimpl
def aquarium_register_exporters(register: Any) -> None:
    register("wandb", WandbExporter())


@hookimpl
def aquarium_register_importers(register: Any) -> None:
    register("wandb", WandbImporter())
