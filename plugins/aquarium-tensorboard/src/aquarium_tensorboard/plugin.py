"""The entry point ``tensorboard`` of the group ``aquarium``: registers the exporter and the importer.

Importing this module is cheap: tensorboardX and tensorboard are imported only when an
export or import runs (a missing one is reported with the package to install).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aquarium

from .exporter import TensorBoardExporter
from .importer import TensorBoardImporter


@aquarium.hookimpl
def aquarium_register_exporters(register: Callable[[str, Any], None]) -> None:
    register("tensorboard", TensorBoardExporter())


@aquarium.hookimpl
def aquarium_register_importers(register: Callable[[str, Any], None]) -> None:
    register("tensorboard", TensorBoardImporter())
