"""``VisualizerSuite``: the contract every visualizer (ours or a third party's) subclasses.

A subclass provides a ``visualizer`` fixture and a few *extractors*: small methods that read
the plotting library's own figure objects back into plain Python, so the tests below can
check what a chart holds without knowing the library::

    class TestMyVisualizer(VisualizerSuite):
        script_marker = "/* my-lib.js */"        # once per embedded copy of the library's JS

        @pytest.fixture
        def visualizer(self):
            return MyVisualizer()

        def traces(self, figure): ...            # list of trace dicts (below)
        def title_texts(self, figure): ...       # every title, subplot title and axis label
        def y_scales(self, figure): ...          # "linear" or "log" per y axis
        def matrices(self, figure): ...          # heatmap and correlation cells
        def table(self, figure): ...             # the summary table
        def dimensions(self, figure): ...        # the axes of parallel coordinates
        def backgrounds(self, figure): ...       # background colours (the theme)
        def height(self, figure): ...            # the figure's height in pixels

Everything an extractor returns is what a user would *read*: text with HTML entities decoded,
x values in the units of ``ChartOptions.x`` (steps; seconds since the epoch for ``wall_time``;
seconds since the run started for ``relative_time``; the other metric's values).

A **trace** is a dict with

- ``kind``: ``"line"`` (a run's curve), ``"raw"`` (the faint raw line of ``smoothed``),
  ``"smoothed"``, ``"mean"`` (a group's mean line), ``"band"`` (a group's band: ``low`` and
  ``high`` arrays on ``x``), ``"histogram"`` (``x`` bin centres, ``y`` counts), ``"vline"``
  (a marked value at ``x[0]``, ``name`` ``"mean"`` or ``"median"``) or ``"points"``
  (``scatter``: one point per run, ``labels`` the run names);
- ``name`` (the legend text), ``x``, ``y`` (arrays; ``y`` may be absent for bands and vlines);
- ``metric``: the metric key the trace draws; ``run_id`` (a run's trace) or ``group`` (a
  group's mean and band); ``opacity`` (1.0 when unset); ``labels`` (per point, ``points``);
- ``hover`` (``line`` traces): one dict per point with the ``run`` name, ``step``, ``value``
  and ``wall_time`` (seconds since the epoch) that hovering the point shows.

A **matrix** (``heatmap``, ``correlation``) is a dict with ``kind`` (``"heatmap"``,
``"pearson"`` or ``"spearman"``), ``name`` (the metric of a heatmap), ``rows`` and
``columns`` (labels: run names × steps for a heatmap, the same variable labels on both sides
for a correlation) and ``z`` (a 2-D array, NaN where a cell is empty).

The **table** is ``{"header": [...], "rows": [[...], ...], "highlighted": [(row, col), ...]}``
with the text of every cell, one row per run (its name in the first column) and, per metric,
columns whose header names the metric: ``<metric> best`` (highlighted in the best run),
``<metric> best step``, ``<metric> last``, ``<metric> last step``.

**Dimensions** (``parallel_coordinates``) are ``[{"label": ..., "values": [...]}, ...]``, one
value per run that has the metric, in the comparison's order: numbers (NaN where a run lacks
the param) or, for a param that is not numeric, the text of each value (strings as they are,
other values as JSON, ``—`` where a run lacks it).

Labels name variables as the query language does: ``params.<key>`` for a param,
``metrics.<key>.best`` for a metric's best value (``parallel_coordinates``, ``scatter``),
``metrics.<key>.last`` for its final value (``correlation`` across runs) and
``metrics.<key>`` within one run. Marked statistics (``distribution``'s mean and median) are
stated in a title or annotation with at least four significant digits (``f"{v:.4g}"``).

Extractors only read a figure; they never fix it up. A library whose figures cannot be read
back may build them from metadata the plugin stores on them (plotly's ``meta``, bokeh's
``tags``).

The data: real runs logged with :func:`aquarium.start_run` into a real SQLite store (a group
of three seeds, a run with NaN values, a run whose name and params are HTML) and a run of
1,000,000 steps with one spike up and one down.
"""

from __future__ import annotations

import html
import json
import math
import re
import types
from collections.abc import Sequence
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aquarium
from aquarium import plugins, report, series
from aquarium.charts import CHARTS, THEMES, ChartOptions
from aquarium.interfaces import Visualizer

#: A run name that is HTML (and JavaScript): it must only ever appear escaped.
XSS_NAME = "<img src=x onerror=alert(1)>"
XSS_PARAM = "<script>alert(2)</script>"
STEPS = 40
BIG_STEPS = 1_000_000
BIG_SPIKE_STEP, BIG_DIP_STEP = 654_321, 123_457

_KINDS = ("line", "raw", "smoothed", "mean", "band", "histogram", "vline", "points")


