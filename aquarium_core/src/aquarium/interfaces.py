"""The contracts behind the hooks. ``aquarium.testing.StoreSuite`` checks a ``Store``."""

from __future__ import annotations

import abc
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .model import Artifact, MetricSeries, MetricSummary, RunRecord

if TYPE_CHECKING:
    import click

    from .charts import ChartOptions
    from .interop import RunBundle, SourceRun, TransferResult
    from .query import Query


class Store(abc.ABC):
    """Where runs live. Every method is safe to call from several threads.

    Reads report :meth:`RunRecord.effective_status` as the status (a stale ``running`` run
    is ``crashed``). Unknown run ids raise :class:`aquarium.errors.RunNotFoundError`.
    """

    #: Short name of the store kind, e.g. ``"sqlite"``.
    name: str = ""
    #: The store's URI with any password redacted: safe to print.
    uri: str = ""
    #: A read-only store refuses writes (dashboards turn editing off).
    read_only: bool = False
    #: The URI the store was opened with, credentials included (set by ``open_store``; used
    #: to reach the store again, e.g. by ``aquarium sync``). Never print it: print ``uri``.
    connect_uri: str = ""

    # -- writes ---------------------------------------------------------------------------
    @abc.abstractmethod
    def create_run(self, record: RunRecord) -> None:
        """Store a new run (its params, tags and fields); an existing id raises ``ValueError``."""

    @abc.abstractmethod
    def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        started: float | None = None,
        ended: float | None = None,
        heartbeat: float | None = None,
        error: str | None = None,
        notes: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        directions: Mapping[str, str] | None = None,
    ) -> None:
        """Change the given fields. ``tags`` and ``directions`` merge into the existing ones;
        ``params`` replaces the nested params (the caller has merged and checked them)."""

    @abc.abstractmethod
    def write_batch(
        self,
        run_id: str,
        writer_id: str,
        seq: int,
        columns: Mapping[str, MetricSeries],
        heartbeat: float | None = None,
    ) -> bool:
        """Append points, update summaries and the heartbeat in one transaction.

        Idempotent per ``(run_id, writer_id, seq)``: a batch already stored is not stored
        again and the call returns ``False``; otherwise ``True``. Points of one key append
        after every point stored before (logging order).
        """

    @abc.abstractmethod
    def put_artifact(self, run_id: str, artifact: Artifact, path: str | os.PathLike) -> Artifact:
        """Copy the file at ``path`` into the store as ``artifact.name`` (its size and sha256
        are computed here); return the stored artifact. A name stored before is replaced."""

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Remove a run with its points and artifacts."""

    # -- reads ----------------------------------------------------------------------------
    @abc.abstractmethod
    def get_run(self, run_id: str) -> RunRecord:
        """One run with params, tags, summaries and artifacts."""

    @abc.abstractmethod
    def list_runs(self, experiment: str | None = None) -> list[RunRecord]:
        """Runs (optionally of one experiment), newest first, with summaries, reading no points."""

    def search(
        self,
        query: str | Query = "",
        *,
        experiment: str | None = None,
        order_by: str | Sequence[str] | None = ("-created",),
        limit: int | None = None,
        offset: int = 0,
        directions: Mapping[str, str] | None = None,
    ) -> list[RunRecord]:
        """Runs matching ``query`` (text of the query language, docs/query.md, or a parsed
        :class:`aquarium.query.Query`), with params, tags and summaries, reading no points.

        The contract: ``order_by`` lists fields of the query language, ``-`` first for
        descending order; runs lacking a field sort last whatever the direction; ties go
        newest first (``created``, then ``id``, descending). ``offset`` runs are skipped, then at
        most ``limit`` returned. ``directions`` (metric key → ``"min"``/``"max"``) overrides the
        run's own and the default direction for ``.best``/``.best_step``. A bad query raises
        :class:`aquarium.QueryError` before anything is read; a bad ``limit``/``offset``
        raises ``ValueError``. The answer must equal :func:`aquarium.query.select` on
        :meth:`list_runs` (status as readers see it: a stale ``running`` run is ``crashed``).

        This default does exactly that in Python; SQL stores override it with a compiled
        query (:class:`aquarium.query.SQLCompiler`).
        """
        from .query import check_window, parse, parse_order, select

        parsed = parse(query)  # mistakes raise before the store is read
        for spec in [order_by] if isinstance(order_by, str) else order_by or ():
            parse_order(spec)
        check_window(limit, offset)
        return select(self.list_runs(experiment), parsed, order_by=order_by, limit=limit, offset=offset,
                      directions=directions)

    @abc.abstractmethod
    def history(
        self,
        run_id: str,
        keys: Sequence[str] | None = None,
        *,
        start_step: int | None = None,
        end_step: int | None = None,
        max_points: int | None = None,
    ) -> dict[str, MetricSeries]:
        """Metric histories in logging order, optionally limited to steps in
        ``[start_step, end_step]`` and downsampled to at most ``max_points`` per key while
        keeping each bucket's minimum and maximum."""

    @abc.abstractmethod
    def summaries(self, run_id: str) -> dict[str, MetricSummary]:
        """Per-key summaries, maintained at write time."""

    @abc.abstractmethod
    def read_artifact(self, run_id: str, name: str) -> bytes:
        """The bytes of a stored artifact."""

    def ids_with_prefix(self, prefix: str, limit: int = 2) -> list[str]:
        """Run ids starting with ``prefix`` (at most ``limit``); stores may answer faster."""
        return sorted(r.id for r in self.list_runs() if r.id.startswith(prefix))[:limit]

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections."""


class Exporter(abc.ABC):
    """Moves Aquarium runs out to another tracker. Registered with ``aquarium_register_exporters``.

    ``export_run`` must be idempotent: exporting a run again updates the same target run
    (recognised on the target side, e.g. by a tag holding the Aquarium run id), and an export
    that died halfway completes when run again.
    """

    #: The target's name, e.g. ``"mlflow"``.
    name: str = ""
    #: One line for ``aquarium export --help``.
    description: str = ""
    #: What ``--to`` means for this target, for the CLI help.
    target_help: str = "where to export to"

    def check(self, to: str, **options: Any) -> None:  # noqa: B027 - optional hook
        """Fail fast, before any run is exported (missing library, unreachable target)."""

    @abc.abstractmethod
    def export_run(self, bundle: RunBundle, to: str, **options: Any) -> TransferResult:
        """Write one run (record, full history, artifact files) to the target."""

    def cli_options(self) -> list[click.Parameter]:
        """Extra click options of ``aquarium export NAME``; their values arrive as ``**options``."""
        return []


class Importer(abc.ABC):
    """Reads runs of another tracker into a store. Registered with ``aquarium_register_importers``.

    The core writes what :meth:`read` returns through the store interface and keeps a
    source id on each imported run, so importing the same source again never duplicates.
    """

    #: The source kind, e.g. ``"tensorboard"``.
    name: str = ""
    description: str = ""
    #: What SOURCE means for this importer, for the CLI help.
    source_help: str = "what to import"

    @abc.abstractmethod
    def discover(self, source: str, **options: Any) -> list[SourceRun]:
        """List the runs at ``source`` cheaply (ids and names, no points)."""

    @abc.abstractmethod
    def read(self, item: SourceRun, source: str, **options: Any) -> RunBundle:
        """Everything about one source run as a bundle (record, history, artifact files)."""

    def cli_options(self) -> list[click.Parameter]:
        """Extra click options of ``aquarium import NAME``; their values arrive as ``**options``."""
        return []


class Visualizer(abc.ABC):
    """Draws a :class:`aquarium.compare.Comparison` with one plotting library.

    Registered with ``aquarium_register_visualizers``. Every chart of
    :data:`aquarium.charts.CHARTS` is supported; options mean the same in every plugin
    (:class:`aquarium.charts.ChartOptions`). No chart sends more than ``max_points`` points per
    series to the browser, and everything users wrote (names, params, tags) is escaped.
    """

    #: The backend's name, e.g. ``"plotly"``.
    name: str = ""

    @abc.abstractmethod
    def render(self, chart: str, comparison: Any, options: ChartOptions) -> Any:
        """The library's own figure object for ``chart``."""

    @abc.abstractmethod
    def update(self, figure: Any, comparison: Any, options: ChartOptions) -> Any:
        """Bring a figure made by :meth:`render` up to date for a live view: stream new points
        where the library can, otherwise redraw keeping the user's zoom. Returns the figure."""

    @abc.abstractmethod
    def to_html(self, figures: Sequence[Any], *, title: str, theme: str = "dark", header_html: str = "") -> str:
        """One standalone HTML document holding every figure, its JavaScript embedded once (no
        CDN), ``title`` escaped, and ``header_html`` (already escaped by the core: e.g. the
        params that differ) above the figures."""


class DashboardPage(abc.ABC):
    """A tab of the dashboard. Registered with ``aquarium_register_dashboard_pages``.

    :meth:`build` runs once per browser session and returns anything Panel can show (a
    Panel component, a plotly or bokeh figure, a string shown as text). The core never
    imports Panel: the page's plugin does.
    """

    #: A short identifier, e.g. ``"gpu"`` (also the tab's URL fragment).
    name: str = ""
    #: The tab's label.
    title: str = ""
    #: Tabs sort by ``order`` (the dashboard's own use 10 to 40), then by name.
    order: int = 100

    @abc.abstractmethod
    def build(self, context: Any) -> Any:
        """The page for one session. ``context`` holds ``store``, ``selection`` (a Panel
        ``param`` object whose ``run_ids`` list follows the run table), ``chart_options()``,
        ``visualizers``, ``read_only``, ``allow_export`` and ``on_refresh(callback)``, which
        calls ``callback()`` every refresh interval while the session lasts."""
