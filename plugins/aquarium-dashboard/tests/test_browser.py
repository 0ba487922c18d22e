"""The dashboard in headless Chromium: what a user sees and does."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
from playwright.sync_api import Page, expect

import aquarium
from aquarium_dashboard.testing import REFRESH, XSS, XSS_METRIC, columns_of, events_sent, serve, stop

pytestmark = pytest.mark.slow
ROWS = ".aquarium-runs .tabulator-row"


@pytest.fixture
def page(page: Page) -> Page:
    """Every test's page: no dialog may open (an executed script would open one)."""
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.set_viewport_size({"width": 1400, "height": 1000})
    yield page
    assert not dialogs, f"a script ran in the page: {dialogs}"


def open_dashboard(page: Page, url: str, charts: str | None = None) -> None:
    """Open the dashboard (drawing with ``charts``: the default is bokeh, Panel's own)."""
    page.goto(f"{url}?charts={charts}" if charts else url)
    expect(page.locator(ROWS).first).to_be_visible(timeout=30_000)


def cell(page: Page, row: int, field: str):
    return page.locator(ROWS).nth(row).locator(f".tabulator-cell[tabulator-field='{field}']")


def names(page: Page) -> list[str]:
    return page.locator(f"{ROWS} .tabulator-cell[tabulator-field='name']").all_inner_texts()


def tick(page: Page, *rows: int | str) -> None:
    """Tick the rows (by position, or by a run name they show) and wait for the server to know."""
    for row in rows:
        found = page.locator(ROWS).nth(row) if isinstance(row, int) else page.locator(ROWS).filter(has_text=row)
        found.locator("input[type=checkbox]").click()
        expect(found).to_have_class(re.compile("tabulator-selected"))
    page.wait_for_timeout(300)


def tab(page: Page, title: str) -> None:
    page.locator(".bk-tab").filter(has_text=title).click()


def query(page: Page, text: str) -> None:
    box = page.locator(".aquarium-query input")
    box.fill(text)
    box.press("Enter")


def test_table_lists_the_demo_runs(page, dashboard, demo_store, shots):
    open_dashboard(page, dashboard)
    expected = {r.name for r in aquarium.search(store=demo_store)}
    expect(page.locator(".aquarium-run-count")).to_have_text(f"{len(expected)} runs")
    assert set(names(page)) == expected
    expect(page.locator(ROWS).filter(has_text="mlp-lr400-seed0").locator("[tabulator-field='status']")) \
        .to_have_text("failed")
    durations = page.locator(f"{ROWS} .tabulator-cell[tabulator-field='duration']").all_inner_texts()
    assert durations and all(re.fullmatch(r"\d+ ms|\d+\.\d+ s|\d+ min \d+ s|\d+ h \d+ min", d) for d in durations), \
        f"durations as people read them: {durations}"
    page.screenshot(path=shots / "experiments.png", full_page=True)


def test_sorting_and_a_query_filter(page, dashboard):
    open_dashboard(page, dashboard)
    page.locator(".tabulator-col[tabulator-field='name'] .tabulator-col-title").click()
    expect(cell(page, 0, "name")).to_have_text(sorted(names(page))[0])
    query(page, "params.lr = 1 and status = completed")
    expect(page.locator(".aquarium-run-count")).to_have_text("2 runs")
    assert sorted(names(page)) == ["mlp-lr1-seed0", "mlp-lr1-seed1"]


def test_a_bad_query_shows_its_caret_not_a_traceback(page, dashboard):
    open_dashboard(page, dashboard)
    query(page, "params.lr >")
    error = page.locator(".aquarium-query-error")
    expect(error).to_contain_text("^")
    expect(error).to_contain_text("expected")
    assert "Traceback" not in error.inner_text()
    query(page, "")
    expect(error).to_be_hidden()


def test_run_detail_shows_params_notes_and_curves(page, dashboard, shots):
    open_dashboard(page, dashboard, charts="plotly")
    page.locator(ROWS).filter(has_text="mlp-lr1-seed0").locator("[tabulator-field='name']").click()
    detail = page.locator(".aquarium-run-detail")
    expect(detail.locator(".aquarium-run-name")).to_have_text("mlp-lr1-seed0")
    expect(detail.locator(".aquarium-params-tree")).to_contain_text("activation")
    expect(detail.locator("textarea")).to_have_value("Two-layer MLP on noisy spirals (numpy).")
    expect(detail.locator(".aquarium-artifact")).to_contain_text("weights.npy")
    expect(detail.locator(".js-plotly-plot")).to_be_visible(timeout=20_000)
    page.screenshot(path=shots / "run-detail.png", full_page=True)


