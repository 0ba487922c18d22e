"""Aquarium ⇄ Weights & Biases: export runs as W&B offline runs, import W&B run folders.

``aquarium.export(runs, "wandb", to=FOLDER)`` and ``aquarium.import_runs("wandb", FOLDER)``,
or ``aquarium export wandb ... --to FOLDER`` and ``aquarium import wandb FOLDER``. Importing
this package does not import ``wandb``; exporting and importing do.
"""

from __future__ import annotations

from .exporter import WandbExporter, wandb_run_id
from .importer import WandbImporter
from .records import iter_records, read_run_file

__all__ = ["WandbExporter", "WandbImporter", "iter_records", "read_run_file", "wandb_run_id"]
__version__ = "0.1.0"
