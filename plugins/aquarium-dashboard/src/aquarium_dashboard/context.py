"""What a dashboard page gets: the store, the shared selection, chart settings and the refresh tick."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import param

from aquarium.charts import ChartOptions
from aquarium.interfaces import Store, Visualizer

log = logging.getLogger("aquarium.dashboard")


class Selection(param.Parameterized):
    """The runs ticked in the run table, in table order (shared by every page of a session)."""

    run_ids = param.List(default=[], item_type=str)


class Settings(param.Parameterized):
    """Session-wide chart settings: the visualizer backend (a switch when several are installed)."""

    backend = param.Selector(default=None, objects=[None], allow_None=True)
    page = param.String(default="", doc="The name of the page whose tab is open.")


class DashboardContext:
    """One browser session's view of the store. Pages get it in ``DashboardPage.build``."""

    def __init__(self, store: Store, visualizers: dict[str, Visualizer], *, theme: str = "dark",
                 read_only: bool = False, allow_export: bool = True, refresh: float = 5.0) -> None:
        self.store = store
        self.visualizers = visualizers
        self.theme = theme
        self.read_only = read_only or bool(getattr(store, "read_only", False))
        self.allow_export = allow_export
        self.refresh = refresh
        self.selection = Selection()
        names = sorted(visualizers, key=lambda n: (n != "plotly", n))
        self.settings = Settings()
        self.settings.param.backend.objects = names or [None]
        self.settings.backend = names[0] if names else None
        self._callbacks: list[Callable[[], Any]] = []

    @property
    def table_theme(self) -> str:
        """The Tabulator theme that goes with the page's theme."""
        return "midnight" if self.theme == "dark" else "simple"

    @property
    def visualizer(self) -> Visualizer | None:
        """The visualizer charts are drawn with now, or None when no visualizer is installed."""
        return self.visualizers.get(self.settings.backend) if self.settings.backend else None

    def chart_options(self, **options: Any) -> ChartOptions:
        """Chart options in the session's theme."""
        return ChartOptions.of(theme=self.theme, **options)

    def on_shown(self, page: str, work: Callable[[], Any]) -> Callable[..., None]:
        """A trigger for work a page needs only while its tab is open: calling it runs ``work``
        now when ``page`` is open, else once, when its tab is opened."""
        pending = [False]

        def request(*_: Any) -> None:
            pending[0] = self.settings.page != page
            if not pending[0]:
                work()

        def shown(event: Any) -> None:
            if event.new == page and pending[0]:
                pending[0] = False
                work()

        self.settings.param.watch(shown, "page")
        return request

    def on_refresh(self, callback: Callable[[], Any]) -> None:
        """Call ``callback()`` on every refresh tick of this session."""
        self._callbacks.append(callback)

    def tick(self) -> None:
        """One refresh: every page's callback; one failing is logged, the others still run."""
        for callback in list(self._callbacks):
            try:
                callback()
            except Exception:  # a page's trouble must not stop the others' updates
                log.exception("aquarium dashboard: refresh of %r failed", callback)