def _loss(i: np.ndarray, scale: float, rate: float, wiggle: float = 0.0) -> np.ndarray:
    return scale / (1.0 + rate * i) + wiggle * np.sin(i)


def _log(run: Any, **metrics: np.ndarray) -> None:
    for step in range(len(next(iter(metrics.values())))):
        run.log({key: float(values[step]) for key, values in metrics.items()}, step=step)


def _build_runs(path: str) -> dict[str, str]:
    """The small runs: name → id."""
    i = np.arange(STEPS, dtype=np.float64)
    ids: dict[str, str] = {}

    def start(name: str, **kwargs: Any) -> Any:
        run = aquarium.start_run(name=name, experiment="suite", store=path, capture_source=False, **kwargs)
        ids[name] = run.id
        return run

    run = start("alpha", params={"lr": 0.1, "layers": 2, "opt": "adam"})
    loss = _loss(i, 1.0, 0.1)
    _log(run, loss=loss, acc=1.0 - loss / 2)
    run.finish()
    run = start("beta", params={"lr": 0.01, "layers": 4, "opt": "sgd"})
    loss = _loss(i, 1.5, 0.05)
    _log(run, loss=loss, acc=1.0 - loss / 3)
    run.finish()
    for seed in range(3):
        run = start(f"seed-{seed}", group="seeds", params={"lr": 0.05, "layers": 3, "opt": "adam", "seed": seed})
        loss = _loss(i, 1.0 + 0.1 * seed, 0.08, wiggle=0.02 * (seed + 1))
        _log(run, loss=loss, acc=1.0 - loss / 2 + 0.01 * seed)
        run.finish()
    run = start("diverged", params={"lr": 1.0, "layers": 2, "opt": "sgd"})
    loss = _loss(i, 2.0, 0.02)
    loss[25:30] = np.nan
    _log(run, loss=loss, acc=1.0 - np.nan_to_num(loss, nan=2.0) / 4)
    run.finish()
    run = start(XSS_NAME, params={"lr": 0.2, "layers": 5, "opt": XSS_PARAM})
    loss = _loss(i, 0.8, 0.12)
    _log(run, loss=loss, acc=1.0 - loss / 2.5)
    run.finish()
    return ids


def _build_big(path: str) -> str:
    values = np.sin(np.arange(BIG_STEPS) / 1000.0)
    values[BIG_SPIKE_STEP] = 50.0
    values[BIG_DIP_STEP] = -50.0
    run = aquarium.start_run(name="big", experiment="suite-big", store=path, capture_source=False)
    log = run.log
    for step, value in enumerate(values.tolist()):
        log({"signal": value}, step=step)
    run.finish()
    return run.id


# -- reference computations (what the charts must show) -------------------------------------


def _same(actual: Any, expected: Any, rtol: float = 1e-9, atol: float = 0.0) -> bool:
    a = np.asarray(actual, dtype=np.float64)
    b = np.asarray(expected, dtype=np.float64)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True))


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        if tied.sum() > 1:
            ranks[tied] = ranks[tied].mean()
    return ranks


def reference_correlation(columns: Sequence[np.ndarray], method: str) -> np.ndarray:
    """The correlation matrix the charts must show: per pair, over the observations where both
    are finite (pairwise complete); NaN when fewer than two remain or one side is constant.
    ``spearman`` is Pearson's on the ranks (ties averaged) of those observations."""
    k = len(columns)
    out = np.full((k, k), np.nan)
    for a in range(k):
        for b in range(k):
            x = np.asarray(columns[a], dtype=np.float64)
            y = np.asarray(columns[b], dtype=np.float64)
            both = np.isfinite(x) & np.isfinite(y)
            x, y = x[both], y[both]
            if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
                continue
            if method == "spearman":
                x, y = _ranks(x), _ranks(y)
            out[a, b] = float(np.corrcoef(x, y)[0, 1])
    return out


