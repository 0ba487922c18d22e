"""``aquarium.compare()``: runs side by side, as tables, curves and seed groups.

>>> cmp = aquarium.compare("params.lr >= 0.01 and status = completed", ["loss", "acc"])
>>> cmp.params.differing                # the params that tell the runs apart
>>> cmp.best("loss")                    # Best(run_id=..., run_name=..., value=..., step=...)
>>> cmp.summary[run_id]["acc"].best     # per run and metric: last, best, min, max, ...
>>> cmp.curves("loss", x="wall_time", smoothing="ema:0.6")
>>> cmp.groups("acc")                   # seeds of one group: mean, std, min, max per step

Building a comparison reads runs with their params, tags and metric summaries only; metric
points are read on the first :meth:`Comparison.curves` or :meth:`Comparison.groups` call
(one ``store.history`` call per run, cached). "Best" follows :mod:`aquarium.directions`:
the call's ``direction={"metric": "min"}`` first, then the run's own
``run.set_direction``, then the key's name.
"""

from __future__ import annotations

import functools
import html
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import attrs
import numpy as np

from . import plugins, series
from .charts import X_AXES, ChartOptions, check_chart
from .directions import direction as resolve_direction
from .errors import AquariumError
from .interfaces import Store
from .model import MetricSeries, MetricSummary, RunRecord
from .report import write_report
from .selection import resolve_runs
from .serialization import converter, encode_float
from .stores import open_store
from .tracking import Run
from .validation import flatten

__all__ = ["Best", "Comparison", "Curve", "GroupAggregate", "MetricStats", "ParamTable", "SummaryTable", "compare"]

INSTALL_HINT = "pip install aquarium-plotly (or: pip install aquarium-bokeh)"
VISUALIZER_VARIABLE = "AQUARIUM_VISUALIZER"
_DIRECTIONS = ("min", "max")


class Best(NamedTuple):
    """The best value of a metric among the compared runs."""

    run_id: str
    run_name: str
    value: float
    step: int


@attrs.frozen
class MetricStats:
    """One run's metric in a comparison: read from the summary kept at write time.

    ``best`` follows ``direction``; ``best_step`` is ``None`` (and ``best`` NaN) when every
    value is NaN. ``time_to_best`` is the wall time in seconds from the run's start to the
    best point.
    """

    run_id: str
    run_name: str
    metric: str
    direction: str
    count: int
    last: float
    last_step: int
    best: float
    best_step: int | None
    time_to_best: float | None
    min: float
    max: float


@attrs.frozen(eq=False)
class Curve:
    """One run's points of a metric, on its own x (no interpolation).

    ``y`` is smoothed when a smoothing was asked for, and ``raw`` holds the values as
    logged; ``steps`` are the points' steps (the pairing key when ``x`` is a metric).
    """

    run_id: str
    run_name: str
    group: str | None
    metric: str
    x_axis: str
    steps: np.ndarray
    x: np.ndarray
    y: np.ndarray
    raw: np.ndarray
    smoothing: str | None = None

    def __len__(self) -> int:
        return len(self.y)


@attrs.frozen(eq=False)
class GroupAggregate:
    """The runs of one group aggregated step-wise on the union of their steps.

    Per step: ``count`` runs with a finite value there, their ``mean``, sample ``std``
    (NaN where fewer than two contribute), ``min`` and ``max``. ``finals`` holds each run's
    last value and ``final`` their mean with a Student's t confidence interval (``level``,
    95 % by default), computed on the values as logged even when the curves are smoothed.
    """

    group: str
    metric: str
    run_ids: list[str]
    steps: np.ndarray
    count: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    min: np.ndarray
    max: np.ndarray
    finals: np.ndarray
    final: series.MeanInterval
    smoothing: str | None = None


