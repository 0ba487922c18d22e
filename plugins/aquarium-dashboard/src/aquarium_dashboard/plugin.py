"""The dashboard's hooks: the ``aquarium dashboard`` command and its own pages."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from aquarium import hookimpl


@hookimpl
def aquarium_register_commands(cli: click.Group) -> None:
    from .cli import dashboard_command

    cli.add_command(dashboard_command)


@hookimpl
def aquarium_register_dashboard_pages(register: Callable[[str, Any], None]) -> None:
    from .pages.compare import ComparePage
    from .pages.experiments import ExperimentsPage
    from .pages.export import ExportPage
    from .pages.visualize import VisualizePage

    for page in (ExperimentsPage(), ComparePage(), VisualizePage(), ExportPage()):
        register(page.name, page)
