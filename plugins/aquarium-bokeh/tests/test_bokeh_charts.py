"""Each chart as bokeh models: renderers, sources, values, titles, axes, hover and themes.

The contract suite (test_bokeh_suite.py) checks what every visualizer must show; these tests
check how bokeh shows it (one ``ColumnDataSource`` per series, glyph kinds, hover tools,
grids, colour mappers), on real runs logged into a real SQLite store.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from bokeh.models import (
    ColumnDataSource,
    DataTable,
    DatetimeAxis,
    GlyphRenderer,
    GridPlot,
    HoverTool,
    Image,
    Line,
    LinearColorMapper,
    LogScale,
    MultiLine,
    Quad,
    Segment,
    VArea,
)

import aquarium
from aquarium import plugins, series
from aquarium.charts import CHARTS, THEMES, ChartOptions
from aquarium_bokeh import BokehVisualizer, readback
from aquarium_bokeh._common import chart_of, keyed_sources, meta_of, subplots, text_of

V = BokehVisualizer()


def glyph_renderers(fig, glyph_type):
    return [r for r in fig.renderers if isinstance(r, GlyphRenderer) and isinstance(r.glyph, glyph_type)]


def by_metric(root):
    return {next(t["aquarium_metric"] for t in fig.tags if "aquarium_metric" in t): fig for fig in subplots(root)}


def sources_of(root):
    return list(root.select({"type": ColumnDataSource}))


# -- registration and the Comparison API ------------------------------------------------------------
def test_registered_through_the_entry_point():
    found = plugins.visualizers()
    assert isinstance(found["bokeh"], BokehVisualizer)
    assert found["bokeh"].charts == CHARTS


def test_comparison_plot_and_to_html_pick_bokeh(comparison, tmp_path):
    figure = comparison.plot(["loss"], chart="curves", backend="bokeh", log_y=True)
    assert isinstance(figure, GridPlot) and chart_of(figure)["aquarium_chart"] == "curves"
    assert readback.y_scales(figure) == ["log"]
    path = comparison.to_html(tmp_path / "r.html", backend="bokeh")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    assert text.count("/* BEGIN bokeh.min.js */") == 1


def test_options_as_a_mapping_and_bad_ones(comparison):
    figure = V.render("curves", comparison, {"metrics": ["acc"], "height": 222})
    assert readback.height(figure) == 222
    with pytest.raises(TypeError, match="colour"):
        V.render("curves", comparison, {"colour": "red"})
    with pytest.raises(TypeError, match="ChartOptions"):
        V.render("curves", comparison, 42)


# -- curves -------------------------------------------------------------------------------------
def test_curves_grid_one_line_renderer_and_source_per_run(comparison, run_ids):
    figure = V.render("curves", comparison, ChartOptions(band=None))
    assert isinstance(figure, GridPlot)
    subs = by_metric(figure)
    assert list(subs) == ["acc", "loss"]
    assert all(s.x_range is subs["acc"].x_range for s in subs.values()), "subplots pan and zoom together"
    for metric, fig in subs.items():
        lines = glyph_renderers(fig, Line)
        assert len(lines) == len(run_ids) == len({id(r.data_source) for r in lines})
        assert {meta_of(r.data_source)["run_id"] for r in lines} == set(run_ids.values())
        assert {r.name for r in lines} == set(run_ids)
        assert text_of(fig.title.text) == metric
        assert text_of(fig.xaxis[0].axis_label) == "step" and text_of(fig.yaxis[0].axis_label) == metric
        for r in lines:
            assert set(r.data_source.data) == {"step", "y", "wall"}
            assert r.glyph.x == "step" and r.glyph.y == "y"
    keys = [meta_of(s)["aquarium"] for s in sources_of(figure)]
    assert len(keys) == len(set(keys)) == 2 * len(run_ids)


def test_curves_values_are_the_logged_points(comparison, run_ids):
    figure = V.render("curves", comparison, ChartOptions(metrics=["loss"], band=None))
    fig = by_metric(figure)["loss"]
    history = comparison.store.history(run_ids["nan-run"], ["loss"])["loss"]
    (line,) = [r for r in glyph_renderers(fig, Line) if r.name == "nan-run"]
    data = line.data_source.data
    assert np.array_equal(data["step"], history.steps)
    assert np.array_equal(data["y"], history.values, equal_nan=True)
    assert np.allclose(np.asarray(data["wall"]) / 1000.0, history.timestamps, rtol=0, atol=1e-6)
    assert np.isnan(data["y"][30:35]).all()


def test_groups_drawn_as_mean_line_and_varea_band(comparison, run_ids):
    figure = V.render("curves", comparison, ChartOptions(metrics=["loss"], band="std"))
    fig = by_metric(figure)["loss"]
    lines = glyph_renderers(fig, Line)
    bands = glyph_renderers(fig, VArea)
    assert len(bands) == 1 and meta_of(bands[0].data_source)["group"] == "seeds"
    assert len(lines) == len(run_ids) - 3 + 1  # the three seeds become one mean line
    aggregate = comparison.groups("loss")["seeds"]
    data = bands[0].data_source.data
    assert np.allclose(data["lower"], aggregate.mean - aggregate.std, equal_nan=True)
    assert np.allclose(data["upper"], aggregate.mean + aggregate.std, equal_nan=True)
    hovers = fig.select({"type": HoverTool})
    assert {t.tooltips[0][0] for t in hovers} == {"run", "group"}


@pytest.mark.parametrize("x", ["wall_time", "relative_time", "acc"])
def test_groups_are_drawn_run_by_run_on_other_x_axes(comparison, run_ids, x):
    figure = V.render("curves", comparison, ChartOptions(metrics=["loss"], x=x, band="minmax"))
    fig = by_metric(figure)["loss"]
    assert not glyph_renderers(fig, VArea), "seeds align by step: no band on another x axis"
    lines = glyph_renderers(fig, Line)
    assert {meta_of(r.data_source)["run_id"] for r in lines} == set(run_ids.values())
    seeds = {r.glyph.line_color for r in lines if r.name.startswith("seed-")}
    assert len(seeds) == 1, "a group shares one colour"
    field = {"wall_time": "wall"}.get(x, "x")
    assert all(r.glyph.x == field for r in lines)
    assert isinstance(fig.xaxis[0], DatetimeAxis) == (x == "wall_time")


def test_log_y_uses_a_log_scale_and_leaves_gaps_for_values_not_above_zero(tmp_path):
    run = aquarium.start_run(name="signs", store=tmp_path, capture_source=False)
    for step, value in enumerate([1.0, 0.5, 0.0, -1.0, 2.0]):
        run.log({"m": value}, step=step)
    run.finish()
    figure = V.render("curves", aquarium.compare([run.id], store=tmp_path), ChartOptions(log_y=True))
    (fig,) = subplots(figure)
    assert isinstance(fig.y_scale, LogScale)
    (line,) = glyph_renderers(fig, Line)
    assert np.array_equal(line.data_source.data["y"], [1.0, 0.5, np.nan, np.nan, 2.0], equal_nan=True)


def test_hover_names_run_step_value_and_wall_time(comparison):
    figure = V.render("curves", comparison, ChartOptions(metrics=["loss"], band=None))
    fig = by_metric(figure)["loss"]
    (hover,) = fig.select({"type": HoverTool})
    assert dict(hover.tooltips) == {"run": "$name", "step": "@step", "value": "@y{%.6g}",
                                    "wall time (UTC)": "@wall{%F %T.%3N}"}
    assert set(hover.renderers) == set(glyph_renderers(fig, Line))
    assert hover.formatters["@wall"] == "datetime"


def test_the_million_step_spike_survives_downsampling(tmp_path):
    n = 1_000_000
    values = np.cos(np.arange(n) / 5000.0)
    values[777_777] = 1e6
    values[222_222] = -1e6
    run = aquarium.start_run(name="long", store=tmp_path, capture_source=False)
    for step in range(n):
        run.log({"m": float(values[step])}, step=step)
    run.finish()
    big = aquarium.compare([run.id], store=tmp_path)
    for chart in ("curves", "smoothed"):
        figure = V.render(chart, big, ChartOptions(max_points=400, x="wall_time"))
        (fig,) = subplots(figure)
        for renderer in glyph_renderers(fig, Line):
            data = renderer.data_source.data
            assert all(len(column) <= 400 for column in data.values())
            if meta_of(renderer.data_source)["part"] == "raw" or chart == "curves":
                assert max(data["y"]) == 1e6 and min(data["y"]) == -1e6
                steps = list(data["step"])
                assert 777_777 in steps and 222_222 in steps
    figure = V.render("heatmap", big, ChartOptions(max_points=400))
    (matrix,) = readback.matrices(figure)
    assert matrix["z"].shape == (1, 400)
    assert np.nanmax(matrix["z"]) == 1.0 and np.nanmin(matrix["z"]) == 0.0


# -- smoothed -------------------------------------------------------------------------------------
def test_smoothed_has_a_faint_raw_line_under_each_smoothed_line(comparison, run_ids):
    figure = V.render("smoothed", comparison, ChartOptions(metrics=["loss"], band=None, smoothing="ma:4"))
    fig = by_metric(figure)["loss"]
    lines = glyph_renderers(fig, Line)
    raw = [r for r in lines if meta_of(r.data_source)["part"] == "raw"]
    smooth = [r for r in lines if meta_of(r.data_source)["part"] == "line"]
    assert len(raw) == len(smooth) == len(run_ids)
    assert all(r.glyph.line_alpha < 0.5 for r in raw) and all(r.glyph.line_alpha == 1.0 for r in smooth)
    assert max(fig.renderers.index(r) for r in raw[:1]) < fig.renderers.index(smooth[0]), "raw drawn underneath"
    (hover,) = fig.select({"type": HoverTool})
    assert set(hover.renderers) == set(smooth) and ("raw", "@raw{%.6g}") in hover.tooltips
    history = comparison.store.history(run_ids["alpha"], ["loss"])["loss"]
    (alpha,) = [r for r in smooth if r.name == "alpha"]
    assert np.allclose(alpha.data_source.data["y"], series.moving_average(history.values, 4), rtol=1e-12)
    assert "ma:4" in text_of(fig.title.text)


def test_smoothed_defaults_to_tensorboards_ema(comparison):
    figure = V.render("smoothed", comparison, ChartOptions(metrics=["acc"]))
    assert chart_of(figure)["smoothing"] == "ema:0.6"
    assert "ema:0.6" in text_of(subplots(figure)[0].title.text)


# -- distribution -----------------------------------------------------------------------------------
def test_distribution_per_run_quads_spans_and_legend(comparison, run_ids):
    figure = V.render("distribution", comparison, ChartOptions(metrics=["loss"]))
    fig = by_metric(figure)["loss"]
    quads = glyph_renderers(fig, Quad)
    assert len(quads) == len(run_ids)
    edges = [tuple(q.data_source.data["left"]) for q in quads]
    assert len(set(edges)) == 1, "runs share their bins"
    segments = glyph_renderers(fig, Segment)  # dashed means and dotted medians, one source for all runs
    assert [r.glyph.line_dash for r in segments] == ["dashed", "dotted"]
    stats = segments[0].data_source
    assert segments[1].data_source is stats and len(stats.data["mean"]) == len(run_ids)
    history = comparison.store.history(run_ids["nan-run"], ["loss"])["loss"].values
    finite = history[np.isfinite(history)]
    (quad,) = [q for q in quads if q.name == "nan-run"]
    assert int(np.sum(quad.data_source.data["count"])) == len(finite) == STEPS_FINITE
    labels = [t for t in readback.title_texts(figure) if t.startswith("nan-run:")]
    assert labels == [f"nan-run: mean {finite.mean():.6g}, median {np.median(finite):.6g}"]


STEPS_FINITE = 55


def test_distribution_of_final_values_states_mean_and_median(comparison):
    figure = V.render("distribution", comparison, ChartOptions(metrics=["acc"], across="final"))
    fig = by_metric(figure)["acc"]
    finals = np.array([r.summaries["acc"].last for r in comparison.runs])
    title = text_of(fig.title.text)
    assert f"mean {finals.mean():.6g}" in title and f"median {np.median(finals):.6g}" in title
    (quad,) = glyph_renderers(fig, Quad)
    assert int(np.sum(quad.data_source.data["count"])) == len(finals)
    (stats,) = {r.data_source for r in glyph_renderers(fig, Segment)}
    assert list(stats.data["mean"]) == [finals.mean()] and list(stats.data["median"]) == [np.median(finals)]


# -- correlation --------------------------------------------------------------------------------
def test_correlation_two_matrices_of_rects_with_a_diverging_mapper(comparison):
    figure = V.render("correlation", comparison, ChartOptions())
    pearson, spearman = subplots(figure)
    for fig, kind in ((pearson, "pearson"), (spearman, "spearman")):
        (cells,) = [r for r in fig.renderers if meta_of(r.data_source).get("aquarium") == f"matrix|{kind}"
                    and r.glyph.__class__.__name__ == "Rect"]
        labels = fig.x_range.factors
        assert labels == ["params.layers", "params.lr", "params.seed", "metrics.acc.last", "metrics.loss.last"]
        assert len(cells.data_source.data["r"]) == len(labels) ** 2
        (mapper,) = fig.select({"type": LinearColorMapper})
        assert (mapper.low, mapper.high) == (-1.0, 1.0)
        assert kind.capitalize() in text_of(fig.title.text)
    # seed rises with the run's index and so does the final loss (monotonic, not linear): rho = 1
    (spear,) = [m for m in readback.matrices(figure) if m["kind"] == "spearman"]
    seed, loss = spear["rows"].index("params.seed"), spear["rows"].index("metrics.loss.last")
    finals = np.array([r.summaries["loss"].last for r in comparison.runs])
    seeds = np.arange(len(finals), dtype=np.float64)
    expected = np.corrcoef(np.argsort(np.argsort(seeds)), np.argsort(np.argsort(finals)))[0, 1]
    assert spear["z"][seed, loss] == pytest.approx(expected)


def test_correlation_within_a_run_by_name(comparison):
    figure = V.render("correlation", comparison, ChartOptions(run="alpha"))
    (pearson, _) = readback.matrices(figure)
    assert pearson["rows"] == ["metrics.acc", "metrics.loss"]
    assert pearson["z"][0, 1] == pytest.approx(-1.0)  # acc = 1 - loss / 2
    assert "within run alpha" in text_of(subplots(figure)[0].title.text)


# -- heatmap -------------------------------------------------------------------------------------
def test_heatmap_one_image_per_metric_first_run_on_top(comparison, run_ids):
    figure = V.render("heatmap", comparison, ChartOptions())
    subs = by_metric(figure)
    assert list(subs) == ["acc", "loss"]
    fig = subs["loss"]
    (image,) = glyph_renderers(fig, Image)
    data = image.data_source.data
    assert np.shape(data["image"][0]) == (len(run_ids), 60)
    assert list(data["runs"][0]) == list(run_ids)
    overrides = fig.yaxis[0].major_label_overrides
    top = max(overrides)
    assert text_of(overrides[top]) == "alpha" and text_of(overrides[min(overrides)]) == next(reversed(run_ids))


def test_heatmap_bins_keep_the_value_farthest_from_the_median(tmp_path):
    run = aquarium.start_run(name="r", store=tmp_path, capture_source=False)
    values = np.zeros(100)
    values[13] = 5.0
    values[71] = -2.0
    for step in range(100):
        run.log({"m": float(values[step])}, step=step)
    run.finish()
    figure = V.render("heatmap", aquarium.compare([run.id], store=tmp_path), ChartOptions(max_points=10))
    (matrix,) = readback.matrices(figure)
    z = matrix["z"][0]
    assert list(matrix["columns"]) == list(range(0, 100, 10))
    assert z[1] == 1.0 and z[7] == 0.0  # 5 and -2, normalized over [-2, 5]
    assert np.allclose(np.delete(z, [1, 7]), 2 / 7)


# -- parallel coordinates and scatter -----------------------------------------------------------
def test_parallel_coordinates_one_multi_line_coloured_by_the_metric(comparison, run_ids):
    figure = V.render("parallel_coordinates", comparison, ChartOptions(metrics=["loss"]))
    (lines,) = glyph_renderers(figure, MultiLine)
    data = lines.data_source.data
    axes = readback.dimensions(figure)
    assert [d["label"] for d in axes] == ["params.layers", "params.lr", "params.opt", "params.seed",
                                          "metrics.loss.best"]
    assert len(data["xs"]) == len(run_ids) and all(len(xs) == len(axes) for xs in data["xs"])
    ys = np.array(data["ys"])
    assert np.nanmin(ys) == 0.0 and np.nanmax(ys) == 1.0
    best = np.array([comparison.summary[r.id]["loss"].best for r in comparison.runs])
    mapper = lines.glyph.line_color["transform"]
    assert (mapper.low, mapper.high) == (best.min(), best.max())
    opt = axes[2]["values"]
    assert opt == ["adam", "sgd", "adam", "adam", "adam", "sgd", "<b>sgd</b>"]
    assert sorted(set(ys[:, 2])) == [0.0, 0.5, 1.0]  # three categories, evenly spaced, sorted
    texts = readback.title_texts(figure)
    assert "params.opt" in texts and "metrics.loss.best" in texts


def test_scatter_numeric_and_categorical(comparison):
    figure = V.render("scatter", comparison, ChartOptions(metrics=["loss"], param="lr", log_y=True))
    (points,) = readback.traces(figure)
    assert points["kind"] == "points" and len(points["labels"]) == len(comparison.runs)
    assert isinstance(figure.y_scale, LogScale)
    assert text_of(figure.xaxis[0].axis_label) == "params.lr"
    figure = V.render("scatter", comparison, ChartOptions(metrics=["acc"], param="opt"))
    assert list(figure.x_range.factors) == ["<b>sgd</b>", "adam", "sgd"]
    figure = V.render("scatter", comparison, ChartOptions(metrics=["acc"]))
    assert chart_of(figure)["param"] == "layers"  # the first numeric param that differs


# -- summary table ----------------------------------------------------------------------------------
def test_summary_table_is_a_datatable_with_the_best_in_bold(comparison):
    layout = V.render("summary_table", comparison, ChartOptions())
    (table,) = layout.select({"type": DataTable})
    assert not table.reorderable and table.sortable
    read = readback.table(layout)
    assert read["header"][0] == "run" and "loss best ↓" in read["header"] and "acc best ↑" in read["header"]
    best = comparison.best("loss")
    col = read["header"].index("loss best ↓")
    row = [r[0] for r in read["rows"]].index(best.run_name)
    assert (row, col) in read["highlighted"]
    colors = table.source.data["loss|best_color"]
    assert colors[row] == THEMES["dark"]["success"] and colors.count(THEMES["dark"]["success"]) == 1


# -- themes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("chart", CHARTS)
def test_dark_by_default_light_on_request(comparison, chart):
    dark = readback.backgrounds(V.render(chart, comparison, ChartOptions()))
    light = readback.backgrounds(V.render(chart, comparison, ChartOptions(theme="light")))
    assert dark & {THEMES["dark"]["background"], THEMES["dark"]["paper"]}
    assert light & {THEMES["light"]["background"], THEMES["light"]["paper"]}
    assert not light & {THEMES["dark"]["background"], THEMES["dark"]["paper"]}


def test_run_colours_come_from_the_theme_palette(comparison):
    figure = V.render("curves", comparison, ChartOptions(metrics=["loss"], band=None, theme="light"))
    colors = {r.glyph.line_color for r in glyph_renderers(subplots(figure)[0], Line)}
    assert colors <= set(THEMES["light"]["palette"]) and len(colors) == 7


# -- scale ------------------------------------------------------------------------------------------
def test_every_source_respects_max_points(comparison):
    options = ChartOptions(max_points=10)
    for chart in CHARTS:
        figure = V.render(chart, comparison, options)
        for src in keyed_sources(figure).values():
            part = meta_of(src).get("part")
            if part in ("line", "raw", "rawmean", "mean", "band"):
                assert all(len(col) <= 10 for col in src.data.values()), (chart, meta_of(src))
            if meta_of(src)["aquarium"].startswith("heatmap|"):
                assert np.shape(src.data["image"][0])[1] <= 10


def test_empty_comparison_renders(tmp_path):
    empty = aquarium.compare([], store=tmp_path)
    for chart in CHARTS:
        figure = V.render(chart, empty, ChartOptions())
        assert figure is not None and readback.title_texts(figure)


def test_non_finite_values_never_break_a_chart(tmp_path):
    run = aquarium.start_run(name="odd", store=tmp_path, capture_source=False, params={"lr": 0.1})
    for step, value in enumerate([math.nan, math.inf, -math.inf, 1.0, math.nan]):
        run.log({"m": value, "k": float(step)}, step=step)
    run.finish()
    odd = aquarium.compare([run.id], store=tmp_path)
    document = V.to_html([V.render(chart, odd, ChartOptions()) for chart in CHARTS], title="odd")
    assert document.count("</html>") == 1
