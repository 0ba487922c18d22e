"""Aquarium: a fast, crash-safe, local-first experiment tracker.

>>> import aquarium
>>> with aquarium.start_run(name="baseline", params={"lr": 0.1}) as run:
...     run.log({"loss": 0.5})
"""

from __future__ import annotations

from .compare import Comparison, compare
from .errors import AquariumError, QueryError, RunNotFoundError, StoreError, UnknownSchemeError
from .hookspecs import hookimpl
from .interfaces import Exporter, Importer, Store
from .interop import export, import_runs
from .model import Artifact, MetricSeries, MetricSummary, RunRecord, SourceInfo
from .neural import ExperimentManager, ExperimentTracker
from .query import search
from .stores import open_store
from .tracking import Run, Terminated, resume_run, start_run

__version__ = "0.1.0"

__all__ = [
    "AquariumError", "Artifact", "Comparison", "ExperimentManager", "ExperimentTracker", "Exporter", "Importer",
    "MetricSeries", "MetricSummary", "QueryError", "Run", "RunNotFoundError", "RunRecord", "SourceInfo", "Store",
    "StoreError", "Terminated", "UnknownSchemeError", "compare", "export", "hookimpl", "import_runs", "open_store",
    "resume_run", "search", "start_run",
]
