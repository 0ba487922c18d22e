"""aquarium.compare() on real runs in a real SQLite store, checked against numpy by hand."""

from __future__ import annotations

import json
import math
import os
import sys

import numpy as np
import pytest

import aquarium
from aquarium import plugins, series
from aquarium.compare import INSTALL_HINT, Best, Comparison
from aquarium.errors import AquariumError, RunNotFoundError
from aquarium.interfaces import Visualizer

T_975_2 = 4.302652729749464  # Student's t, 97.5 % quantile, 2 degrees of freedom (tables)


def log_run(store, name, metrics, *, steps=None, group=None, params=None, tags=None, directions=None):
    """A finished run that logged ``metrics`` (key → list of values) at ``steps``."""
    with aquarium.start_run(name=name, group=group, params=params or {}, tags=tags or {}, store=store,
                            capture_source=False) as run:
        for key, way in (directions or {}).items():
            run.set_direction(key, way)
        for key, values in metrics.items():
            for i, value in enumerate(values):
                run.log({key: value}, step=i if steps is None else steps[i])
    return run


@pytest.fixture
def store(tmp_path):
    return aquarium.open_store(tmp_path / "store")


@pytest.fixture
def sweep(store):
    """Four runs with random curves: (ids, {id: {key: logged values}})."""
    rng = np.random.default_rng(7)
    ids, logged = [], {}
    for i in range(4):
        metrics = {"train/loss": list(np.exp(-np.linspace(0, 3, 40)) + rng.random(40) * 0.3),
                   "val_acc": list(rng.random(40)),
                   "score": list(rng.normal(size=40))}
        run = log_run(store, f"run-{i}", metrics, params={"lr": [0.1, 0.01, 0.1, 0.1][i], "seed": i})
        ids.append(run.id)
        logged[run.id] = {k: np.array(v) for k, v in metrics.items()}
    return ids, logged


# -- summary, best, directions --------------------------------------------------------------------


def test_summary_and_best_against_numpy(store, sweep):
    ids, logged = sweep
    cmp = aquarium.compare(ids, store=store)
    assert isinstance(cmp, Comparison) and [r.id for r in cmp.runs] == ids
    assert cmp.metrics == ["score", "train/loss", "val_acc"]  # every key any run has, sorted
    for run in cmp.runs:
        times = store.history(run.id)
        for key, values in logged[run.id].items():
            way = "min" if key == "train/loss" else "max"  # "loss" is a token of "train/loss"
            i = int(np.argmin(values) if way == "min" else np.argmax(values))
            row = cmp.summary[run.id][key]
            assert row.direction == way
            assert (row.count, row.last, row.last_step) == (40, values[-1], 39)
            assert (row.best, row.best_step) == (values[i], i)
            assert (row.min, row.max) == (values.min(), values.max())
            assert row.time_to_best == pytest.approx(times[key].timestamps[i] - run.started)
            assert row.time_to_best >= 0
    for key in ("train/loss", "val_acc", "score"):
        pick = np.argmin if key == "train/loss" else np.argmax
        per_run = np.array([logged[i][key][pick(logged[i][key])] for i in ids])  # each run's best
        winner = int(pick(per_run))
        step = int(pick(logged[ids[winner]][key]))
        assert cmp.best(key) == Best(ids[winner], f"run-{winner}", per_run[winner], step)


