"""The plugin registry: one pluggy manager per process, fed by the ``aquarium`` entry points.

Built-in parts (the SQLite store) are registered through the same entry-point group as
third-party plugins. A plugin that fails to import is reported once, as a warning naming
it and the error; the others still load. ``AQUARIUM_DISABLE_PLUGINS=a,b`` keeps the named
entry points out.
"""

from __future__ import annotations

import functools
import importlib.metadata
import os
import warnings
from collections.abc import Callable
from typing import Any

import attrs
import pluggy

from . import hookspecs

ENTRY_POINT_GROUP = "aquarium"
DISABLE_VARIABLE = "AQUARIUM_DISABLE_PLUGINS"


@attrs.define
class PluginInfo:
    """One entry point of the ``aquarium`` group and what became of it."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    hooks: list[str] = attrs.field(factory=list)
    error: str | None = None
    disabled: bool = False


class PluginWarning(UserWarning):
    """A plugin could not be loaded or registered something twice."""


def _disabled() -> set[str]:
    return {name.strip() for name in os.environ.get(DISABLE_VARIABLE, "").split(",") if name.strip()}


@functools.cache
def _load() -> tuple[pluggy.PluginManager, tuple[PluginInfo, ...]]:
    pm = pluggy.PluginManager("aquarium")
    pm.add_hookspecs(hookspecs)
    disabled = _disabled()
    infos = []
    def order(ep: importlib.metadata.EntryPoint) -> tuple[bool, str]:  # the core's built-ins first
        dist = getattr(ep, "dist", None)
        return (dist is None or dist.name != "aquarium-core", ep.name)

    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=order):
        dist = getattr(ep, "dist", None)
        info = PluginInfo(ep.name, ep.value, dist.name if dist else None, dist.version if dist else None)
        infos.append(info)
        if ep.name in disabled:
            info.disabled = True
            continue
        if pm.has_plugin(ep.name):  # the same distribution seen twice on sys.path
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as error:  # a broken plugin must not take the others down
            info.error = f"{type(error).__name__}: {error}"
            warnings.warn(f"Aquarium plugin {ep.name!r} ({ep.value}) failed to load: {info.error}",
                          PluginWarning, stacklevel=2)
            continue
        plugin = pm.get_plugin(ep.name)
        info.hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
    return pm, tuple(infos)


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager (built on first use)."""
    return _load()[0]


def plugin_infos() -> list[PluginInfo]:
    """Every entry point of the group: loaded, disabled or broken."""
    return list(_load()[1])


def register(plugin: object, name: str | None = None) -> None:
    """Register a plugin object at run time (tests, notebooks); registries are rebuilt."""
    plugin_manager().register(plugin, name=name)
    _registry.cache_clear()


def unregister(plugin: object) -> None:
    """Undo :func:`register`."""
    plugin_manager().unregister(plugin)
    _registry.cache_clear()


def reset() -> None:
    """Forget the registry so the next use loads entry points again (tests, notebooks)."""
    _load.cache_clear()
    _registry.cache_clear()



@functools.cache
def _registry(hook: str) -> dict[str, tuple[str, Any]]:
    """Call a registration hook once and collect ``register(name, thing)`` calls by plugin."""
    pm = plugin_manager()
    found: dict[str, tuple[str, Any]] = {}
    for impl in reversed(getattr(pm.hook, hook).get_hookimpls()):
        owner = pm.get_name(impl.plugin) or repr(impl.plugin)

        def register(name: str, thing: Any, _owner: str = owner) -> None:
            if name in found and found[name][0] != _owner:
                warnings.warn(f"{hook}: {name!r} is registered by both {found[name][0]!r} and {_owner!r};"
                              f" keeping {found[name][0]!r}", PluginWarning, stacklevel=2)
                return
            found[name] = (_owner, thing)

        try:
            impl.function(register)
        except Exception as error:
            warnings.warn(f"Aquarium plugin {owner!r} failed in {hook}: {type(error).__name__}: {error}",
                          PluginWarning, stacklevel=2)
    return found


def registered(hook: str) -> dict[str, Any]:
    """What plugins registered through a registration hook, by name."""
    return {name: thing for name, (_, thing) in _registry(hook).items()}


def visualizers() -> dict[str, Any]:
    """Installed visualizers by backend name."""
    return registered("aquarium_register_visualizers")


def store_factories() -> dict[str, Callable[..., Any]]:
    """Store factories by URI scheme."""
    return registered("aquarium_register_stores")


def notify(event: str, **kwargs: Any) -> None:
    """Call an event hook; a plugin's exception becomes a warning."""
    pm = plugin_manager()
    for impl in getattr(pm.hook, event).get_hookimpls():
        try:
            impl.function(**kwargs)
        except Exception as error:
            warnings.warn(f"Aquarium plugin {pm.get_name(impl.plugin)!r} failed in {event}: "
                          f"{type(error).__name__}: {error}", PluginWarning, stacklevel=2)
