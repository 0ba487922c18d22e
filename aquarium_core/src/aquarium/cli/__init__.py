"""The ``aquarium`` command line. Plugins add commands through ``aquarium_register_commands``."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import click

from .. import plugins
from . import compare, interop, runs, stores, track  # noqa: F401 - each registers its commands
from .base import cli

__all__ = ["cli", "main"]
_loaded = False


def add_plugin_commands(group: click.Group) -> None:
    """Add the commands of every plugin implementing ``aquarium_register_commands`` (once)."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    pm = plugins.plugin_manager()
    for impl in pm.hook.aquarium_register_commands.get_hookimpls():
        owner = pm.get_name(impl.plugin)
        probe = click.Group()
        try:
            impl.function(cli=probe)
        except Exception as error:
            warnings.warn(f"Aquarium plugin {owner!r} failed to add commands: {error}", plugins.PluginWarning,
                          stacklevel=2)
            continue
        for name, command in probe.commands.items():
            if name in group.commands:
                warnings.warn(f"Aquarium plugin {owner!r}: command {name!r} is taken", plugins.PluginWarning,
                              stacklevel=2)
                continue
            group.add_command(command, name)


def main(argv: list[str] | None = None) -> Any:
    """Entry point of the ``aquarium`` script."""
    add_plugin_commands(cli)
    return cli.main(args=argv if argv is not None else sys.argv[1:], prog_name="aquarium")
