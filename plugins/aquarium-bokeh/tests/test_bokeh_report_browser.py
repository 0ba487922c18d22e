"""Reports in a real browser: Debian's chromium through Playwright, every network request refused.

Each page is opened from ``file://`` with a route that aborts (and records) any other
request: the tests assert that nothing was even attempted, that BokehJS drew every chart onto
its canvases, that the console stayed free of errors, and that a run named like HTML shows
up as text (in the params table, the summary table, the legend and the hover) without ever
becoming an element or opening a dialog.
"""

from __future__ import annotations

import datetime

import pytest
from playwright.sync_api import expect

import aquarium
from aquarium import report
from aquarium.charts import CHARTS, ChartOptions
from aquarium_bokeh import BokehVisualizer

pytestmark = pytest.mark.slow
V = BokehVisualizer()
XSS = "<img src=x onerror=alert(1)>"  # also a run name in conftest's runs

# BokehJS is done when every root view is idle (all glyphs drawn).
IDLE = "() => window.Bokeh && Bokeh.documents.length > 0 && [...Bokeh.index].length > 0 " \
       "&& [...Bokeh.index].every(view => view.is_idle)"
# Per <canvas> of at least 100 px: how many distinct colours it holds (a blank canvas has one).
CANVAS_COLOURS = """() => [...document.querySelectorAll('*')].flatMap(el => el.shadowRoot ? [el.shadowRoot] : [])
  .reduce(function walk(acc, root) {
     for (const el of root.querySelectorAll('*')) {
       if (el.tagName === 'CANVAS' && el.width >= 100 && el.height >= 100) acc.push(el);
       if (el.shadowRoot) walk(acc, el.shadowRoot);
     }
     return acc; }, [])
  .map(canvas => {
     const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
     const seen = new Set();
     for (let i = 0; i < data.length && seen.size < 50; i += 4 * 97)
       seen.add(data[i] << 16 | data[i + 1] << 8 | data[i + 2]);
     return seen.size; })"""


def offline(page) -> list[str]:
    """Abort every request that is not for a file:// URL; return the ones that were attempted."""
    refused: list[str] = []

    def handle(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    return refused


def watch(page) -> list[str]:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning")
            else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("dialog", lambda d: (problems.append(f"dialog: {d.message}"), d.dismiss()))
    return problems


def open_report(page, path):
    refused, problems = offline(page), watch(page)
    page.goto(f"file://{path}")
    page.wait_for_function(IDLE, timeout=60_000)
    return refused, problems


def roots(page) -> list[str]:
    """The types of the root views BokehJS rendered (its own notifications area left out)."""
    return page.evaluate("() => [...Bokeh.index].map(view => view.model.type).filter(t => t !== 'Notifications')")


def drawn_canvases(page) -> list[int]:
    return page.evaluate(CANVAS_COLOURS)


def test_report_renders_offline_and_shows_names_as_text(page, comparison, tmp_path):
    path = report.write_report(comparison, V, tmp_path / "report.html", title=f"Runs {XSS}")
    refused, problems = open_report(page, path)
    charts = report.report_charts(comparison)
    assert roots(page) == ["Column", "GridPlot", "Figure"]
    assert len(charts) == 3
    colours = drawn_canvases(page)
    plots = 2 + 1  # curves: one subplot per metric (loss, acc); parallel coordinates: one
    assert len(colours) >= plots and sum(c > 5 for c in colours) >= plots, colours
    assert page.title() == f"Runs {XSS}"
    assert page.locator("h1").inner_text() == f"Runs {XSS}"
    header = page.locator("table.aquarium-params thead th", has_text="onerror")
    assert header.inner_text() == XSS
    cell = page.locator(".slick-cell", has_text="onerror")  # the summary DataTable (in a shadow root)
    expect(cell.first).to_be_attached(timeout=10_000)
    assert cell.first.inner_text() == XSS
    page.wait_for_timeout(500)  # give a would-be onerror handler its chance
    assert page.locator("img[src='x']").count() == 0  # CSS locators pierce bokeh's shadow roots
    assert refused == [] and problems == []


def test_every_chart_renders_in_both_themes(page, comparison, tmp_path):
    figures = [V.render(chart, comparison, ChartOptions(metrics=["loss", "acc"])) for chart in CHARTS]
    figures += [V.render(chart, comparison, ChartOptions(theme="light", x="wall_time", log_y=True, band="std"))
                for chart in ("curves", "smoothed")]
    figures.append(V.render("correlation", comparison, ChartOptions(run=comparison.runs[0].id, theme="light")))
    figures.append(V.render("distribution", comparison, ChartOptions(across="final", theme="light")))
    path = tmp_path / "all.html"
    path.write_text(V.to_html(figures, title="All charts", theme="light"), encoding="utf-8")
    refused, problems = open_report(page, path)
    assert len(roots(page)) == len(figures)
    colours = drawn_canvases(page)
    assert sum(c > 5 for c in colours) >= 12, colours
    assert page.locator(".slick-row").count() == len(comparison.runs)
    assert refused == [] and problems == []


def test_hover_shows_the_run_name_as_text_with_step_value_and_wall_time(page, tmp_path):
    run = aquarium.start_run(name=XSS, store=tmp_path / "store", capture_source=False)
    for step in range(50):
        run.log({"loss": 1.0}, step=step)
    run.finish()
    flat = aquarium.compare([run.id], store=tmp_path / "store")
    path = tmp_path / "hover.html"
    path.write_text(V.to_html([V.render("curves", flat, ChartOptions())], title="hover"), encoding="utf-8")
    refused, problems = open_report(page, path)
    canvas = page.locator("canvas").first
    box = canvas.bounding_box()
    tooltip = page.locator(".bk-tooltip-content")
    for dy in range(0, int(box["height"]), 3):  # the flat line crosses the middle: sweep down to it
        page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + dy)
        if tooltip.count() and tooltip.first.inner_text().strip():
            break
    text = tooltip.first.inner_text()
    values = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
    values = {k.strip(): v.strip() for k, v in values.items()}
    assert values["run"] == XSS and values["value"] == "1"
    step = int(values["step"])
    stamp = flat.store.history(run.id, ["loss"])["loss"].timestamps[step]
    shown = datetime.datetime.strptime(values["wall time (UTC)"], "%Y-%m-%d %H:%M:%S.%f")
    assert abs(shown.replace(tzinfo=datetime.timezone.utc).timestamp() - float(stamp)) < 0.0015
    page.wait_for_timeout(300)
    assert page.locator("img[src='x']").count() == 0
    assert refused == [] and problems == []