def test_direction_overrides_stored_then_per_call(store):
    a = log_run(store, "a", {"score": [3.0, 1.0, 2.0]})
    b = log_run(store, "b", {"score": [5.0, 4.0, 0.5]})
    assert aquarium.compare([a.id, b.id], store=store).best("score") == Best(b.id, "b", 5.0, 0)
    assert aquarium.compare([a.id, b.id], store=store, direction={"score": "min"}).best("score") \
        == Best(b.id, "b", 0.5, 2)
    # Stored overrides on the runs (run.set_direction) are honoured ...
    c = log_run(store, "c", {"score": [3.0, 1.0, 2.0]}, directions={"score": "min"})
    d = log_run(store, "d", {"score": [5.0, 4.0, 0.5]}, directions={"score": "min"})
    stored = aquarium.compare([c.id, d.id], store=store)
    assert stored.best("score") == Best(d.id, "d", 0.5, 2)
    assert stored.summary[c.id]["score"].direction == "min" and stored.summary[c.id]["score"].best_step == 1
    # ... and the call's override wins over them.
    assert aquarium.compare([c.id, d.id], store=store, direction={"score": "max"}).best("score").value == 5.0
    # Runs that disagree: per-run summaries follow each run, "best across runs" needs a word from the caller.
    mixed = aquarium.compare([a.id, c.id], store=store)
    assert mixed.summary[a.id]["score"].best == 3.0 and mixed.summary[c.id]["score"].best == 1.0
    with pytest.raises(AquariumError, match=r"disagree on the direction of 'score'.*direction="):
        mixed.best("score")
    # A tie goes to the first run in the comparison's order.
    assert aquarium.compare([a.id, c.id], store=store, direction={"score": "min"}).best("score") \
        == Best(a.id, "a", 1.0, 1)
    assert aquarium.compare([c.id, a.id], store=store, direction={"score": "min"}).best("score").run_id == c.id


def test_bad_direction_and_metric_arguments(store, sweep):
    ids, _ = sweep
    with pytest.raises(ValueError, match=r"'score'.*'min' or 'max'.*'down'"):
        aquarium.compare(ids, store=store, direction={"score": "down"})
    with pytest.raises(TypeError, match="direction"):
        aquarium.compare(ids, store=store, direction="min")
    with pytest.raises(ValueError, match=r"'nope'.*score, train/loss, val_acc"):
        aquarium.compare(ids, ["score", "nope"], store=store)
    cmp = aquarium.compare(ids, "score", store=store)
    assert cmp.metrics == ["score"] and {r.metric for r in cmp.summary} == {"score"}
    with pytest.raises(KeyError, match="nope"):
        cmp.best("nope")


def test_all_nan_metric_has_no_best(store):
    run = log_run(store, "nan", {"loss": [math.nan, math.nan], "acc": [0.5, math.nan]})
    cmp = aquarium.compare([run.id], store=store)
    assert cmp.best("loss") is None
    row = cmp.summary[run.id]["loss"]
    assert math.isnan(row.best) and row.best_step is None and row.time_to_best is None
    assert cmp.best("acc") == Best(run.id, "nan", 0.5, 0)


# -- params ---------------------------------------------------------------------------------------


def test_params_table_and_differing(store):
    a = log_run(store, "a", {"m": [1.0]}, params={"lr": 0.1, "opt": {"name": "adam", "beta": 0.9}, "epochs": 10,
                                                  "layers": [64, 64], "flag": True, "only_a": 1})
    b = log_run(store, "b", {"m": [1.0]}, params={"lr": 0.1, "opt": {"name": "sgd", "beta": 0.9}, "epochs": 10.0,
                                                  "layers": [64, 32], "flag": 1})
    cmp = aquarium.compare([a.id, b.id], store=store)
    table = cmp.params
    assert table.keys == ["epochs", "flag", "layers", "lr", "only_a", "opt.beta", "opt.name"]
    # 10 == 10.0 is the same number; True is not the number 1; a param only one run has differs.
    assert table.differing == ["flag", "layers", "only_a", "opt.name"]
    assert table["opt.name"] == {a.id: "adam", b.id: "sgd"}
    assert table["only_a"] == {a.id: 1}
    rows = {row["param"]: row for row in table.rows}
    assert rows["lr"] == {"param": "lr", "differs": False, "values": {a.id: 0.1, b.id: 0.1}}
    assert json.loads(json.dumps(table.to_dict()))["differing"] == table.differing
    assert aquarium.compare([a.id], store=store).params.differing == []


# -- groups ---------------------------------------------------------------------------------------