def test_long_notes_are_saved_whole(page, dashboard, demo_store):
    """Text boxes have no length limit: Panel's default (5,000 characters) cut notes in the
    browser, and the cut text was saved."""
    (run,) = aquarium.search('name = "mlp-lr0.3-seed1"', store=demo_store)
    long_notes = "a long lab note. " * 1_200 + "END"
    try:
        open_dashboard(page, dashboard)
        page.locator(ROWS).filter(has_text=run.name).locator("[tabulator-field='name']").click()
        detail = page.locator(".aquarium-run-detail")
        expect(detail.locator(".aquarium-run-name")).to_have_text(run.name)
        detail.locator("textarea").fill(long_notes)
        detail.locator("button").filter(has_text="Save notes").click()
        expect(detail).to_contain_text("saved")
        assert aquarium.open_store(demo_store).get_run(run.id).notes == long_notes
    finally:
        aquarium.open_store(demo_store).update_run(run.id, notes=run.notes)


def test_compare_two_runs_shows_charts_and_differing_params(page, dashboard, shots):
    open_dashboard(page, dashboard, charts="plotly")
    query(page, 'group = "lr=1" or group = "lr=3"')
    expect(page.locator(".aquarium-run-count")).to_have_text("4 runs")
    tick(page, 0, 3)
    tab(page, "Compare")
    compare = page.locator(".aquarium-compare")
    expect(compare.locator(".js-plotly-plot")).to_be_visible(timeout=20_000)
    expect(compare.locator(".aquarium-summary-card").first).to_be_visible()
    expect(compare.locator(".aquarium-differing")).to_contain_text("params differ")
    params = compare.locator(".aquarium-params-table")
    expect(params.locator(".tabulator-row").filter(has_text="seed")).to_have_count(1)
    expect(compare.locator(".aquarium-performance")).to_contain_text("★")
    page.screenshot(path=shots / "compare.png", full_page=True)


def test_user_text_stays_text(page, dashboard, tmp_path):
    open_dashboard(page, dashboard)
    expect(page.locator(ROWS).filter(has_text=XSS)).to_have_count(1)  # shown literally
    assert page.locator(".aquarium-runs img").count() == 0
    # A metric key as a column: the option and the column titles show it literally.
    choices = page.locator(".choices").filter(has_text="train/loss").first
    choices.locator("input[type=search]").fill("onerror")
    choices.locator("input[type=search]").press("Enter")
    expect(page.locator(".aquarium-runs .tabulator-col-title").filter(has_text=f"{XSS_METRIC} last")).to_have_count(1)
    assert page.locator("img[src=x]").count() == 0
    page.locator(ROWS).filter(has_text=XSS).locator("[tabulator-field='name']").click()
    detail = page.locator(".aquarium-run-detail")
    expect(detail.locator(".aquarium-run-name")).to_have_text(XSS)
    expect(detail.locator(".aquarium-params-tree")).to_contain_text("<script>alert(2)</script>")
    expect(detail.locator(".aquarium-tags")).to_contain_text("<i onmouseover=alert(3)>x</i>")
    expect(detail.locator("textarea")).to_have_value("<svg onload=alert(4)>")
    assert page.locator(".aquarium-run-detail svg[onload], .aquarium-run-detail i[onmouseover]").count() == 0
    tick(page, 0)
    tick(page, "mlp-lr1-seed0")
    tab(page, "Compare")
    header = page.locator(".aquarium-params-table .tabulator-col-title").filter(has_text=XSS)
    expect(header).to_have_count(1)
    compare = page.locator(".aquarium-compare")
    expect(compare.locator(".aquarium-performance")).to_contain_text(XSS_METRIC)
    assert page.locator("img[src=x]").count() == 0
    with page.expect_download() as download:
        compare.locator(".aquarium-report button").click()
    report = tmp_path / "report.html"
    download.value.save_as(report)
    page.goto(report.as_uri())  # the report, offline, with the XSS run and metric in it
    expect(page.get_by_text(XSS_METRIC).first).to_be_attached(timeout=20_000)
    assert page.locator("img[src=x]").count() == 0
    page.wait_for_timeout(1000)  # give any injected handler the chance to fire


