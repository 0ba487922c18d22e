"""The report in a real browser: Debian's chromium through Playwright, every network request refused."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

import aquarium
from aquarium import report
from aquarium.charts import CHARTS, ChartOptions
from aquarium_plotly import PlotlyVisualizer

XSS = "<img src=x onerror=alert(1)>"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("browser") / "store")
    ids = []
    for index, (name, group) in enumerate([("alpha", None), (XSS, None), ("seed-0", "seeds"), ("seed-1", "seeds"),
                                           ("seed-2", "seeds")]):
        run = aquarium.start_run(name=name, group=group, store=path, capture_source=False,
                                 params={"lr": 0.1 / (index + 1), "opt": "<b>sgd</b>" if index % 2 else "adam"})
        for step in range(60):
            run.log({"loss": 1.0 / (1 + 0.1 * step) + 0.01 * index, "acc": step / 60 - 0.01 * index}, step=step)
        run.finish()
        ids.append(run.id)
    return aquarium.compare(ids, store=path)


def _offline(page):
    """Refuse every request that is not the report file itself; return what was refused."""
    refused: list[str] = []

    def handle(route):
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    return refused


def _watch(page):
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    return problems


def test_report_renders_offline_and_escapes_names(page, comparison, tmp_path):
    path = report.write_report(comparison, PlotlyVisualizer(), tmp_path / "report.html", title=f"Runs {XSS}")
    refused, problems = _offline(page), _watch(page)
    page.goto(f"file://{path}")
    charts = report.report_charts(comparison)
    expect(page.locator(".js-plotly-plot")).to_have_count(len(charts), timeout=30_000)
    expect(page.locator(".js-plotly-plot .main-svg").first).to_be_visible()
    # the table's cells and the curves' legend are drawn
    expect(page.locator(".js-plotly-plot .table .cell-text").first).to_be_attached()
    expect(page.locator(".js-plotly-plot .legend .traces").first).to_be_attached()
    page.wait_for_timeout(500)  # give a would-be onerror handler its chance
    assert page.title() == f"Runs {XSS}"
    assert page.locator("h1").inner_text() == f"Runs {XSS}"
    header = page.locator("table.aquarium-params thead th", has_text="onerror")
    assert header.inner_text() == XSS  # shown as text
    assert page.locator("img[src='x']").count() == 0  # never parsed as an element
    legend = page.locator(".js-plotly-plot .legendtext", has_text="onerror")
    assert XSS in legend.first.text_content()
    cell = page.locator(".js-plotly-plot .table .cell-text", has_text="onerror")  # plotly drops unknown tags:
    wrapped = cell.first.text_content()  # the cell wraps its text into lines at spaces
    assert XSS.replace(" ", "") in wrapped.replace(" ", "")  # only escaped does the name survive in a table
    assert refused == [] and problems == []


def test_every_chart_renders_in_the_browser(page, comparison, tmp_path):
    visualizer = PlotlyVisualizer()
    figures = [visualizer.render(chart, comparison, ChartOptions(metrics=["loss", "acc"])) for chart in CHARTS]
    figures.append(visualizer.render("curves", comparison, ChartOptions(theme="light", x="wall_time", log_y=True)))
    path = tmp_path / "all.html"
    path.write_text(visualizer.to_html(figures, title="All charts", theme="light"), encoding="utf-8")
    refused, problems = _offline(page), _watch(page)
    page.goto(f"file://{path}")
    expect(page.locator(".js-plotly-plot")).to_have_count(len(figures), timeout=30_000)
    expect(page.locator(".js-plotly-plot .parcoords").first).to_be_attached()
    expect(page.locator(".js-plotly-plot .hm image, .js-plotly-plot .heatmaplayer image").first).to_be_attached()
    page.wait_for_timeout(300)
    assert refused == [] and problems == []


def test_hover_shows_run_step_value_and_wall_time(page, comparison, tmp_path):
    visualizer = PlotlyVisualizer()
    figure = visualizer.render("curves", comparison, ChartOptions(metrics=["loss"], band=None))
    path = tmp_path / "hover.html"
    path.write_text(visualizer.to_html([figure], title="hover"), encoding="utf-8")
    refused, problems = _offline(page), _watch(page)
    page.goto(f"file://{path}")
    expect(page.locator(".js-plotly-plot")).to_have_count(1, timeout=30_000)
    # hover the first point of the first trace through plotly's own API
    page.evaluate("() => { const gd = document.querySelector('.js-plotly-plot');"
                  " Plotly.Fx.hover(gd, [{curveNumber: 0, pointNumber: 3}]); }")
    label = page.locator(".hoverlayer .hovertext").first
    expect(label).to_be_attached(timeout=10_000)
    content = label.text_content()
    run = comparison.runs[0]
    assert run.name in content and "step 3" in content and "UTC" in content
    assert time_prefix(comparison) in content
    assert refused == [] and problems == []


def time_prefix(comparison) -> str:
    import datetime

    history = comparison.store.history(comparison.runs[0].id, ["loss"])["loss"]
    stamp = datetime.datetime.fromtimestamp(float(history.timestamps[3]), tz=datetime.timezone.utc)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")
