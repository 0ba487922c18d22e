"""``update``: live figures stream new points, gain and lose runs, and keep the user's zoom.

The figures sit in a real bokeh ``Document`` (what a bokeh or Panel server syncs to the
browser); its change events show what would travel: a ``stream`` of the new rows only, or a
replacement of a source's data.
"""

from __future__ import annotations

import numpy as np
import pytest
from bokeh.document import Document
from bokeh.document.events import ColumnDataChangedEvent, ColumnsPatchedEvent, ColumnsStreamedEvent
from bokeh.models import DataTable, GlyphRenderer, HoverTool, Legend, Line

import aquarium
from aquarium.charts import CHARTS, ChartOptions
from aquarium_bokeh import BokehVisualizer, readback
from aquarium_bokeh._common import meta_of, subplots

V = BokehVisualizer()


def live(figure):
    doc = Document()
    doc.add_root(figure)
    events = []
    doc.on_change(lambda event: events.append(event))
    return events


def lines_by_run(figure):
    return {meta_of(r.data_source)["run_id"]: r for fig in subplots(figure) for r in fig.renderers
            if isinstance(r, GlyphRenderer) and isinstance(r.glyph, Line) and meta_of(r.data_source).get("run_id")}


def log(run, start, stop, f=lambda s: 1.0 / (s + 1)):
    for step in range(start, stop):
        run.log({"loss": f(step), "acc": step / 100}, step=step)
    run.flush()


@pytest.fixture
def runs(tmp_path):
    path = str(tmp_path / "live")
    first = aquarium.start_run(name="first", store=path, capture_source=False)
    second = aquarium.start_run(name="second", store=path, capture_source=False)
    log(first, 0, 10)
    log(second, 0, 10, lambda s: 2.0 - s / 10)
    yield path, first, second
    first.finish()
    second.finish()


def test_new_points_are_streamed_and_the_zoom_stays(runs):
    path, first, second = runs
    options = ChartOptions(metrics=["loss"])
    figure = V.render("curves", aquarium.compare([first.id, second.id], store=path), options)
    events = live(figure)
    fig = subplots(figure)[0]
    x_range, y_range = fig.x_range, fig.y_range
    x_range.start, x_range.end = 2.0, 6.0  # the user zoomed in
    events.clear()
    log(first, 10, 25)
    updated = V.update(figure, aquarium.compare([first.id, second.id], store=path), options)
    assert updated is figure
    streamed = [e for e in events if isinstance(e, ColumnsStreamedEvent)]
    replaced = [e for e in events if isinstance(e, ColumnDataChangedEvent)]
    assert len(streamed) == 1 and not replaced
    assert streamed[0].model is lines_by_run(figure)[first.id].data_source
    assert list(streamed[0].data["step"]) == list(range(10, 25))
    data = lines_by_run(figure)[first.id].data_source.data
    assert list(data["step"]) == list(range(25)) and data["y"][-1] == pytest.approx(1 / 25)
    assert fig.x_range is x_range and fig.y_range is y_range
    assert (x_range.start, x_range.end) == (2.0, 6.0)
    events.clear()
    V.update(figure, aquarium.compare([first.id, second.id], store=path), options)
    assert not [e for e in events if isinstance(e, (ColumnsStreamedEvent, ColumnDataChangedEvent))], \
        "nothing new, nothing sent"


def test_a_new_run_gets_a_line_and_a_gone_run_loses_it(runs):
    path, first, second = runs
    options = ChartOptions(metrics=["loss"])
    figure = V.render("curves", aquarium.compare([first.id], store=path), options)
    live(figure)
    V.update(figure, aquarium.compare([first.id, second.id], store=path), options)
    lines = lines_by_run(figure)
    assert set(lines) == {first.id, second.id}
    fig = subplots(figure)[0]
    (hover,) = fig.select({"type": HoverTool})
    assert lines[second.id] in hover.renderers
    (legend,) = fig.select({"type": Legend})
    assert [item.label.value for item in legend.items] == ["first", "second"]
    V.update(figure, aquarium.compare([second.id], store=path), options)
    assert set(lines_by_run(figure)) == {second.id}
    assert hover.renderers == [lines[second.id]]
    assert [item.label.value for item in legend.items] == ["second"]


def test_crossing_max_points_replaces_the_data_downsampled(runs):
    path, first, _ = runs
    options = ChartOptions(metrics=["loss"], max_points=20)
    figure = V.render("curves", aquarium.compare([first.id], store=path), options)
    events = live(figure)
    log(first, 10, 200, lambda s: 99.0 if s == 150 else 1.0 / (s + 1))
    V.update(figure, aquarium.compare([first.id], store=path), options)
    assert [e for e in events if isinstance(e, ColumnDataChangedEvent)]
    data = lines_by_run(figure)[first.id].data_source.data
    assert len(data["y"]) <= 20 and max(data["y"]) == 99.0 and 150 in list(data["step"])


