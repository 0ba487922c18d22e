"""Aquarium ⇄ TensorBoard: export runs as event files (tensorboardX), import any logdir.

``aquarium.export(runs, "tensorboard", to=LOGDIR)`` and
``aquarium.import_runs("tensorboard", LOGDIR)``; on the command line
``aquarium export tensorboard ... --to LOGDIR`` and ``aquarium import tensorboard LOGDIR``.
See the README for what moves and the folder layout.
"""

from __future__ import annotations

from .exporter import TensorBoardExporter
from .importer import TensorBoardImporter

__all__ = ["TensorBoardExporter", "TensorBoardImporter"]
__version__ = "0.1.0"