@pytest.fixture
def live(tmp_path):
    """A store holding one finished run, served with a short refresh: (store, url)."""
    store = str(tmp_path / "store")
    aquarium.start_run(name="already-there", store=store, capture_source=False).finish()
    url, server = serve(store, log_dir=tmp_path)
    yield store, url
    stop(server)


def train(store: str, name: str, *, burst: int = 0, steady: int = 400) -> subprocess.Popen:
    """A run logging from another process: ``burst`` points at once, then ``steady`` more, one
    every 0.1 s (end it with ``terminate``)."""
    script = textwrap.dedent(f"""
        import math, time, aquarium
        with aquarium.start_run(name={name!r}, store={store!r}, flush_interval=0.2, capture_source=False) as run:
            for step in range({burst + steady}):
                run.log({{"loss": 1 / (step + 1) + 0.1 * math.sin(step / 50)}}, step=step)
                if step == {burst - 1}:
                    run.flush()
                if step >= {burst}:
                    time.sleep(0.1)
    """)
    return subprocess.Popen([sys.executable, "-c", script])


def test_a_run_logged_elsewhere_appears_and_its_curve_grows(page, live, shots):
    store, url = live
    open_dashboard(page, url, charts="plotly")
    trainer = train(store, "live-one")
    try:
        row = page.locator(ROWS).filter(has_text="live-one")
        expect(row).to_have_count(1, timeout=(2 * REFRESH + 4) * 1000)
        expect(row.locator("[tabulator-field='status']")).to_have_text("running")
        row.locator("[tabulator-field='name']").click()
        plot = page.locator(".aquarium-run-detail .js-plotly-plot")
        expect(plot).to_be_visible(timeout=20_000)
        first = plot.evaluate("el => el.data[0].x.length")
        # The user zooms in, as with a drag: the zoom must survive the refreshes.
        plot.evaluate("el => window.Plotly.relayout(el, {'xaxis.range': [0, 5]})")
        page.wait_for_timeout(2.5 * REFRESH * 1000)
        later = plot.evaluate("el => el.data[0].x.length")
        assert later > first, f"the curve did not grow: {first} then {later} points"
        assert plot.evaluate("el => el.layout.xaxis.range") == [0, 5], "a refresh lost the zoom"
        page.screenshot(path=shots / "live.png", full_page=True)
    finally:
        trainer.terminate()
        trainer.wait(20)
    expect(row.locator("[tabulator-field='status']")).to_have_text("killed", timeout=(2 * REFRESH + 4) * 1000)


#: The x and y ranges of every bokeh plot in the page, as the browser holds them.
RANGES = """() => [...Bokeh.documents].flatMap(d => [...d.all_models])
    .filter(m => m.type === 'DataRange1d' || m.type === 'Range1d').map(m => [m.id, m.start, m.end])"""


def test_a_long_curve_receives_only_its_new_points(page, live, shots):
    """Past ``max_points`` a growing curve is downsampled, yet each refresh sends its newest
    bucket and new points, not the whole curve again, and the user's pan stays (the default,
    bokeh, charts)."""
    store, url = live
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(f) if isinstance(f, str) else None))
    trainer = train(store, "long-one", burst=3000)
    try:
        open_dashboard(page, url)
        row = page.locator(ROWS).filter(has_text="long-one")
        expect(row).to_have_count(1, timeout=(2 * REFRESH + 4) * 1000)
        row.locator("[tabulator-field='name']").click()
        canvas = page.locator(".aquarium-run-detail .bk-Canvas").first
        expect(canvas).to_be_visible(timeout=20_000)
        page.wait_for_timeout(REFRESH * 1000)
        unpanned = page.evaluate(RANGES)
        box = canvas.bounding_box()
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x - 150, y, steps=5)  # the user pans the curve (bokeh's default drag)
        page.mouse.up()
        page.wait_for_timeout(300)
        panned = page.evaluate(RANGES)
        assert panned != unpanned, "the drag did not pan the plot"
        frames.clear()
        page.wait_for_timeout(3 * REFRESH * 1000)
        assert page.evaluate(RANGES) == panned, "a refresh moved the user's view"
        events = events_sent(frames)
        curve = {e["model"]["id"] for e in events if {"step", "y"} <= set(columns_of(e))}
        assert len(curve) == 1, "the curve received no new points"
        resent = [e for e in events if e["model"]["id"] in curve and e["kind"] in ("ColumnDataChanged", "ModelChanged")]
        assert not resent, f"the whole curve was sent again: {[(e['kind'], columns_of(e)) for e in resent]}"
        rows = [columns_of(e)["step"] for e in events if e["model"]["id"] in curve]
        assert max(rows) < 60, f"a refresh sent {max(rows)} rows of a curve holding ~750"
        (source,) = curve
        held = page.evaluate("id => Bokeh.documents.map(d => d.get_model_by_id(id)).find(m => m).data.step", source)
        assert max(held) > 3000 and 500 < len(held) <= 1000, "the page holds the downsampled curve with its new points"
        page.screenshot(path=shots / "live-long.png", full_page=True)
    finally:
        trainer.terminate()
        trainer.wait(20)


