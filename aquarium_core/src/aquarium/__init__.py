"""Aquarium: a fast, crash-safe, local-first experiment tracker.

>>> import aquarium
>>> with aquarium.start_run(name="baseline", params={"lr": 0.1}) as run:
...     run.log({"loss": 0.5})
"""

from __future__ import annotations

from .errors import AquariumError, RunNotFoundError, StoreError, UnknownSchemeError
from .hookspecs import hookimpl
from .interfaces import Exporter, Importer, Store
from .interop import export, import_runs
from .model import Artifact, MetricSeries, MetricSummary, RunRecord, SourceInfo
from .neural import ExperimentManager, ExperimentTracker
from .stores import open_store
from .tracking import Run, Terminated, resume_run, start_run

__version__ = "0.1.0"

__all__ = [
    "AquariumError", "Artifact", "ExperimentManager", "ExperimentTracker", "Exporter", "Importer",
    "MetricSeries", "MetricSummary", "Run", "RunNotFoundError", "RunRecord", "SourceInfo", "Store",
    "StoreError", "Terminated", "UnknownSchemeError", "export", "hookimpl", "import_runs", "open_store",
    "resume_run", "start_run",
]
