"""The app of one browser session: every registered page as a tab, in the original colours."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

import panel as pn

from aquarium import plugins
from aquarium.charts import THEMES
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
    """The Panel extensions the visualizers ``charts`` need: plotly's adds plotly.js (about a
    second of first paint); bokeh is Panel's own."""
    return ["tabulator", *(["plotly"] if "plotly" in chart_backends(charts) else [])]


def session_arg(name: str) -> str | None:
    """A query argument of the page's URL (``?theme=``, ``?charts=``), or None."""
    values = (pn.state.session_args or {}).get(name) or [None]
    value = values[0]
    return value.decode() if isinstance(value, bytes) else value


def session_theme() -> str:
    """``"dark"`` unless the page was asked for in the light theme (``?theme=default``)."""
    return "light" if session_arg("theme") in ("default", "light") else "dark"


def session_backend(offered: Sequence[str]) -> str | None:
    """The visualizer this session draws with: ``?charts=NAME`` when offered, else bokeh when
    offered (Panel draws it with what the page already has), else the first offered."""
    wanted = session_arg("charts")
    if wanted in offered:
        return wanted
    return "bokeh" if "bokeh" in offered else (sorted(offered)[0] if offered else None)


def _reload_with(button: Any, arg: str, value_js: str, **args: Any) -> None:
    """Make ``button`` reload the page with ``?ARG=<value_js>`` (both settings live in the URL,
    so a bookmark keeps them and every session loads only the JavaScript it needs)."""
    code = (f"const u = new URL(window.location.href); u.searchParams.set('{arg}', {value_js});"
            " window.location.href = u.toString();")
    if isinstance(button, pn.widgets.Button):
        button.js_on_click(args=args, code=code)
    else:
        button.jscallback(args=args, value=code)


def theme_switch(theme: str) -> pn.widgets.Button:
    """A header button that reloads the page in the other theme."""
    other = "light" if theme == "dark" else "dark"
    button = pn.widgets.Button(label=f"{other} theme", color="light", width=110, css_classes=["aquarium-theme-switch"])
    _reload_with(button, "theme", "theme", theme="default" if other == "light" else "dark")
    return button


def chart_switch(offered: Sequence[str], backend: str) -> pn.widgets.RadioButtonGroup:
    """The plotly/bokeh switch: reloads the page drawing with the other library."""
    switch = pn.widgets.RadioButtonGroup(options=list(offered), value=backend, css_classes=["aquarium-backend"])
    _reload_with(switch, "charts", "source.labels[source.active]")
    return switch


def build_app(store: Store | str | None = None, *, refresh: float = 5.0, allow_export: bool = True,
              read_only: bool = False, charts: Sequence[str] | None = None) -> pn.Column:
    """The dashboard for one session (call it once per session: each gets its own state)."""
    theme = session_theme()
    offered = chart_backends(charts)
    backend = session_backend(list(offered))
    # Per session: only the chosen library's JavaScript is in the page.
    pn.extension(*extensions([backend] if backend else []), notifications=False)
    pn.config.theme = "dark" if theme == "dark" else "default"
    context = DashboardContext(store if isinstance(store, Store) else open_store(store), offered,
                               theme=theme, read_only=read_only, allow_export=allow_export, refresh=refresh)
    context.settings.backend = backend
    # dynamic: the browser gets only the open tab's content, so the first paint is the table's.
    tabs = pn.Tabs(dynamic=True, sizing_mode="stretch_width", css_classes=["aquarium-tabs"],
                   stylesheets=[f".bk-tab {{ color: {THEMES[theme]['text']}; }} .bk-tab.bk-active "
                                f"{{ color: #ffffff; background-color: {HEADER}; }}"])
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
    colors = THEMES[theme]
    bar: list[Any] = [pn.pane.HTML("<b>Aquarium</b>", styles={"color": "#ffffff", "font-size": "22px"}, margin=(8, 16)),
                      theme_switch(theme)]
    if len(offered) > 1:
        bar.append(chart_switch(list(offered), backend))
    bar.append(pn.HSpacer())
    bar.append(text_pane(f"{context.store.uri}{'  (read-only)' if context.read_only else ''}  ·  "
                         f"refresh {refresh:g} s", css_classes=["aquarium-store-uri"], styles={"color": "#ffffff"}))
    header = pn.Row(*bar, sizing_mode="stretch_width", styles={"background": HEADER}, css_classes=["aquarium-header"])
    body: list[Any] = [] if offered else [hint()]
    if pn.state.curdoc is not None and refresh > 0:
        pn.state.add_periodic_callback(context.tick, period=int(refresh * 1000))
    # No Panel template: the Bootstrap one cost half a second of first paint, and Fast's fetches
    # a web font from Google (the page must load everything from this server alone).
    app = pn.Column(header, *body, tabs, sizing_mode="stretch_width", css_classes=["aquarium-app"],
                    styles={"background": colors["paper"], "min-height": "100vh"})
    app.context = context  # for tests and pages that want to reach it
    return app


def app_from_environment() -> pn.Column:
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