def _numbers_in(text: str) -> list[float]:
    return [float(m) for m in re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?", text)]


def _numeric_param(values: Sequence[Any]) -> bool:
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


class VisualizerSuite:
    """The visualizer contract. See the module's docstring for what a subclass provides."""

    #: A substring that appears exactly once per embedded copy of the library's JavaScript in
    #: the output of ``to_html`` (e.g. a banner comment of the bundle).
    script_marker: str = ""

    # -- what subclasses provide ---------------------------------------------------------------
    @pytest.fixture
    def visualizer(self) -> Visualizer:  # pragma: no cover - subclasses override
        raise NotImplementedError("provide a `visualizer` fixture that returns the Visualizer under test")

    def traces(self, figure: Any) -> list[dict[str, Any]]:
        """Every trace of ``figure`` as a dict (see the module's docstring)."""
        raise NotImplementedError("implement traces(figure)")

    def title_texts(self, figure: Any) -> list[str]:
        """Every title, subplot title, axis label and annotation of ``figure``."""
        raise NotImplementedError("implement title_texts(figure)")

    def y_scales(self, figure: Any) -> list[str]:
        """``"linear"`` or ``"log"`` for each y axis holding data."""
        raise NotImplementedError("implement y_scales(figure)")

    def matrices(self, figure: Any) -> list[dict[str, Any]]:
        """The cells of a heatmap or correlation figure (see the module's docstring)."""
        raise NotImplementedError("implement matrices(figure)")

    def table(self, figure: Any) -> dict[str, Any]:
        """The summary table's header, rows and highlighted cells."""
        raise NotImplementedError("implement table(figure)")

    def dimensions(self, figure: Any) -> list[dict[str, Any]]:
        """The axes of a parallel-coordinates figure, in order."""
        raise NotImplementedError("implement dimensions(figure)")

    def backgrounds(self, figure: Any) -> set[str]:
        """The figure's background colours (plot area and paper) as ``#rrggbb``."""
        raise NotImplementedError("implement backgrounds(figure)")

    def height(self, figure: Any) -> int | None:
        """The figure's height in pixels."""
        raise NotImplementedError("implement height(figure)")

    # -- data ----------------------------------------------------------------------------------
    @pytest.fixture(scope="class")
    @classmethod
    def suite_runs(cls, tmp_path_factory: Any) -> types.SimpleNamespace:
        """The small runs in a fresh SQLite store: ``.path``, ``.ids`` (name → id)."""
        path = str(tmp_path_factory.mktemp("visualizer-suite") / "store")
        return types.SimpleNamespace(path=path, ids=_build_runs(path))

    @pytest.fixture(scope="class")
    @classmethod
    def comparison(cls, suite_runs: Any) -> Any:
        return aquarium.compare(list(suite_runs.ids.values()), store=suite_runs.path)

    @pytest.fixture(scope="class")
    @classmethod
    def big(cls, tmp_path_factory: Any) -> Any:
        """A comparison of one run of 1,000,000 steps with a spike up and one down."""
        path = str(tmp_path_factory.mktemp("visualizer-suite-big") / "store")
        run_id = _build_big(path)
        return aquarium.compare([run_id], store=path)

    # -- helpers -------------------------------------------------------------------------------
    def _traces(self, figure: Any, kind: str | None = None, metric: str | None = None) -> list[dict[str, Any]]:
        found = []
        for trace in self.traces(figure):
            assert trace.get("kind") in _KINDS, f"trace kind {trace.get('kind')!r} is not one of {_KINDS}"
            if (kind is None or trace["kind"] == kind) and (metric is None or trace.get("metric") == metric):
                found.append(trace)
        return found

    def _by_run(self, figure: Any, kind: str, metric: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for trace in self._traces(figure, kind, metric):
            if trace.get("group") is not None and not trace.get("run_id"):
                continue  # a group's trace
            assert trace.get("run_id"), f"a {kind} trace names no run_id"
            assert trace["run_id"] not in out, f"two {kind} traces of {metric!r} for run {trace['run_id']}"
            out[trace["run_id"]] = trace
        return out

    @staticmethod
    def _texts(figure_texts: list[str]) -> str:
        return "\n".join(figure_texts).lower().replace("_", " ")

    # -- the plugin ----------------------------------------------------------------------------
    def test_is_a_registered_visualizer(self, visualizer):
        assert isinstance(visualizer, Visualizer)
        assert isinstance(visualizer.name, str) and visualizer.name
        installed = plugins.visualizers()
        assert visualizer.name in installed, f"{visualizer.name!r} is not registered (entry point group 'aquarium')"
        assert type(installed[visualizer.name]) is type(visualizer)

    @pytest.mark.parametrize("chart", CHARTS)
    def test_every_chart_renders(self, visualizer, comparison, chart):
        figure = visualizer.render(chart, comparison, ChartOptions())
        assert figure is not None
        assert self.title_texts(figure), f"{chart} has no title"

    def test_unknown_chart(self, visualizer, comparison):
        with pytest.raises(ValueError, match="pie"):
            visualizer.render("pie", comparison, ChartOptions())

    def test_bad_options_fail_in_chart_options(self, visualizer, comparison):
        with pytest.raises(TypeError, match="colour"):
            ChartOptions.of(colour="red")
        with pytest.raises(ValueError, match="band"):
            ChartOptions.of(band="wide")
        with pytest.raises(ValueError, match="smoothing"):
            ChartOptions.of(smoothing="gauss:3")
        with pytest.raises(ValueError, match="max_points"):
            ChartOptions.of(max_points=1)

    def test_options_naming_nothing_are_refused(self, visualizer, comparison):
        for chart, options, culprit in [
            ("curves", ChartOptions(x="nope"), "nope"),
            ("curves", ChartOptions(metrics=["missing"]), "missing"),
            ("scatter", ChartOptions(param="absent"), "absent"),
            ("correlation", ChartOptions(run="no-such-run"), "no-such-run"),
        ]:
            with pytest.raises((ValueError, KeyError), match=culprit):
                visualizer.render(chart, comparison, options)

    # -- curves --------------------------------------------------------------------------------
    def test_curves_one_subplot_per_metric_a_line_per_run(self, visualizer, comparison, suite_runs):
        figure = visualizer.render("curves", comparison, ChartOptions(metrics=["loss", "acc"], band=None))
        texts = self.title_texts(figure)
        assert any("loss" in t for t in texts) and any("acc" in t for t in texts), texts
        assert "step" in self._texts(texts)
        assert {t.get("metric") for t in self._traces(figure)} == {"loss", "acc"}
        assert len(self.y_scales(figure)) == 2
        for metric in ("loss", "acc"):
            lines = self._by_run(figure, "line", metric)
            assert set(lines) == set(suite_runs.ids.values())
            for run_id, curve in comparison.curves(metric).items():
                trace = lines[run_id]
                assert trace["name"] == curve.run_name
                assert _same(trace["x"], curve.x) and _same(trace["y"], curve.y), (metric, curve.run_name)

    def test_nan_values_are_gaps(self, visualizer, comparison, suite_runs):
        figure = visualizer.render("curves", comparison, ChartOptions(metrics=["loss"]))
        trace = self._by_run(figure, "line", "loss")[suite_runs.ids["diverged"]]
        y = np.asarray(trace["y"], dtype=np.float64)
        assert len(y) == STEPS and np.isnan(y[25:30]).all() and np.isfinite(y[:25]).all()

    def test_groups_as_mean_and_band(self, visualizer, comparison, suite_runs):
        seeds = {suite_runs.ids[f"seed-{i}"] for i in range(3)}
        aggregate = comparison.groups("loss")["seeds"]
        for band in ("minmax", "std"):
            figure = visualizer.render("curves", comparison, ChartOptions(metrics=["loss"], band=band))
            lines = self._by_run(figure, "line", "loss")
            assert not seeds & set(lines), "a grouped run drawn on its own although band is set"
            assert set(lines) == set(suite_runs.ids.values()) - seeds
            (mean,) = [t for t in self._traces(figure, "mean", "loss")]
            assert mean["group"] == "seeds" and "seeds" in mean["name"]
            assert _same(mean["x"], aggregate.steps) and _same(mean["y"], aggregate.mean)
            (shade,) = [t for t in self._traces(figure, "band", "loss")]
            assert shade["group"] == "seeds" and _same(shade["x"], aggregate.steps)
            low, high = ((aggregate.min, aggregate.max) if band == "minmax"
                         else (aggregate.mean - aggregate.std, aggregate.mean + aggregate.std))
            assert _same(shade["low"], low) and _same(shade["high"], high), band
        figure = visualizer.render("curves", comparison, ChartOptions(metrics=["loss"], band=None))
        assert not self._traces(figure, "mean") and not self._traces(figure, "band")
        assert seeds <= set(self._by_run(figure, "line", "loss"))

    def test_a_group_of_one_is_drawn_as_its_run(self, visualizer, suite_runs):
        """A run detail or a comparison holding one seed of a group: its line, under its own
        name, not a "mean of 1" and a band of no width."""
        ids = [suite_runs.ids["seed-0"], suite_runs.ids["diverged"]]
        one = aquarium.compare(ids, store=suite_runs.path)
        figure = visualizer.render("curves", one, ChartOptions(metrics=["loss"], band="minmax"))
        assert not self._traces(figure, "mean") and not self._traces(figure, "band")
        lines = self._by_run(figure, "line", "loss")
        assert set(lines) == set(ids)
        curve = one.curves("loss")[ids[0]]
        assert lines[ids[0]]["name"] == curve.run_name and _same(lines[ids[0]]["y"], curve.y)

    @pytest.mark.parametrize("x", ["wall_time", "relative_time", "acc"])
    def test_x_axes(self, visualizer, comparison, x):
        figure = visualizer.render("curves", comparison, ChartOptions(metrics=["loss"], x=x, band=None))
        lines = self._by_run(figure, "line", "loss")
        for run_id, curve in comparison.curves("loss", x=x).items():
            atol = 2e-3 if x == "wall_time" else 1e-9  # a library may keep times in milliseconds
            assert _same(lines[run_id]["x"], curve.x, rtol=0, atol=atol), (x, curve.run_name)
            assert _same(lines[run_id]["y"], curve.y)
        expected = {"wall_time": "wall time", "relative_time": "relative time", "acc": "acc"}[x]
        assert expected in self._texts(self.title_texts(figure))

    def test_log_y(self, visualizer, comparison):
        figure = visualizer.render("curves", comparison, ChartOptions(metrics=["loss", "acc"], log_y=True))
        assert self.y_scales(figure) == ["log", "log"]
        figure = visualizer.render("curves", comparison, ChartOptions(metrics=["loss", "acc"]))
        assert self.y_scales(figure) == ["linear", "linear"]

    def test_hover_names_run_step_value_and_wall_time(self, visualizer, comparison, suite_runs):
        figure = visualizer.render("curves", comparison, ChartOptions(metrics=["loss"], band=None))
        lines = self._by_run(figure, "line", "loss")
        for run_id in (suite_runs.ids["alpha"], suite_runs.ids[XSS_NAME]):
            trace = lines[run_id]
            hover = trace["hover"]
            assert len(hover) == len(trace["y"])
            name = comparison.runs[[r.id for r in comparison.runs].index(run_id)].name
            points = comparison.store.history(run_id, ["loss"])["loss"]
            for k, item in enumerate(hover):
                assert item["run"] == name
                assert int(item["step"]) == int(points.steps[k])
                assert _same(item["value"], points.values[k])
                assert abs(float(item["wall_time"]) - float(points.timestamps[k])) < 2e-3

    def test_height_and_themes(self, visualizer, comparison):
        figure = visualizer.render("curves", comparison, ChartOptions(height=345))
        assert self.height(figure) == 345
        dark = {c.lower() for c in self.backgrounds(figure)}
        assert dark & {THEMES["dark"]["background"], THEMES["dark"]["paper"]}, dark
        for chart in CHARTS:
            light = visualizer.render(chart, comparison, ChartOptions(theme="light"))
            colours = {c.lower() for c in self.backgrounds(light)}
            assert colours & {THEMES["light"]["background"], THEMES["light"]["paper"]}, (chart, colours)
            assert not colours & {THEMES["dark"]["background"], THEMES["dark"]["paper"]}, (chart, colours)

    # -- smoothing -----------------------------------------------------------------------------
    @pytest.mark.parametrize("spec", ["ema:0.8", "twema:0.8", "ma:5"])
    def test_smoothed_keeps_the_raw_line_faint(self, visualizer, comparison, spec):
        figure = visualizer.render("smoothed", comparison, ChartOptions(metrics=["loss"], smoothing=spec, band=None))
        raw = self._by_run(figure, "raw", "loss")
        smoothed = self._by_run(figure, "smoothed", "loss")
        curves = comparison.curves("loss", smoothing=spec)
        assert set(raw) == set(smoothed) == set(curves)
        for run_id, curve in curves.items():
            assert float(raw[run_id].get("opacity", 1.0)) <= 0.5, "the raw line is not faint"
            assert float(smoothed[run_id].get("opacity", 1.0)) > 0.5
            assert _same(raw[run_id]["y"], curve.raw)
            assert _same(smoothed[run_id]["y"], curve.y, rtol=1e-9, atol=1e-12)
            if spec != "twema:0.8":  # twema shares one time unit across runs: compare() is the reference
                assert _same(smoothed[run_id]["y"], series.smooth(curve.raw, spec), rtol=1e-9, atol=1e-12)

    def test_smoothed_without_a_spec_still_smooths(self, visualizer, comparison, suite_runs):
        figure = visualizer.render("smoothed", comparison, ChartOptions(metrics=["loss"], band=None))
        run_id = suite_runs.ids["seed-2"]
        raw, smooth = self._by_run(figure, "raw", "loss")[run_id], self._by_run(figure, "smoothed", "loss")[run_id]
        assert not _same(raw["y"], smooth["y"])

    def test_smoothed_groups(self, visualizer, comparison):
        figure = visualizer.render("smoothed", comparison, ChartOptions(metrics=["loss"], smoothing="ema:0.7"))
        (mean,) = self._traces(figure, "mean", "loss")
        assert _same(mean["y"], comparison.groups("loss", smoothing="ema:0.7")["seeds"].mean, atol=1e-12)

    def test_smoothing_runs_on_the_full_series_before_downsampling(self, visualizer, big):
        run_id = big.runs[0].id
        full = big.store.history(run_id, ["signal"])["signal"]
        expected = series.smooth(full.values, "ema:0.99")
        figure = visualizer.render("smoothed", big, ChartOptions(smoothing="ema:0.99", max_points=1000))
        (smooth,) = self._traces(figure, "smoothed", "signal")
        (raw,) = self._traces(figure, "raw", "signal")
        for trace in (smooth, raw):
            assert 0 < len(trace["y"]) <= 1000 and len(trace["x"]) == len(trace["y"])
        at = np.searchsorted(full.steps, np.asarray(smooth["x"], dtype=np.int64))
        assert _same(smooth["y"], expected[at], rtol=1e-9, atol=1e-12)
        assert float(np.max(smooth["y"])) == pytest.approx(float(np.max(expected)))
        assert float(np.max(raw["y"])) == 50.0 and float(np.min(raw["y"])) == -50.0

    # -- scale ---------------------------------------------------------------------------------
    @pytest.mark.parametrize("max_points", [2000, 500, 3])
    def test_max_points_keeps_every_extreme(self, visualizer, big, max_points):
        figure = visualizer.render("curves", big, ChartOptions(max_points=max_points))
        (line,) = self._traces(figure, "line", "signal")
        x, y = np.asarray(line["x"], dtype=np.float64), np.asarray(line["y"], dtype=np.float64)
        assert 0 < len(y) <= max_points and len(x) == len(y)
        assert len(line.get("hover", y)) == len(y)
        assert float(y.max()) == 50.0 and float(y.min()) == -50.0
        assert BIG_SPIKE_STEP in x and BIG_DIP_STEP in x
        assert (np.diff(x) > 0).all()

    def test_no_chart_sends_more_than_max_points(self, visualizer, big):
        for chart in ("curves", "smoothed", "heatmap", "distribution"):
            figure = visualizer.render(chart, big, ChartOptions(max_points=300))
            for trace in self._traces(figure):
                assert len(trace["x"]) <= 300, (chart, trace["kind"])
            for matrix in (self.matrices(figure) if chart == "heatmap" else []):
                assert np.shape(matrix["z"])[1] <= 300
                assert float(np.nanmax(matrix["z"])) == 1.0  # the spike survives
                assert float(np.nanmin(matrix["z"])) == 0.0  # and the dip

    def test_downsampled_series_keep_min_and_max(self, visualizer, tmp_path_factory):
        # The property is defined per call: every subclass (and several run in one session)
        # gets its own hypothesis test, so no example database entry is shared between them.
        @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(values=st.lists(st.one_of(st.floats(-1e6, 1e6), st.just(math.nan)), min_size=1, max_size=300),
               max_points=st.integers(2, 64))
        def keeps_extremes(values: list[float], max_points: int) -> None:
            path = str(tmp_path_factory.mktemp("hyp") / "store")
            run = aquarium.start_run(name="h", store=path, capture_source=False, heartbeat=False)
            for step, value in enumerate(values):
                run.log({"m": value}, step=step)
            run.finish()
            figure = visualizer.render("curves", aquarium.compare([run.id], store=path),
                                       ChartOptions(max_points=max_points))
            (line,) = self._traces(figure, "line", "m")
            y = np.asarray(line["y"], dtype=np.float64)
            assert len(y) <= max_points
            finite = np.asarray(values)[np.isfinite(values)]
            if len(finite):
                assert np.nanmax(y) == finite.max() and np.nanmin(y) == finite.min()

        keeps_extremes()

    # -- distribution --------------------------------------------------------------------------
    def _assert_stated(self, figure: Any, label: str, value: float) -> None:
        texts = [t for t in self.title_texts(figure) if label in t.lower()]
        assert texts, f"{label} is not stated"
        wanted = float(f"{value:.4g}")
        assert any(any(abs(n - wanted) <= 1e-9 * max(1.0, abs(wanted)) or
                       abs(n - value) <= 5e-4 * max(1e-12, abs(value)) for n in _numbers_in(t))
                   for t in texts), (label, value, texts)

    def test_distribution_per_run_marks_mean_and_median(self, visualizer, comparison, suite_runs):
        figure = visualizer.render("distribution", comparison, ChartOptions(metrics=["loss"]))
        histograms = self._by_run(figure, "histogram", "loss")
        assert set(histograms) == set(suite_runs.ids.values())
        vlines = self._traces(figure, "vline", "loss")
        for run_id, trace in histograms.items():
            values = comparison.store.history(run_id, ["loss"])["loss"].values
            finite = values[np.isfinite(values)]
            assert int(np.sum(trace["y"])) == len(finite)
            marks = {t["name"].lower(): float(t["x"][0]) for t in vlines if t.get("run_id") == run_id}
            assert marks.get("mean") == pytest.approx(float(finite.mean()))
            assert marks.get("median") == pytest.approx(float(np.median(finite)))
        alpha = comparison.store.history(suite_runs.ids["alpha"], ["loss"])["loss"].values
        self._assert_stated(figure, "mean", float(alpha.mean()))
        self._assert_stated(figure, "median", float(np.median(alpha)))

    def test_distribution_of_final_values(self, visualizer, comparison):
        figure = visualizer.render("distribution", comparison, ChartOptions(metrics=["loss"], across="final"))
        finals = np.array([run.summaries["loss"].last for run in comparison.runs])
        (histogram,) = self._traces(figure, "histogram", "loss")
        assert int(np.sum(histogram["y"])) == int(np.isfinite(finals).sum())
        marks = {t["name"].lower(): float(t["x"][0]) for t in self._traces(figure, "vline", "loss")}
        assert marks["mean"] == pytest.approx(float(np.nanmean(finals)))
        assert marks["median"] == pytest.approx(float(np.nanmedian(finals)))
        self._assert_stated(figure, "mean", float(np.nanmean(finals)))
        self._assert_stated(figure, "median", float(np.nanmedian(finals)))

    # -- correlation ---------------------------------------------------------------------------
    def test_correlation_of_params_and_final_metrics(self, visualizer, comparison):
        figure = visualizer.render("correlation", comparison, ChartOptions())
        found = {m["kind"]: m for m in self.matrices(figure)}
        assert set(found) >= {"pearson", "spearman"}
        params = [k for k in comparison.params.differing
                  if _numeric_param(list(comparison.params[k].values()))]
        labels = [f"params.{k}" for k in params] + [f"metrics.{m}.last" for m in comparison.metrics]
        columns = [np.array([comparison.params[k].get(r.id, np.nan) for r in comparison.runs], dtype=np.float64)
                   for k in params]
        columns += [np.array([r.summaries[m].last if m in r.summaries else np.nan for r in comparison.runs])
                    for m in comparison.metrics]
        for method in ("pearson", "spearman"):
            matrix = found[method]
            assert list(matrix["rows"]) == labels and list(matrix["columns"]) == labels, matrix["rows"]
            assert _same(matrix["z"], reference_correlation(columns, method), atol=1e-9), method

    def test_correlation_within_a_run(self, visualizer, comparison, suite_runs):
        run_id = suite_runs.ids["diverged"]
        figure = visualizer.render("correlation", comparison, ChartOptions(run=run_id))
        history = comparison.store.history(run_id)
        keys = [m for m in comparison.metrics if m in history]
        reduced = {k: series.last_per_step(history[k].steps, history[k].values) for k in keys}
        common = reduced[keys[0]][0]
        for key in keys[1:]:
            common = np.intersect1d(common, reduced[key][0])
        columns = [values[np.searchsorted(steps, common)] for steps, values in reduced.values()]
        for matrix in self.matrices(figure):
            assert list(matrix["rows"]) == [f"metrics.{k}" for k in keys]
            assert _same(matrix["z"], reference_correlation(columns, matrix["kind"]), atol=1e-9)

    # -- heatmap -------------------------------------------------------------------------------
    def test_heatmap_runs_by_steps_normalized(self, visualizer, comparison):
        figure = visualizer.render("heatmap", comparison, ChartOptions(metrics=["loss", "acc"]))
        found = {m["name"]: m for m in self.matrices(figure) if m["kind"] == "heatmap"}
        assert set(found) == {"loss", "acc"}
        for metric, matrix in found.items():
            curves = comparison.curves(metric)
            assert list(matrix["rows"]) == [c.run_name for c in curves.values()]
            z = np.asarray(matrix["z"], dtype=np.float64)
            values = np.concatenate([c.y for c in curves.values()])
            low, high = np.nanmin(values), np.nanmax(values)
            assert _same(np.asarray(matrix["columns"], dtype=np.float64), np.arange(STEPS))
            for row, curve in enumerate(curves.values()):
                assert _same(z[row], (curve.y - low) / (high - low), atol=1e-12), (metric, curve.run_name)

    # -- parallel coordinates and scatter ------------------------------------------------------
    def test_parallel_coordinates(self, visualizer, comparison):
        figure = visualizer.render("parallel_coordinates", comparison, ChartOptions(metrics=["loss"]))
        dims = self.dimensions(figure)
        differing = list(comparison.params.differing)
        assert [d["label"] for d in dims] == [f"params.{k}" for k in differing] + ["metrics.loss.best"]
        runs = [r for r in comparison.runs if "loss" in r.summaries]
        for dim, key in zip(dims, differing):
            expected = [comparison.params[key].get(r.id) for r in runs]
            if _numeric_param([v for v in expected if v is not None]):
                assert _same(dim["values"], [np.nan if v is None else v for v in expected]), key
            else:
                assert [str(v) for v in dim["values"]] == [  # text as in the report's params table
                    "—" if v is None else (v if isinstance(v, str) else json.dumps(v)) for v in expected], key
        best = [comparison.summary[r.id]["loss"].best for r in runs]
        assert _same(dims[-1]["values"], best)

    @pytest.mark.parametrize("param", ["lr", "opt"])
    def test_scatter_param_against_best(self, visualizer, comparison, param):
        figure = visualizer.render("scatter", comparison, ChartOptions(metrics=["loss"], param=param))
        got = {}
        for trace in self._traces(figure, "points", "loss"):
            for label, x, y in zip(trace["labels"], trace["x"], trace["y"]):
                got[label] = (x, float(y))
        expected = {}
        for run in comparison.runs:
            value = comparison.params[param].get(run.id)
            best = comparison.summary[run.id]["loss"].best
            if value is not None and math.isfinite(best):
                expected[run.name] = (value, best)
        assert set(got) == set(expected)
        for name, (x, y) in expected.items():
            assert (got[name][0] == x if isinstance(x, str) else float(got[name][0]) == pytest.approx(x)), name
            assert got[name][1] == pytest.approx(y)
        texts = self._texts(self.title_texts(figure))
        assert f"params.{param}" in texts and "metrics.loss.best" in texts

    # -- summary table -------------------------------------------------------------------------
    def test_summary_table_highlights_the_best(self, visualizer, comparison):
        table = self.table(visualizer.render("summary_table", comparison, ChartOptions()))
        header, rows = table["header"], table["rows"]
        assert [row[0] for row in rows] == [r.name for r in comparison.runs]
        highlighted = list(table["highlighted"])
        assert len(highlighted) == len(comparison.metrics)
        for metric in comparison.metrics:
            best = comparison.best(metric)
            cells = [(r, c) for r, c in highlighted if header[c].split()[0] == metric]
            assert len(cells) == 1, (metric, header)
            row, col = cells[0]
            assert rows[row][0] == best.run_name and "best" in header[col].lower() and "step" not in header[col]
            assert _numbers_in(rows[row][col])[0] == pytest.approx(best.value, rel=1e-5)

    # -- live update ---------------------------------------------------------------------------
    def test_update_adds_new_points(self, visualizer, tmp_path):
        path = str(tmp_path / "live")
        run = aquarium.start_run(name="live", store=path, capture_source=False)
        for step in range(10):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
        run.flush()
        options = ChartOptions(metrics=["loss"])
        figure = visualizer.render("curves", aquarium.compare([run.id], store=path), options)
        for step in range(10, 25):
            run.log({"loss": 1.0 / (step + 1)}, step=step)
        run.flush()
        other = aquarium.start_run(name="late", store=path, capture_source=False)
        other.log({"loss": 3.0}, step=0)
        other.flush()
        updated = visualizer.update(figure, aquarium.compare([run.id, other.id], store=path), options)
        assert updated is not None
        lines = self._by_run(updated, "line", "loss")
        assert list(np.asarray(lines[run.id]["x"], dtype=np.int64)) == list(range(25))
        assert float(lines[run.id]["y"][-1]) == pytest.approx(1 / 25)
        assert other.id in lines
        run.finish()
        other.finish()

    # -- HTML ----------------------------------------------------------------------------------
    def _check_document(self, document: str) -> None:
        assert self.script_marker, "set script_marker on the suite subclass"
        assert document.lstrip().lower().startswith("<!doctype html"), document[:80]
        assert document.count(self.script_marker) == 1, "the library's JavaScript is not embedded exactly once"
        assert not re.search(r"""<script[^>]*\ssrc\s*=\s*["']?\s*(https?:)?//""", document, re.IGNORECASE)
        assert not re.search(r"""<link[^>]*\shref\s*=\s*["']?\s*(https?:)?//""", document, re.IGNORECASE)
        assert XSS_NAME not in document and XSS_PARAM not in document

    def test_to_html_one_standalone_document(self, visualizer, comparison):
        title = "Report <b>one</b> & two"
        figures = [visualizer.render(chart, comparison, ChartOptions()) for chart in CHARTS]
        document = visualizer.to_html(figures, title=title, theme="dark",
                                      header_html="<p class='aquarium-header'>params</p>")
        self._check_document(document)
        assert html.escape(title) in document and title not in document
        assert "<p class='aquarium-header'>params</p>" in document
        assert document.count("</html>") == 1

    def test_to_html_light_theme(self, visualizer, comparison):
        figures = [visualizer.render("curves", comparison, ChartOptions(theme="light"))]
        document = visualizer.to_html(figures, title="light", theme="light")
        self._check_document(document)
        assert THEMES["light"]["background"] in document.lower()

    def test_write_report(self, visualizer, comparison, tmp_path):
        path = report.write_report(comparison, visualizer, tmp_path / "report.html")
        with open(path, encoding="utf-8") as f:
            document = f.read()
        self._check_document(document)
        assert html.escape(XSS_NAME) in document or html.escape(XSS_NAME, quote=False) in document
        assert "aquarium-params" in document