def test_group_aggregation_against_numpy(store):
    # Three seeds of one group, logged at different steps (one logs step 2 twice), and an outsider.
    s1 = log_run(store, "s1", {"acc": [0.1, 0.4, 0.5, 0.7]}, steps=[0, 1, 2, 3], group="sweep")
    s2 = log_run(store, "s2", {"acc": [0.2, 0.3, 0.9, 0.6, 0.8]}, steps=[0, 2, 2, 3, 4], group="sweep")
    s3 = log_run(store, "s3", {"acc": [0.3, 0.35, math.nan, 0.65]}, steps=[0, 1, 2, 4], group="sweep")
    other = log_run(store, "other", {"acc": [1.0]}, group="other")
    alone = log_run(store, "alone", {"acc": [0.0]})
    cmp = aquarium.compare([s1.id, s2.id, s3.id, other.id, alone.id], store=store)
    assert cmp.group_names == ["sweep", "other"]
    groups = cmp.groups("acc")
    assert set(groups) == {"sweep", "other"}
    g = groups["sweep"]
    assert g.run_ids == [s1.id, s2.id, s3.id]
    grid = np.array([[0.1, 0.4, 0.5, 0.7, np.nan],
                     [0.2, np.nan, 0.9, 0.6, 0.8],    # step 2 twice: the last value, 0.9
                     [0.3, 0.35, np.nan, np.nan, 0.65]])  # a NaN contributes nothing
    assert g.steps.tolist() == [0, 1, 2, 3, 4]
    assert g.count.tolist() == [3, 2, 2, 2, 2]
    assert np.allclose(g.mean, np.nanmean(grid, axis=0))
    assert np.allclose(g.std, np.nanstd(grid, axis=0, ddof=1))
    assert np.allclose(g.min, np.nanmin(grid, axis=0)) and np.allclose(g.max, np.nanmax(grid, axis=0))
    finals = np.array([0.7, 0.8, 0.65])  # each run's last logged value
    assert np.array_equal(g.finals, finals)
    half = T_975_2 * finals.std(ddof=1) / math.sqrt(3)
    assert g.final.n == 3 and g.final.mean == pytest.approx(finals.mean())
    assert (g.final.low, g.final.high) == (pytest.approx(finals.mean() - half), pytest.approx(finals.mean() + half))
    lone = groups["other"]
    assert lone.final.n == 1 and math.isnan(lone.final.low) and np.isnan(lone.std).all()
    smoothed = cmp.groups("acc", smoothing="ma:2")["sweep"]
    want = series.align([(store.history(r)["acc"].steps, series.moving_average(store.history(r)["acc"].values, 2))
                         for r in (s1.id, s2.id, s3.id)])
    assert np.allclose(smoothed.mean, want.mean) and smoothed.smoothing == "ma:2"
    assert np.array_equal(smoothed.finals, finals)  # the interval is on the values as logged
    with pytest.raises(ValueError, match="level"):
        cmp.groups("acc", level=1.5)


# -- curves ---------------------------------------------------------------------------------------


def test_curves_on_each_x(store):
    a = log_run(store, "a", {"loss": [4.0, 3.0, 2.0, 1.0]}, steps=[0, 10, 20, 30])
    with aquarium.start_run(name="b", store=store, capture_source=False) as run:
        run.log({"loss": 5.0, "lr": 0.1}, step=0)
        run.log({"loss": 4.0}, step=5)
        run.log({"loss": 3.5, "lr": 0.05}, step=10)
        run.log({"lr": 0.04}, step=10)  # step 10 twice for lr: the last value pairs
        run.log({"lr": 0.01}, step=15)
    b = run
    cmp = aquarium.compare([a.id, b.id], store=store)
    by_step = cmp.curves("loss")
    assert list(by_step) == [a.id, b.id]
    assert by_step[a.id].x.tolist() == [0, 10, 20, 30] and by_step[a.id].y.tolist() == [4.0, 3.0, 2.0, 1.0]
    assert by_step[b.id].x.tolist() == [0, 5, 10]  # each run its own x, no interpolation
    history = store.history(b.id)
    wall = cmp.curves("loss", x="wall_time")[b.id]
    assert np.array_equal(wall.x, history["loss"].timestamps)
    relative = cmp.curves("loss", x="relative_time")[b.id]
    assert np.allclose(relative.x, history["loss"].timestamps - cmp.runs[1].started)
    assert (relative.x >= 0).all()
    versus = cmp.curves("loss", x="lr")
    assert list(versus) == [b.id]  # run a has no lr: left out
    assert versus[b.id].steps.tolist() == [0, 10]
    assert versus[b.id].x.tolist() == [0.1, 0.04] and versus[b.id].y.tolist() == [5.0, 3.5]
    with pytest.raises(ValueError, match="'epoch'"):
        cmp.curves("loss", x="epoch")
    with pytest.raises(KeyError, match="acc"):
        cmp.curves("acc")


