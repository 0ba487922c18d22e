"""What the plotly plugin does beyond the shared contract: lazy import, WebGL at scale, bands
within max_points, live updates that keep trace identity, empty comparisons, Comparison.plot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest

import aquarium
from aquarium.charts import CHARTS, ChartOptions
from aquarium_plotly import PlotlyVisualizer
from aquarium_plotly._common import UIREVISION, WEBGL_ABOVE
from aquarium_plotly.testing import traces


@pytest.fixture
def visualizer():
    return PlotlyVisualizer()


def _run(path, name, values, group=None, params=None):
    run = aquarium.start_run(name=name, group=group, params=params or {}, store=path, capture_source=False)
    for step, value in enumerate(values):
        run.log({"loss": float(value)}, step=step)
    run.finish()
    return run.id


def test_loading_the_plugin_imports_no_plotly():
    code = ("import sys, aquarium_plotly.plugin as p; from aquarium_plotly import PlotlyVisualizer; "
            "print('plotly' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_figures_are_plotly_figures_with_a_fixed_uirevision(visualizer, tmp_path):
    path = str(tmp_path / "s")
    cmp = aquarium.compare([_run(path, "a", np.arange(10.0), params={"lr": 0.1}),
                            _run(path, "b", np.ones(10), params={"lr": 0.2})], store=path)
    for chart in CHARTS:
        figure = visualizer.render(chart, cmp, ChartOptions())
        assert isinstance(figure, go.Figure)
        assert figure.layout.uirevision == UIREVISION
        assert figure.layout.meta["aquarium"]["chart"] == chart
        figure.to_json()  # serializable (what to_html and Panel send)


def test_many_points_switch_to_webgl(visualizer, tmp_path):
    path = str(tmp_path / "s")
    steps = WEBGL_ABOVE + 1000
    cmp = aquarium.compare([_run(path, "long", np.sin(np.arange(steps) / 50))], store=path)
    assert {t.type for t in visualizer.render("curves", cmp, ChartOptions(max_points=steps)).data} == {"scattergl"}
    assert {t.type for t in visualizer.render("curves", cmp, ChartOptions()).data} == {"scatter"}


def test_group_mean_and_band_stay_within_max_points(visualizer, tmp_path):
    path = str(tmp_path / "s")
    rng = np.random.default_rng(3)
    ids = []
    for seed in range(3):
        values = np.exp(-np.arange(5000) / 800) + rng.normal(0, 0.01, 5000)
        values[1234 + seed] = 9.0  # each seed's spike
        ids.append(_run(path, f"seed-{seed}", values, group="seeds"))
    cmp = aquarium.compare(ids, store=path)
    aggregate = cmp.groups("loss")["seeds"]
    for max_points in (100, 7, 3):
        figure = visualizer.render("curves", cmp, ChartOptions(max_points=max_points))
        (mean,) = [t for t in traces(figure) if t["kind"] == "mean"]
        (band,) = [t for t in traces(figure) if t["kind"] == "band"]
        assert len(mean["x"]) <= max_points and len(band["x"]) <= max_points
        assert float(np.max(band["high"])) == float(np.max(aggregate.max)) == 9.0
        assert float(np.min(band["low"])) == float(np.min(aggregate.min))
        assert float(np.max(mean["y"])) == float(np.max(aggregate.mean))


def test_update_writes_into_the_same_traces_and_keeps_the_zoom(visualizer, tmp_path):
    path = str(tmp_path / "live")
    first = aquarium.start_run(name="first", store=path, capture_source=False)
    second = aquarium.start_run(name="second", store=path, capture_source=False)
    for step in range(5):
        first.log({"loss": 1.0 - step / 10}, step=step)
        second.log({"loss": 2.0 - step / 10}, step=step)
    first.flush(), second.flush()
    options = ChartOptions(metrics=["loss"])
    figure = visualizer.render("curves", aquarium.compare([first.id, second.id], store=path), options)
    figure.update_layout(xaxis={"range": [1, 3]})  # the user zoomed (in a FigureWidget or Panel)
    uids = {t.meta["run_id"]: t.uid for t in figure.data}
    for step in range(5, 9):
        first.log({"loss": 1.0 - step / 10}, step=step)
    first.flush()
    third = aquarium.start_run(name="third", store=path, capture_source=False)
    third.log({"loss": 0.5}, step=0)
    third.flush()
    same = visualizer.update(figure, aquarium.compare([first.id, third.id], store=path), options)
    assert same is figure
    by_run = {t.meta["run_id"]: t for t in figure.data}
    assert set(by_run) == {first.id, third.id}  # second left the comparison: its trace is gone
    assert by_run[first.id].uid == uids[first.id]  # the same trace received the new points
    assert list(by_run[first.id].x) == list(range(9))
    assert figure.layout.uirevision == UIREVISION and tuple(figure.layout.xaxis.range) == (1, 3)
    heat = visualizer.render("heatmap", aquarium.compare([first.id], store=path), options)
    assert visualizer.update(heat, aquarium.compare([first.id, third.id], store=path), options) is heat
    assert len(heat.data[0].y) == 2
    for run in (first, second, third):
        run.finish()


def test_scatter_without_params_says_so(visualizer, tmp_path):
    path = str(tmp_path / "s")
    cmp = aquarium.compare([_run(path, "a", [1.0, 2.0])], store=path)
    with pytest.raises(ValueError, match="needs a param"):
        visualizer.render("scatter", cmp, ChartOptions())


def test_update_refuses_a_foreign_figure(visualizer, tmp_path):
    path = str(tmp_path / "s")
    cmp = aquarium.compare([_run(path, "a", [1.0, 2.0])], store=path)
    with pytest.raises(ValueError, match="render"):
        visualizer.update(go.Figure(), cmp, ChartOptions())


def test_an_empty_comparison(visualizer, tmp_path):
    path = str(tmp_path / "s")
    _run(path, "a", [1.0])
    cmp = aquarium.compare("name = nobody", store=path)
    assert len(cmp.runs) == 0
    for chart in ("curves", "smoothed", "distribution", "correlation", "heatmap", "summary_table"):
        assert isinstance(visualizer.render(chart, cmp, ChartOptions()), go.Figure)
    for chart in ("parallel_coordinates", "scatter"):
        with pytest.raises(ValueError, match="needs a metric"):
            visualizer.render(chart, cmp, ChartOptions())
    document = aquarium.report.write_report(cmp, visualizer, tmp_path / "empty.html")
    assert Path(document).read_text(encoding="utf-8").count("* plotly.js v") == 1


def test_comparison_plot_and_to_html_reach_this_plugin(tmp_path):
    path = str(tmp_path / "s")
    cmp = aquarium.compare([_run(path, "a", np.arange(20.0), params={"lr": 0.1}),
                            _run(path, "b", np.arange(20.0) ** 0.5, params={"lr": 0.2})], store=path)
    figure = cmp.plot("loss", chart="smoothed", backend="plotly", smoothing="ema:0.5", log_y=True)
    assert isinstance(figure, go.Figure)
    assert {t["kind"] for t in traces(figure)} == {"raw", "smoothed"}
    assert figure.layout.yaxis.type == "log"
    with pytest.raises(TypeError, match="colour"):
        cmp.plot("loss", backend="plotly", colour="red")
    written = cmp.to_html(tmp_path / "report.html", backend="plotly")
    document = Path(written).read_text(encoding="utf-8")
    assert document.count("* plotly.js v") == 1 and "aquarium-params" in document


def test_the_command_line_writes_a_report(tmp_path):
    path = str(tmp_path / "s")
    ids = [_run(path, name, np.linspace(1, 0, 30), params={"lr": lr}) for name, lr in (("a", 0.1), ("b", 0.2))]
    report_path = tmp_path / "cli.html"
    done = subprocess.run([sys.executable, "-m", "aquarium", "compare", *ids, "--store", path,
                           "--html", str(report_path), "--backend", "plotly"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    document = report_path.read_text(encoding="utf-8")
    assert document.count("* plotly.js v") == 1 and document.count('class="plotly-graph-div"') == 3