def test_a_curve_past_max_points_gets_its_last_bucket_and_new_points_only(runs):
    path, first, _ = runs
    options = ChartOptions(metrics=["loss"], max_points=40)
    log(first, 10, 1000, lambda s: np.sin(s / 7.0))
    figure = V.render("curves", aquarium.compare([first.id], store=path), options)
    events = live(figure)
    source = lines_by_run(figure)[first.id].data_source
    before = len(source.data["step"])
    log(first, 1000, 1030, lambda s: 5.0 if s == 1017 else np.sin(s / 7.0))
    V.update(figure, aquarium.compare([first.id], store=path), options)
    assert not [e for e in events if isinstance(e, ColumnDataChangedEvent)], "the whole curve was sent again"
    sent = [e for e in events if isinstance(e, (ColumnsStreamedEvent, ColumnsPatchedEvent))]
    assert sent and all(e.model is source for e in sent)
    rows = sum(len(e.data["step"]) for e in sent if isinstance(e, ColumnsStreamedEvent)) + sum(
        len(values) for e in sent if isinstance(e, ColumnsPatchedEvent) for _, values in e.patches["step"])
    assert rows <= 4, f"{rows} rows sent for 30 new points in buckets of 64"
    fresh = V.render("curves", aquarium.compare([first.id], store=path), options)
    expected = lines_by_run(fresh)[first.id].data_source.data
    assert len(source.data["step"]) >= before
    for column in expected:
        assert list(source.data[column]) == list(expected[column]), column
    assert 1017 in list(source.data["step"]), "the spike among the new points is drawn"


def test_smoothed_streams_too(runs):
    path, first, _ = runs
    options = ChartOptions(metrics=["loss"], smoothing="ema:0.5")
    figure = V.render("smoothed", aquarium.compare([first.id], store=path), options)
    events = live(figure)
    log(first, 10, 14)
    V.update(figure, aquarium.compare([first.id], store=path), options)
    streamed = [e for e in events if isinstance(e, ColumnsStreamedEvent)]
    assert len(streamed) == 2  # the raw line and the smoothed one (EMA never rewrites the past)
    (smooth,) = [t for t in readback.traces(figure) if t["kind"] == "smoothed"]
    history = aquarium.compare([first.id], store=path).curves("loss", smoothing="ema:0.5")[first.id]
    assert np.allclose(smooth["y"], history.y)


@pytest.mark.parametrize("chart", [c for c in CHARTS if c not in ("curves", "smoothed")])
def test_every_other_chart_updates_in_place(runs, chart):
    path, first, second = runs
    before = aquarium.compare([first.id], store=path)
    figure = V.render(chart, before, ChartOptions())
    live(figure)
    third = aquarium.start_run(name="third", store=path, capture_source=False, params={"lr": 0.3})
    log(third, 0, 12, lambda s: 0.5)
    third.finish()
    after = aquarium.compare([first.id, second.id, third.id], store=path)
    updated = V.update(figure, after, ChartOptions())
    assert updated is figure
    fresh = V.render(chart, after, ChartOptions())
    assert readback.title_texts(updated) == readback.title_texts(fresh)
    assert _numbers(updated, chart) == _numbers(fresh, chart)
    if chart == "summary_table":
        (table,) = figure.select({"type": DataTable})
        assert len(table.source.data["run"]) == 3


def _numbers(figure, chart):
    if chart == "summary_table":
        return readback.table(figure)
    if chart in ("heatmap", "correlation"):
        return [(m["kind"], m["rows"], np.nan_to_num(np.asarray(m["z"])).round(12).tolist())
                for m in readback.matrices(figure)]
    if chart == "parallel_coordinates":
        return [(d["label"], [str(v) for v in d["values"]]) for d in readback.dimensions(figure)]
    return [(t["kind"], t.get("run_id"), np.nan_to_num(np.asarray(t["x"], dtype=float)).tolist())
            for t in readback.traces(figure) if t["kind"] != "points"] + \
        [(t["labels"], np.asarray(t["y"]).tolist()) for t in readback.traces(figure) if t["kind"] == "points"]


def test_update_refuses_a_foreign_figure(runs):
    from bokeh.plotting import figure

    path, first, _ = runs
    with pytest.raises(ValueError, match="not drawn by aquarium-bokeh"):
        V.update(figure(), aquarium.compare([first.id], store=path), ChartOptions())