def test_curves_smoothing(store, sweep):
    ids, logged = sweep
    cmp = aquarium.compare(ids, store=store)
    ema = cmp.curves("score", smoothing="ema:0.6")
    for run_id in ids:
        assert np.array_equal(ema[run_id].raw, logged[run_id]["score"])
        assert np.allclose(ema[run_id].y, series.ema(logged[run_id]["score"], 0.6))
        assert ema[run_id].smoothing == "ema:0.6"
    # twema: one time unit for every run (the median of their median gaps).
    twema = cmp.curves("score", x="wall_time", smoothing="twema:0.6")
    units = [series.time_unit(store.history(r)["score"].timestamps) for r in ids]
    for run_id in ids:
        points = store.history(run_id)["score"]
        want = series.time_weighted_ema(points.values, points.timestamps, 0.6, float(np.median(units)))
        assert np.allclose(twema[run_id].y, want)
    moving = cmp.curves("score", smoothing="ma:3")[ids[0]].y
    assert np.allclose(moving, series.moving_average(logged[ids[0]]["score"], 3))
    with pytest.raises(ValueError, match="'ema:2'"):
        cmp.curves("score", smoothing="ema:2")


def test_points_are_read_lazily_once_per_run(store, sweep, monkeypatch):
    ids, _ = sweep
    calls = []
    history = store.history
    monkeypatch.setattr(store, "history", lambda run_id, keys=None, **kw: calls.append((run_id, keys))
                        or history(run_id, keys, **kw))
    cmp = aquarium.compare(ids, ["score", "train/loss"], store=store)
    cmp.summary, cmp.params, cmp.best("score"), cmp.to_dict(), cmp._repr_html_()
    assert calls == []  # tables and best values come from summaries
    cmp.curves("score")
    cmp.curves("train/loss", smoothing="ema:0.9")
    cmp.groups("score")
    assert calls == [(run_id, ["score", "train/loss"]) for run_id in ids]  # one call per run
    cmp.curves("score", x="val_acc")  # a key outside the comparison's metrics: fetched once more
    assert calls[len(ids):] == [(run_id, ["val_acc"]) for run_id in ids]


# -- what runs may be ------------------------------------------------------------------------------


def test_runs_as_ids_records_live_runs_and_queries(store, sweep):
    ids, _ = sweep
    records = [store.get_run(i) for i in ids]
    assert [r.id for r in aquarium.compare(records[:2], store=store).runs] == ids[:2]
    assert [r.id for r in aquarium.compare([ids[1], records[0], ids[1]], store=store).runs] == [ids[1], ids[0]]
    assert aquarium.compare(records[0], store=store).runs[0].id == ids[0]
    # A live run: what it logged so far is flushed and compared; its store is used.
    run = aquarium.start_run(name="live", store=store, capture_source=False, flush_interval=60)
    try:
        run.log({"score": 42.0})
        live = aquarium.compare([run])
        assert live.best("score") == Best(run.id, "live", 42.0, 0)
        assert live.curves("score")[run.id].y.tolist() == [42.0]
    finally:
        run.finish()
    # A query string goes through store.search.
    chosen = aquarium.compare("params.lr = 0.1 and params.seed >= 2", store=store)
    assert sorted(r.id for r in chosen.runs) == sorted(ids[2:])
    assert aquarium.compare("params.lr = 12345", store=store).runs == []
    with pytest.raises(aquarium.QueryError):
        aquarium.compare("params.lr = = 1", store=store)
    with pytest.raises(RunNotFoundError, match="no-such-run"):
        aquarium.compare(["no-such-run"], store=store)
    with pytest.raises(TypeError, match="42"):
        aquarium.compare([42], store=store)


