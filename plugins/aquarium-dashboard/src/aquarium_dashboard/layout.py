"""The app of one browser session: every registered page as a tab, in the original colours."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import panel as pn

from aquarium import plugins
from aquarium.interfaces import DashboardPage, Store
from aquarium.stores import open_store

from .charts import hint
from .context import DashboardContext
from .text import text_pane

log = logging.getLogger("aquarium.dashboard")

HEADER = "#375a7f"  # the original Aquarium's primary colour
ENV_STORE, ENV_REFRESH, ENV_EXPORT, ENV_READ_ONLY, ENV_CHARTS = (
    "AQUARIUM_STORE", "AQUARIUM_DASHBOARD_REFRESH", "AQUARIUM_DASHBOARD_ALLOW_EXPORT", "AQUARIUM_DASHBOARD_READ_ONLY",
    "AQUARIUM_DASHBOARD_CHARTS")


def pages() -> list[DashboardPage]:
    """Every page registered through ``aquarium_register_dashboard_pages``, in tab order."""
    found = plugins.registered("aquarium_register_dashboard_pages")
    return sorted(found.values(), key=lambda page: (page.order, page.name))


def chart_backends(charts: Sequence[str] | None = None) -> dict[str, Any]:
    """The visualizers the dashboard offers: ``charts`` (names) or every installed one."""
    found = plugins.visualizers()
    if charts is None:
        return found
    unknown = [name for name in charts if name not in found]
    if unknown:
        installed = ", ".join(sorted(found)) or "none"
        raise ValueError(f"no visualizer named {unknown[0]!r} is installed (installed: {installed})")
    return {name: found[name] for name in charts}


def extensions(charts: Sequence[str] | None = None) -> list[str]:
    """The Panel extensions the offered visualizers need: plotly's adds plotly.js (about a second
    of first paint); bokeh is Panel's own."""
    return ["tabulator", *(["plotly"] if "plotly" in chart_backends(charts) else [])]


def session_theme() -> str:
    """``"dark"`` unless the page was asked for in the light theme (the template's switch)."""
    args = pn.state.session_args or {}
    wanted = (args.get("theme") or [b"dark"])[0]
    return "light" if (wanted.decode() if isinstance(wanted, bytes) else wanted) in ("default", "light") else "dark"


def theme_switch(theme: str) -> pn.widgets.Button:
    """A header button that reloads the page in the other theme (the theme is in the URL)."""
    other = "light" if theme == "dark" else "dark"
    button = pn.widgets.Button(label=f"{other} theme", color="light",
                               width=120, css_classes=["aquarium-theme-switch"])
    button.js_on_click(args={"theme": "default" if other == "light" else "dark"},
                       code="const u = new URL(window.location.href); u.searchParams.set('theme', theme);"
                            " window.location.href = u.toString();")
    return button


def build_app(store: Store | str | None = None, *, refresh: float = 5.0, allow_export: bool = True,
              read_only: bool = False, charts: Sequence[str] | None = None) -> pn.template.BootstrapTemplate:
    """The dashboard for one session (call it once per session: each gets its own state)."""
    theme = session_theme()
    context = DashboardContext(store if isinstance(store, Store) else open_store(store), chart_backends(charts),
                               theme=theme, read_only=read_only, allow_export=allow_export, refresh=refresh)
    # dynamic: the browser gets only the open tab's content, so the first paint is the table's.
    tabs = pn.Tabs(dynamic=True, sizing_mode="stretch_width", css_classes=["aquarium-tabs"])
    shown = pages()
    context.settings.page = shown[0].name if shown else ""
    tabs.param.watch(lambda event: setattr(context.settings, "page", shown[event.new].name), "active")
    for page in shown:
        try:
            body = page.build(context)
        except Exception as error:  # a broken page shows its error; the others still work
            log.exception("aquarium dashboard: page %r failed to build", page.name)
            body = text_pane(f"This page could not be built: {type(error).__name__}: {error}")
        tabs.append((page.title or page.name, pn.panel(body) if not isinstance(body, pn.viewable.Viewable) else body))
    sidebar: list[Any] = [text_pane(f"store: {context.store.uri}", css_classes=["aquarium-store-uri"])]
    if context.read_only:
        sidebar.append(pn.pane.Markdown("*read-only store*"))
    if len(context.visualizers) > 1:
        sidebar.append(pn.widgets.RadioButtonGroup.from_param(context.settings.param.backend, name="Charts",
                                                              css_classes=["aquarium-backend"]))
    elif not context.visualizers:
        sidebar.append(hint())
    sidebar.append(text_pane(f"refreshes every {refresh:g} s"))
    if pn.state.curdoc is not None and refresh > 0:
        pn.state.add_periodic_callback(context.tick, period=int(refresh * 1000))
    # Bootstrap, not Fast: Fast's design fetches a web font from Google, and the page must load
    # everything from this server alone.
    template = pn.template.BootstrapTemplate(
        title="Aquarium", sidebar=sidebar, main=[tabs], theme="dark" if theme == "dark" else "default",
        header_background=HEADER, sidebar_width=260,
    )
    template.header.append(theme_switch(theme))
    template.context = context  # for tests and pages that want to reach it
    return template


def app_from_environment() -> pn.template.BootstrapTemplate:
    """The app as ``panel serve`` builds it: settings from the environment."""
    refresh = float(os.environ.get(ENV_REFRESH, "5"))
    allow = os.environ.get(ENV_EXPORT, "1").lower() not in ("0", "false", "no", "")
    read_only = os.environ.get(ENV_READ_ONLY, "0").lower() in ("1", "true", "yes")
    return build_app(os.environ.get(ENV_STORE) or None, refresh=refresh, allow_export=allow, read_only=read_only,
                     charts=environment_charts())


def environment_charts() -> list[str] | None:
    """``AQUARIUM_DASHBOARD_CHARTS`` (comma-separated visualizer names), or None for all."""
    names = [n.strip() for n in os.environ.get(ENV_CHARTS, "").split(",") if n.strip()]
    return names or None
