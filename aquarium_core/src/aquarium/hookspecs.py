"""Every pluggy hook of Aquarium (project name ``aquarium``).

A plugin is a module or object registered under the entry-point group ``aquarium`` that
implements some of these with ``@aquarium.hookimpl``. Each docstring below is that hook's
reference documentation (``docs/hooks.md`` is checked against this module).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from .interfaces import DashboardPage, Exporter, Importer, Store, Visualizer
    from .model import RunRecord

hookspec = pluggy.HookspecMarker("aquarium")
hookimpl = pluggy.HookimplMarker("aquarium")


@hookspec
def aquarium_register_stores(register: Callable[[str, Callable[..., Store]], None]) -> None:
    """Register store factories by URI scheme.

    Call ``register(scheme, factory)`` once per scheme. ``factory(uri, *, artifacts)`` gets
    the full URI and the artifact location (``AQUARIUM_ARTIFACTS`` or ``None``) and returns
    a :class:`aquarium.interfaces.Store`. The scheme is the part of the URI before ``://``
    (``"sqlite"``, ``"postgresql"``); the empty scheme ``""`` means a plain path. A scheme
    registered twice is reported with a warning naming both plugins, and the first one is
    kept (the core's built-ins load first, then plugins by entry-point name).
    """


@hookspec
def aquarium_register_commands(cli: click.Group) -> None:
    """Add click commands or groups to the ``aquarium`` command line.

    ``cli`` is a click group to call ``cli.add_command(command)`` on; what the plugin adds
    there becomes a top-level ``aquarium`` command. A name that is already taken is refused
    with a warning naming the plugin.
    """


@hookspec
def aquarium_run_started(run: RunRecord) -> None:
    """Called in the training process after a run is created in its store (not on resume).

    Runs on the caller's thread; keep it fast and never raise: an exception is reported
    as a warning and the run goes on.
    """


@hookspec
def aquarium_run_finished(run: RunRecord) -> None:
    """Called after a run's final status is stored (``completed``, ``failed`` or ``killed``).

    ``run.status``, ``run.ended`` and ``run.error`` hold the outcome. Like
    :func:`aquarium_run_started`, exceptions become warnings.
    """


@hookspec
def aquarium_register_exporters(register: Callable[[str, Exporter], None]) -> None:
    """Register exporters by target name: ``register("mlflow", MlflowExporter())``.

    Each becomes ``aquarium.export(runs, name, to=...)`` and the subcommand
    ``aquarium export NAME``. The exporter is a :class:`aquarium.interfaces.Exporter`.
    """


@hookspec
def aquarium_register_importers(register: Callable[[str, Importer], None]) -> None:
    """Register importers by source kind: ``register("tensorboard", TensorBoardImporter())``.

    Each becomes ``aquarium.import_runs(name, source)`` and the subcommand
    ``aquarium import NAME SOURCE``. The importer is a :class:`aquarium.interfaces.Importer`.
    """


@hookspec
def aquarium_register_visualizers(register: Callable[[str, Visualizer], None]) -> None:
    """Register visualizers by backend name: ``register("plotly", PlotlyVisualizer())``.

    ``Comparison.plot(..., backend=NAME)`` and ``Comparison.to_html`` use them; with several
    installed, ``AQUARIUM_VISUALIZER`` or ``backend=`` chooses. The visualizer is a
    :class:`aquarium.interfaces.Visualizer`.
    """


@hookspec
def aquarium_register_dashboard_pages(register: Callable[[str, DashboardPage], None]) -> None:
    """Register dashboard pages by name: ``register("gpu", GpuPage())``.

    Each :class:`aquarium.interfaces.DashboardPage` becomes a tab of the ``aquarium-dashboard``
    app (ordered by ``page.order``, then name), built once per browser session with
    ``page.build(context)``. The dashboard's own views (experiments, compare, visualize,
    export) are registered through this hook too.
    """