def test_an_empty_comparison_still_answers(store):
    cmp = aquarium.compare([], store=store)
    assert cmp.metrics == [] and len(cmp.summary) == 0 and cmp.params.differing == []
    assert json.dumps(cmp.to_dict(), allow_nan=False)
    assert "0 runs" in cmp._repr_html_()


# -- output ---------------------------------------------------------------------------------------


def test_to_dict_is_json(store):
    a = log_run(store, "a", {"loss": [1.0, math.nan, math.inf], "acc": [0.5, 0.6, 0.7]}, params={"lr": 0.1})
    cmp = aquarium.compare([a.id], store=store)
    data = json.loads(json.dumps(cmp.to_dict(), allow_nan=False))
    assert data["metrics"] == ["acc", "loss"]
    assert data["runs"][0]["id"] == a.id and data["runs"][0]["params"] == {"lr": 0.1}
    rows = {row["metric"]: row for row in data["summary"]}
    assert rows["loss"]["last"] == "Infinity" and rows["loss"]["best"] == 1.0 and rows["loss"]["best_step"] == 0
    assert data["best"]["acc"] == {"run_id": a.id, "run_name": "a", "value": 0.7, "step": 2}
    assert data["params"]["rows"][0]["param"] == "lr"


def test_to_frame(store, sweep):
    if not os.environ.get("CI"):  # CI installs pandas (noxfile): there this test always runs
        pytest.importorskip("pandas")
    import pandas as pd

    ids, logged = sweep
    frame = aquarium.compare(ids, store=store).to_frame()
    assert isinstance(frame, pd.DataFrame) and list(frame.index) == ids
    assert frame.loc[ids[1], "params.lr"] == 0.01
    assert frame.loc[ids[0], "metrics.val_acc.best"] == logged[ids[0]]["val_acc"].max()
    assert frame.loc[ids[0], "metrics.train/loss.best_step"] == int(np.argmin(logged[ids[0]]["train/loss"]))


def test_to_frame_without_pandas_says_so(store, sweep, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)  # makes "import pandas" raise ImportError
    with pytest.raises(ImportError, match="needs pandas.*pip install pandas"):
        aquarium.compare(sweep[0], store=store).to_frame()


def test_repr_html_escapes_what_users_wrote(store):
    evil = "<script>alert(1)</script>"
    a = log_run(store, evil, {"acc": [0.5]}, group="<b>g</b>", params={"note": evil, "k": 1})
    b = log_run(store, "b&b", {"acc": [0.9]}, params={"note": "x", "k": 1})
    page = aquarium.compare([a.id, b.id], store=store)._repr_html_()
    assert "<script>" not in page and "<b>g</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "b&amp;b" in page
    assert "params.note" in page and "params.k" not in page  # only the params that differ
    assert "<b>0.9</b>" in page  # the best value of each metric stands out


def test_plot_without_a_visualizer_names_the_plugins(store, sweep, monkeypatch):
    monkeypatch.setattr(plugins, "visualizers", dict)  # as if none were installed, whatever this venv holds
    cmp = aquarium.compare(sweep[0], store=store)
    for call in (lambda: cmp.plot(), lambda: cmp.to_html("report.html")):
        with pytest.raises(AquariumError) as info:
            call()
        assert "aquarium-plotly" in str(info.value) and "aquarium-bokeh" in str(info.value)
    assert "aquarium-plotly" in INSTALL_HINT


class RecordingVisualizer(Visualizer):
    """A stand-in backend (the plotly and bokeh plugins are separate distributions): it
    records what the core asks and returns plain data, through the real hook and registry."""

    def __init__(self, name):
        self.name = name
        self.calls = []

    def render(self, chart, comparison, options):
        self.calls.append((chart, comparison, options))
        return {"chart": chart, "backend": self.name}

    def update(self, figure, comparison, options):
        return figure

    def to_html(self, figures, *, title, theme="dark", header_html=""):
        return f"<html><title>{title}</title>{header_html}{len(figures)} figures</html>"