def test_export_to_a_file_based_mlflow_store(page, dashboard, demo_store, tmp_path, shots, monkeypatch):
    import mlflow

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 keeps file stores behind a switch
    target = (tmp_path / "mlruns").as_uri()
    open_dashboard(page, dashboard)
    tick(page, "mlp-lr1-seed0")
    tab(page, "Export")
    card = page.locator(".aquarium-export-mlflow")
    card.locator(".aquarium-export-to input").fill(target)
    card.locator(".aquarium-export-to input").press("Enter")
    card.locator(".aquarium-export-button button").click()
    expect(card.locator(".aquarium-export-status")).to_have_text(re.compile("done: 1 exported, 0 failed"),
                                                                 timeout=120_000)
    page.screenshot(path=shots / "export.png", full_page=True)
    [record] = aquarium.search('name = "mlp-lr1-seed0"', store=demo_store)
    client = mlflow.MlflowClient(tracking_uri=target)
    [experiment] = [e for e in client.search_experiments() if e.name == record.experiment]
    [found] = client.search_runs([experiment.experiment_id], f"tags.`aquarium.run_id` = '{record.id}'")
    assert found.info.run_name == record.name
    history = client.get_metric_history(found.info.run_id, "val/acc")
    assert len(history) == record.summaries["val/acc"].count


def test_visualize_and_the_backend_switch(page, dashboard, shots):
    open_dashboard(page, dashboard)  # bokeh by default: no plotly.js in the page
    assert not page.evaluate("() => 'Plotly' in window")
    tick(page, 0, 1, 2)
    tab(page, "Visualize")
    view = page.locator(".aquarium-visualize")
    expect(view.locator("canvas").first).to_be_attached(timeout=20_000)
    page.screenshot(path=shots / "visualize.png", full_page=True)
    page.locator(".aquarium-backend button").filter(has_text="plotly").click()
    page.wait_for_url(re.compile(r"charts=plotly"))
    expect(page.locator(ROWS).first).to_be_visible(timeout=30_000)
    assert page.evaluate("() => 'Plotly' in window")
    tick(page, 0, 1, 2)
    tab(page, "Visualize")
    expect(view.locator(".js-plotly-plot")).to_be_visible(timeout=20_000)


def test_light_switch(page, dashboard, shots):
    open_dashboard(page, dashboard)
    page.locator(".aquarium-theme-switch button").click()
    page.wait_for_url(re.compile(r"theme=default"))
    expect(page.locator(ROWS).first).to_be_visible(timeout=30_000)
    expect(page.locator(".aquarium-theme-switch button")).to_have_text("dark theme")
    page.screenshot(path=shots / "light.png", full_page=True)


def test_each_browser_session_has_its_own_state(page, dashboard, context):
    open_dashboard(page, dashboard)
    other = context.new_page()
    open_dashboard(other, dashboard)
    query(page, "params.lr = 3")
    expect(page.locator(".aquarium-run-count")).to_have_text("2 runs")
    expect(other.locator(".aquarium-run-count")).not_to_have_text("2 runs")
    tick(other, 0)
    tab(other, "Compare")
    expect(page.locator(".aquarium-runs .tabulator-row.tabulator-selected")).to_have_count(0)
    other.close()
