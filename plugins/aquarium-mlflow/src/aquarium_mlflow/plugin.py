"""The hook implementations of ``aquarium-mlflow`` (entry point ``mlflow`` in the group ``aquarium``).

Registering imports neither mlflow nor anything heavy: mlflow is imported when an export
or import runs, and a missing mlflow is reported then, naming the package to install.
"""

from __future__ import annotations

from typing import Any

from aquarium import hookimpl

from .exporter import MlflowExporter
from .importer import MlflowImporter


@hookimpl
def aquarium_register_exporters(register: Any) -> None:
    register("mlflow", MlflowExporter())


@hookimpl
def aquarium_register_importers(register: Any) -> None:
    register("mlflow", MlflowImporter())
