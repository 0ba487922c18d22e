"""Aquarium ⇄ MLflow: ``aquarium export mlflow`` and ``aquarium import mlflow``.

>>> import aquarium
>>> aquarium.export(["<run id>"], "mlflow", to="http://127.0.0.1:5000")      # doctest: +SKIP
>>> aquarium.import_runs("mlflow", "sqlite:///mlflow.db")                     # doctest: +SKIP

See the package README (and docs/interop-mlflow.md) for what moves, what MLflow cannot
hold and how re-exports stay idempotent.
"""

from __future__ import annotations

from ._common import MlflowExportWarning, MlflowPluginError
from .exporter import MlflowExporter
from .importer import MlflowImporter, MlflowImportWarning

__version__ = "0.1.0"

__all__ = ["MlflowExportWarning", "MlflowExporter", "MlflowImportWarning", "MlflowImporter", "MlflowPluginError",
           "__version__"]