def _comparable(value: Any) -> Any:
    """A key under which equal param values compare equal (1 == 1.0, but True != 1)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return (type(value).__name__, value)
    if isinstance(value, (int, float)):
        return ("number", float(value))
    if isinstance(value, (list, tuple)):
        return ("list", tuple(_comparable(v) for v in value))
    return ("json", json.dumps(value, sort_keys=True, default=str))


class ParamTable:
    """Params (flattened with dots: ``optimizer.lr``) × runs.

    ``keys`` lists every param any run has, sorted; ``differing`` those whose values are not
    the same in every run, counting a param that only some runs have. ``table[key]`` maps
    run id → value for the runs that have it.
    """

    def __init__(self, runs: Sequence[RunRecord]) -> None:
        self.run_ids = [run.id for run in runs]
        flat = [flatten(run.params) for run in runs]
        self.keys: list[str] = sorted({key for params in flat for key in params})
        self._values: dict[str, dict[str, Any]] = {
            key: {run.id: params[key] for run, params in zip(runs, flat) if key in params} for key in self.keys
        }
        self.differing: list[str] = [
            key for key in self.keys
            if len(self._values[key]) < len(runs)
            or len({_comparable(v) for v in self._values[key].values()}) > 1
        ]

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self._values[key]

    def __contains__(self, key: object) -> bool:
        return key in self._values

    def __iter__(self):
        return iter(self.keys)

    def __len__(self) -> int:
        return len(self.keys)

    @property
    def rows(self) -> list[dict[str, Any]]:
        """One dict per param: ``{"param": key, "differs": bool, "values": {run_id: value}}``
        (a run that lacks the param is absent from ``values``)."""
        differing = set(self.differing)
        return [{"param": key, "differs": key in differing, "values": dict(self._values[key])} for key in self.keys]

    def to_dict(self) -> dict[str, Any]:
        return {"run_ids": list(self.run_ids), "differing": list(self.differing), "rows": self.rows}

    def __repr__(self) -> str:
        return f"<ParamTable {len(self.keys)} params × {len(self.run_ids)} runs, {len(self.differing)} differing>"


class SummaryTable:
    """Per run and metric, a :class:`MetricStats`: ``table[run_id][metric]``, or ``table.rows``."""

    def __init__(self, rows: Sequence[MetricStats]) -> None:
        self.rows: list[MetricStats] = list(rows)
        self._by_run: dict[str, dict[str, MetricStats]] = {}
        for row in self.rows:
            self._by_run.setdefault(row.run_id, {})[row.metric] = row

    def __getitem__(self, run_id: str) -> dict[str, MetricStats]:
        return self._by_run[run_id]

    def get(self, run_id: str, metric: str) -> MetricStats | None:
        return self._by_run.get(run_id, {}).get(metric)

    def metric(self, metric: str) -> list[MetricStats]:
        """The rows of one metric, in the comparison's run order."""
        return [row for row in self.rows if row.metric == metric]

    def __iter__(self):
        return iter(self.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def to_dict(self) -> list[dict[str, Any]]:
        return [converter.unstructure(row) for row in self.rows]

    def __repr__(self) -> str:
        return f"<SummaryTable {len(self.rows)} rows>"


def _check_directions(direction: Mapping[str, str] | None) -> dict[str, str]:
    if direction is None:
        return {}
    if not isinstance(direction, Mapping):
        raise TypeError(f"direction must map metric keys to 'min' or 'max', e.g. {{'loss': 'min'}}, "
                        f"not {direction!r}")
    for key, value in direction.items():
        if value not in _DIRECTIONS:
            raise ValueError(f"direction for {key!r} must be 'min' or 'max', not {value!r}")
    return dict(direction)


class Comparison:
    """Runs side by side; build it with :func:`compare`."""

    def __init__(
        self,
        runs: Sequence[RunRecord],
        metrics: Sequence[str] | None = None,
        *,
        store: Store | str | os.PathLike | None = None,
        direction: Mapping[str, str] | None = None,
    ) -> None:
        self.runs: list[RunRecord] = list(runs)
        self.direction: dict[str, str] = _check_directions(direction)
        self._store_arg = store
        known = sorted({key for run in self.runs for key in run.summaries})
        if metrics is None:
            self.metrics: list[str] = known
        else:
            wanted = [metrics] if isinstance(metrics, str) else list(dict.fromkeys(metrics))
            missing = [m for m in wanted if m not in known]
            if missing and self.runs:
                raise ValueError(f"no compared run has the metric{'s' if len(missing) > 1 else ''} "
                                 f"{', '.join(map(repr, missing))}; they have: {', '.join(known) or 'none'}")
            self.metrics = wanted
        self._by_id = {run.id: run for run in self.runs}
        self._points: dict[str, dict[str, MetricSeries]] = {}
        self._fetched: dict[str, set[str]] = {}
        self._groups: dict[tuple[str, str | None, float], dict[str, GroupAggregate]] = {}

    # -- the store, lazily: records passed in need none until points are read -----------------
    @functools.cached_property
    def store(self) -> Store:
        return open_store(self._store_arg)

    def __len__(self) -> int:
        return len(self.runs)

    def __repr__(self) -> str:
        return f"<Comparison of {len(self.runs)} runs, metrics {self.metrics}>"

    # -- directions and summaries --------------------------------------------------------------
    def direction_of(self, metric: str, run: RunRecord | str | None = None) -> str:
        """``"min"`` or ``"max"`` for ``metric`` (in ``run``, whose own override counts)."""
        if run is None:
            return self._shared_direction(metric)
        record = self._by_id[run] if isinstance(run, str) else run
        return resolve_direction(metric, self.direction, record.directions)

    def _shared_direction(self, metric: str) -> str:
        found = {resolve_direction(metric, self.direction, run.directions): run for run in self.runs
                 if metric in run.summaries}
        if len(found) > 1:
            raise AquariumError(
                f"the runs disagree on the direction of {metric!r} (run {found['min'].id} minimizes it, "
                f"run {found['max'].id} maximizes it): pass direction={{{metric!r}: 'min'}} or 'max'")
        return next(iter(found)) if found else resolve_direction(metric, self.direction)

    @functools.cached_property
    def params(self) -> ParamTable:
        """The params table (param × run) with ``differing``."""
        return ParamTable(self.runs)

    @functools.cached_property
    def summary(self) -> SummaryTable:
        """Per run and metric: last, best, best step, min, max, count, time to best."""
        rows = []
        for run in self.runs:
            origin = run.started if run.started is not None else run.created
            for metric in self.metrics:
                s = run.summaries.get(metric)
                if s is not None:
                    rows.append(_stats(run, metric, s, self.direction_of(metric, run), origin))
        return SummaryTable(rows)

    def best(self, metric: str) -> Best | None:
        """The run with the best value of ``metric`` (ties: the first in the comparison's order),
        or ``None`` when no run has a value other than NaN. A metric that no run has raises
        ``KeyError``; runs whose stored directions disagree raise :class:`AquariumError`."""
        having = [run for run in self.runs if metric in run.summaries]
        if not having:
            raise KeyError(f"no compared run has the metric {metric!r}")
        way = self._shared_direction(metric)
        found: Best | None = None
        for run in having:
            s = run.summaries[metric]
            value, step = (s.min, s.min_step) if way == "min" else (s.max, s.max_step)
            if step is None:
                continue
            if found is None or (value < found.value if way == "min" else value > found.value):
                found = Best(run.id, run.name, value, step)
        return found

    # -- points --------------------------------------------------------------------------------
    def _series(self, run: RunRecord, key: str, also: Iterable[str] = ()) -> MetricSeries | None:
        """``key``'s points in ``run``: the first need reads every compared metric of the run
        (and the keys in ``also``) in one ``store.history`` call; later ones come from the cache."""
        if key not in run.summaries:
            return None
        fetched = self._fetched.setdefault(run.id, set())
        if key not in fetched:
            wanted = {key, *also, *self.metrics}
            wanted = sorted(k for k in wanted - fetched if k in run.summaries)
            self._points.setdefault(run.id, {}).update(self.store.history(run.id, wanted))
            fetched.update(wanted)
        return self._points[run.id].get(key)

    def curves(self, metric: str, x: str = "step", smoothing: str | series.Smoothing | None = None) -> dict[str, Curve]:
        """For each run that has ``metric`` (in the comparison's order), its points as a
        :class:`Curve` keyed by run id.

        ``x``: ``"step"``, ``"wall_time"`` (seconds since the epoch), ``"relative_time"``
        (seconds since the run started) or another metric's key, in which case the two
        metrics are paired by step (a step logged twice counts with its last value; runs
        lacking that metric are left out) and points come in step order. Otherwise points come
        in logging order. ``smoothing``: ``"ema:0.6"``, ``"twema:0.6"`` or ``"ma:10"`` (see
        :mod:`aquarium.series`), applied to the full series. ``twema`` decays across the gaps
        of ``x`` (of the steps when ``x`` is a metric), with one time unit for every run
        (the median of their median gaps), so all curves are smoothed over the same span.
        """
        spec = series.parse_smoothing(smoothing) if smoothing is not None else None
        by_metric = x not in X_AXES
        if by_metric and not any(x in run.summaries for run in self.runs):
            raise ValueError(f"x {x!r} is neither one of {', '.join(X_AXES)} nor a metric of the compared runs")
        if not any(metric in run.summaries for run in self.runs):
            raise KeyError(f"no compared run has the metric {metric!r}")
        parts = []
        for run in self.runs:
            points = self._series(run, metric, also=[x] if by_metric else ())
            if points is None:
                continue
            if by_metric:
                other = self._series(run, x)
                if other is None:
                    continue
                steps_y, y = series.last_per_step(points.steps, points.values)
                steps_x, xs = series.last_per_step(other.steps, other.values)
                steps, iy, ix = np.intersect1d(steps_y, steps_x, assume_unique=True, return_indices=True)
                xs, y, clock = xs[ix], y[iy], steps.astype(np.float64)
            else:
                steps, y = points.steps, points.values
                if x == "step":
                    xs = steps
                elif x == "wall_time":
                    xs = points.timestamps
                else:
                    origin = run.started if run.started is not None else run.created
                    xs = points.timestamps - origin
                clock = np.asarray(xs, dtype=np.float64)
            parts.append((run, steps, xs, y, clock))
        unit = None
        if spec is not None and spec.kind == "twema":
            units = [series.time_unit(clock) for *_, clock in parts if len(clock) > 1]
            unit = float(np.median(units)) if units else None
        out = {}
        for run, steps, xs, y, clock in parts:
            smoothed = spec(y, clock, unit) if spec is not None else y
            out[run.id] = Curve(run.id, run.name, run.group, metric, x, steps, xs, smoothed, y,
                                spec.spec if spec is not None else None)
        return out

    @property
    def group_names(self) -> list[str]:
        """The groups of the compared runs, in order of first appearance (runs without one are left out)."""
        return list(dict.fromkeys(run.group for run in self.runs if run.group is not None))

    def groups(self, metric: str, smoothing: str | series.Smoothing | None = None,
               level: float = 0.95) -> dict[str, GroupAggregate]:
        """Runs sharing a ``group`` aggregated step-wise (see :class:`GroupAggregate`),
        keyed by group name; runs without a group are left out. With ``smoothing``, each
        run's curve is smoothed (on its steps) before the aggregation."""
        spec = series.parse_smoothing(smoothing) if smoothing is not None else None
        if not 0.0 < level < 1.0:
            raise ValueError(f"confidence level {level!r} must be strictly between 0 and 1")
        memo = (metric, spec.spec if spec is not None else None, level)
        if memo not in self._groups:  # the points are a snapshot, so the aggregates are too
            self._groups[memo] = self._aggregate(metric, spec, level)
        return dict(self._groups[memo])

    def shared_groups(self, metric: str, smoothing: str | series.Smoothing | None = None,
                      level: float = 0.95) -> dict[str, GroupAggregate]:
        """:meth:`groups` with two or more runs that have ``metric``: what charts draw as a mean
        and band and tables aggregate (a group of one adds nothing to its run)."""
        return {name: aggregate for name, aggregate in self.groups(metric, smoothing, level).items()
                if len(aggregate.run_ids) > 1}

    def _aggregate(self, metric: str, spec: series.Smoothing | None, level: float) -> dict[str, GroupAggregate]:
        members: dict[str, list[RunRecord]] = {}
        for run in self.runs:
            if run.group is not None and metric in run.summaries:
                members.setdefault(run.group, []).append(run)
        out = {}
        for group, candidates in members.items():
            curves, runs = [], []
            for run in candidates:
                points = self._series(run, metric)
                if points is None or not len(points):
                    continue
                values = points.values if spec is None else spec(points.values, points.steps.astype(np.float64))
                curves.append((points.steps, values))
                runs.append(run)
            if not runs:
                continue
            aligned = series.align(curves)
            finals = np.array([run.summaries[metric].last for run in runs], dtype=np.float64)
            out[group] = GroupAggregate(
                group, metric, [run.id for run in runs], aligned.steps, aligned.count, aligned.mean,
                aligned.std, aligned.min, aligned.max, finals, series.mean_interval(finals, level),
                spec.spec if spec is not None else None)
        return out

    # -- output --------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Runs, metrics, params, summary and best values as JSON-able data (non-finite
        floats as ``"NaN"``/``"Infinity"``, through :data:`aquarium.serialization.converter`).
        Points are not included: see :meth:`curves` and :meth:`groups`."""
        best: dict[str, Any] = {}
        for metric in self.metrics:
            try:
                found = self.best(metric)
            except (AquariumError, KeyError):
                found = None
            best[metric] = None if found is None else {**found._asdict(), "value": encode_float(found.value)}
        return {
            "runs": [converter.unstructure(run) for run in self.runs],
            "metrics": list(self.metrics),
            "direction": dict(self.direction),
            "params": self.params.to_dict(),
            "summary": self.summary.to_dict(),
            "best": best,
        }

    def to_frame(self) -> Any:
        """A pandas ``DataFrame``, one row per run (index: run id) with ``name``, ``experiment``,
        ``group``, ``status``, ``params.<key>`` for every param and ``metrics.<key>.<stat>``
        for ``last``, ``best``, ``best_step``, ``min``, ``max``, ``count`` and ``time_to_best``."""
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("Comparison.to_frame() needs pandas, which is not installed: pip install pandas") \
                from None
        stats = ("last", "best", "best_step", "min", "max", "count", "time_to_best")
        records = []
        for run in self.runs:
            row: dict[str, Any] = {"run_id": run.id, "name": run.name, "experiment": run.experiment,
                                   "group": run.group, "status": run.status}
            for key in self.params.keys:
                row[f"params.{key}"] = self.params[key].get(run.id)
            for metric in self.metrics:
                found = self.summary.get(run.id, metric)
                for stat in stats:
                    row[f"metrics.{metric}.{stat}"] = getattr(found, stat) if found is not None else None
            records.append(row)
        columns = ["run_id", "name", "experiment", "group", "status",
                   *(f"params.{k}" for k in self.params.keys),
                   *(f"metrics.{m}.{s}" for m in self.metrics for s in stats)]
        return pd.DataFrame.from_records(records, columns=columns).set_index("run_id")

    def _repr_html_(self) -> str:
        """A notebook table: each run with its differing params and, per metric, its best and
        last values; the best run of each metric in bold. Everything users wrote is escaped."""
        e = html.escape
        best_ids = {}
        for metric in self.metrics:
            try:
                found = self.best(metric)
            except (AquariumError, KeyError):
                found = None
            best_ids[metric] = found.run_id if found is not None else None
        params = self.params.differing
        head = ["run", "group", *(f"params.{k}" for k in params)]
        for metric in self.metrics:
            arrow = {"min": "↓", "max": "↑"}.get(self._safe_direction(metric), "")
            head += [f"{metric} best {arrow}", f"{metric} last"]
        out = [f"<div><p>Comparison of {len(self.runs)} runs</p>",
               "<table><thead><tr>", *(f"<th>{e(h)}</th>" for h in head), "</tr></thead><tbody>"]
        for run in self.runs:
            cells = [f"{e(run.name)}<br><small>{e(run.id)}</small>", e(run.group or "")]
            cells += [e(_text(self.params[k].get(run.id, ""))) for k in params]
            for metric in self.metrics:
                found = self.summary.get(run.id, metric)
                if found is None:
                    cells += ["", ""]
                    continue
                best = e(_number(found.best))
                if best_ids[metric] == run.id:
                    best = f"<b>{best}</b>"
                cells += [best, e(_number(found.last))]
            out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        out.append("</tbody></table></div>")
        return "".join(out)

    def _safe_direction(self, metric: str) -> str | None:
        try:
            return self._shared_direction(metric)
        except AquariumError:
            return None

    def plot(self, metrics: Sequence[str] | str | None = None, *, chart: str = "curves", backend: str | None = None,
             **options: Any) -> Any:
        """The figure of ``chart`` (one of :data:`aquarium.charts.CHARTS`) drawn by an installed
        visualizer plugin, as that library's own figure object. ``options`` are
        :class:`aquarium.charts.ChartOptions` (``x``, ``smoothing``, ``band``, ``log_y``, ...).

        ``backend`` names the visualizer; by default ``AQUARIUM_VISUALIZER``, else the only one
        installed (``plotly`` first when there are several). Without any, raises
        :class:`AquariumError` naming the plugins to install.
        """
        check_chart(chart)
        chart_options = ChartOptions.of(metrics=metrics, **options)
        return _visualizer(backend).render(chart, self, chart_options)

    def to_html(self, path: str | os.PathLike, *, backend: str | None = None) -> str:
        """Write a standalone HTML report (the params that differ, the summary and the curves;
        every script embedded, no CDN) to ``path`` with an installed visualizer plugin, and
        return the path. Without one, raises :class:`AquariumError` naming the plugins to install."""
        return write_report(self, _visualizer(backend), path)


def _stats(run: RunRecord, metric: str, s: MetricSummary, way: str, origin: float | None) -> MetricStats:
    best, step, at = (s.min, s.min_step, s.min_time) if way == "min" else (s.max, s.max_step, s.max_time)
    took = at - origin if at is not None and origin is not None else None
    return MetricStats(run.id, run.name, metric, way, s.count, s.last, s.last_step, best, step, took, s.min, s.max)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _number(value: float) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f"{value:.6g}"


def _visualizer(backend: str | None) -> Any:
    """The visualizer named by ``backend``, else by ``AQUARIUM_VISUALIZER``, else the only one
    installed (``plotly`` first when there are several)."""
    found = plugins.visualizers()
    if not found:
        raise AquariumError(f"no visualizer plugin is installed; to plot a comparison: {INSTALL_HINT}")
    chosen, source = backend, "backend"
    if chosen is None and os.environ.get(VISUALIZER_VARIABLE):
        chosen, source = os.environ[VISUALIZER_VARIABLE], VISUALIZER_VARIABLE
    if chosen is None:
        return found["plotly"] if "plotly" in found else found[sorted(found)[0]]
    if chosen not in found:
        raise AquariumError(f"{source} names the visualizer {chosen!r}, which is not installed "
                            f"(installed: {', '.join(sorted(found))}); others: {INSTALL_HINT}")
    return found[chosen]


def _resolve(runs: Any, store: Store | str | os.PathLike | None,
             direction: Mapping[str, str]) -> tuple[list[RunRecord], Store]:
    if isinstance(runs, (RunRecord, Run)):
        runs = [runs]
    if not isinstance(runs, (str, Iterable)):
        raise TypeError(f"runs must be a query string or a list of run ids, RunRecords or Runs, not {runs!r}")
    if store is None and not isinstance(runs, str):
        runs = list(runs)
        store = next((r.store for r in runs if isinstance(r, Run)), None)  # the first live run's store
    target = open_store(store)
    return resolve_runs(runs, target, directions=direction or None), target


def compare(
    runs: str | Iterable[str | RunRecord | Any] | RunRecord | Any,
    metrics: Sequence[str] | str | None = None,
    *,
    store: Store | str | os.PathLike | None = None,
    direction: Mapping[str, str] | None = None,
) -> Comparison:
    """Compare runs: a list of run ids, :class:`~aquarium.RunRecord` or :class:`~aquarium.Run`
    objects, or a query string (docs/query.md) run through ``store.search``.

    ``metrics`` defaults to every metric key any of the runs has. ``store`` defaults to the
    store of the first ``Run`` given, else ``AQUARIUM_STORE`` or ``./.aquarium``.
    ``direction={"loss": "min"}`` overrides, for this call, which way is better (also in the
    query's ``.best`` aggregates). Live runs are flushed first, so everything logged counts.
    """
    overrides = _check_directions(direction)
    records, target = _resolve(runs, store, overrides)
    return Comparison(records, metrics, store=target, direction=overrides)