class VisualizerPlugin:
    def __init__(self, *visualizers):
        self.visualizers = visualizers

    @aquarium.hookimpl
    def aquarium_register_visualizers(self, register):
        for visualizer in self.visualizers:
            register(visualizer.name, visualizer)


@pytest.fixture
def installed():
    """Register visualizers as a plugin would (``plugins.register``); removed afterwards."""
    added = []

    def install(*names):
        visualizers = [RecordingVisualizer(name) for name in names]
        plugin = VisualizerPlugin(*visualizers)
        plugins.register(plugin, name=f"test-visualizers-{len(added)}")
        added.append(plugin)
        return visualizers

    yield install
    for plugin in added:
        plugins.unregister(plugin)


def test_plot_and_to_html_delegate_to_the_visualizer(store, sweep, installed, tmp_path, monkeypatch):
    monkeypatch.delenv("AQUARIUM_VISUALIZER", raising=False)
    first, second = installed("recorder-a", "recorder-b")  # names no real plugin takes
    cmp = aquarium.compare(sweep[0], store=store)
    figure = cmp.plot("score", backend="recorder-b", x="wall_time", smoothing="ema:0.6")
    assert figure == {"chart": "curves", "backend": "recorder-b"}
    chart, seen, options = second.calls[-1]
    assert (chart, seen) == ("curves", cmp)
    assert (options.metrics, options.x, options.smoothing) == (("score",), "wall_time", "ema:0.6")
    monkeypatch.setenv("AQUARIUM_VISUALIZER", "recorder-a")
    assert cmp.plot(chart="summary_table")["backend"] == "recorder-a"
    assert first.calls[-1][0] == "summary_table" and first.calls[-1][2].metrics is None
    monkeypatch.setenv("AQUARIUM_VISUALIZER", "matplotlib")
    with pytest.raises(AquariumError, match=r"AQUARIUM_VISUALIZER names the visualizer 'matplotlib'.*recorder-a"):
        cmp.plot()
    with pytest.raises(AquariumError, match=r"'svg'.*installed: .*recorder-a, recorder-b"):
        cmp.plot(backend="svg")
    with pytest.raises(ValueError, match="unknown chart 'pie'"):
        cmp.plot(chart="pie", backend="recorder-a")
    with pytest.raises(TypeError, match="'colour'"):
        cmp.plot(backend="recorder-a", colour="red")
    with pytest.raises(ValueError, match="'ema:7'"):
        cmp.plot(backend="recorder-a", smoothing="ema:7")
    path = cmp.to_html(tmp_path / "report.html", backend="recorder-a")
    assert path == str(tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert "Aquarium comparison of 4 runs" in page and "Params that differ" in page


def test_the_default_backend(store, sweep, monkeypatch):
    monkeypatch.delenv("AQUARIUM_VISUALIZER", raising=False)
    cmp = aquarium.compare(sweep[0], store=store)
    for found, chosen in (({"bokeh": "b"}, "bokeh"), ({"bokeh": "b", "plotly": "p"}, "plotly"),
                          ({"zeta": "z", "alpha": "a"}, "alpha")):
        recorders = {name: RecordingVisualizer(name) for name in found}
        monkeypatch.setattr(plugins, "visualizers", lambda r=recorders: r)
        assert cmp.plot()["backend"] == chosen


def test_shared_groups_leave_out_a_group_of_one(tmp_path):
    path = str(tmp_path / "store")
    ids = []
    for name, group, metric in (("a", "seeds", "loss"), ("b", "seeds", "loss"), ("c", "solo", "loss"),
                                ("d", "half", "loss"), ("e", "half", "acc")):
        with aquarium.start_run(name=name, group=group, store=path, capture_source=False) as run:
            run.log({metric: 1.0}, step=0)
        ids.append(run.id)
    cmp = aquarium.compare(ids, store=path)
    assert set(cmp.groups("loss")) == {"seeds", "solo", "half"}
    assert set(cmp.shared_groups("loss")) == {"seeds"}  # "half" has one run with loss
    assert cmp.shared_groups("loss")["seeds"].run_ids == ids[:2]
