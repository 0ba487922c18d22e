"""The app assembled in-process: pages from the hook, filters composed into one query, the
switches that keep a dashboard safe, and the command line."""

from __future__ import annotations

import html

import panel as pn
import pytest
from click.testing import CliRunner

import aquarium
from aquarium import plugins
from aquarium.cli import add_plugin_commands, cli
from aquarium.errors import QueryError
from aquarium_dashboard.cli import is_loopback
from aquarium_dashboard.context import DashboardContext
from aquarium_dashboard.layout import build_app, pages
from aquarium_dashboard.pages.compare import CompareView
from aquarium_dashboard.pages.experiments import RunBrowser
from aquarium_dashboard.pages.export import ExportCard
from aquarium_dashboard.testing import XSS
from aquarium_dashboard.text import Text


@pytest.fixture
def store(tmp_path):
    path = str(tmp_path / "store")
    for name, lr, tags in (("a", 0.1, {"team": "vision"}), ("b", 1.0, {"team": "nlp"}), (XSS, 0.5, {})):
        with aquarium.start_run(name=name, store=path, params={"lr": lr}, tags=tags, capture_source=False) as run:
            run.log({"loss": lr}, step=0)
    return aquarium.open_store(path)


def browser(store, **options) -> RunBrowser:
    return RunBrowser(DashboardContext(store, plugins.visualizers(), **options))


def test_the_own_pages_come_through_the_hook_in_order():
    assert [p.name for p in pages()][:4] == ["experiments", "compare", "visualize", "export"]


def test_text_pane_sends_escaped_text_only():
    model = Text(XSS).get_root()
    assert "<img" not in html.unescape(model.text)  # what the browser puts into the page
    assert html.escape(XSS) in html.unescape(model.text)


def test_filters_compose_into_one_query(store):
    view = browser(store)
    view.query.value = "params.lr < 0.9"
    view.tag.value = "team=vision"
    assert view.compose() == '(params.lr < 0.9) and tags.`team` = "vision"'
    assert list(view.table.value["name"]) == ["a"]
    view.tag.value = ""
    view.statuses.value = ["completed"]
    view.search_text.value = 'say "hi"'
    assert view.compose() == '(params.lr < 0.9) and "say \\"hi\\"" and status in ("completed")'
    assert view.table.value.empty  # nobody wrote that phrase


def test_a_bad_query_keeps_the_table_and_says_where(store):
    view = browser(store)
    before = list(view.table.value["name"])
    view.query.value = "params.lr >> 1"
    assert view.error.visible and "^" in view.error.object
    assert list(view.table.value["name"]) == before
    view.query.value = ""
    view.tag.value = "=x"
    with pytest.raises(QueryError, match="tag filter"):
        view.compose()


def test_ticked_rows_are_the_shared_selection_and_survive_a_refresh(store):
    view = browser(store)
    ids = list(view.table.value["id"])
    view.table.selection = [0, 2]
    assert view.context.selection.run_ids == [ids[0], ids[2]]
    with aquarium.start_run(name="newer", store=store, capture_source=False) as run:
        run.log({"loss": 3.0})
    view.tick()
    assert view.table.value["name"].iloc[0] == "newer"  # newest first
    assert [view.table.value["id"].iloc[i] for i in view.table.selection] == [ids[0], ids[2]]


def test_read_only_stores_and_exports_typed_into_the_page(store):
    context = DashboardContext(store, {}, read_only=True, allow_export=False)
    view = RunBrowser(context)
    view.detail.show(view.table.value["id"].iloc[0])
    notes = [w for w in view.detail.view.select(pn.widgets.TextAreaInput)]
    assert notes and all(w.disabled for w in notes)
    assert not view.detail.view.select(pn.widgets.Button)  # no "Save notes"
    card = ExportCard(context, "mlflow", aquarium.interop.exporters()["mlflow"])
    assert card.button.disabled and card.target.disabled


def test_notes_are_saved_to_the_store(store):
    view = browser(store)
    run_id = view.table.value["id"].iloc[0]
    view.detail.show(run_id)
    [notes] = view.detail.view.select(pn.widgets.TextAreaInput)
    notes.value = "tried a smaller batch"
    [save] = [b for b in view.detail.view.select(pn.widgets.Button) if b.label == "Save notes"]
    save.clicks += 1
    assert store.get_run(run_id).notes == "tried a smaller batch"


def test_a_broken_page_shows_its_error_and_the_others_still_work(store):
    class Broken(aquarium.interfaces.DashboardPage):
        name, title, order = "broken", "Broken", 99

        def build(self, context):
            raise RuntimeError("no GPU here")

    class Plugin:
        @aquarium.hookimpl
        def aquarium_register_dashboard_pages(self, register):
            register("broken", Broken())

    plugin = Plugin()
    plugins.register(plugin, name="broken-page")
    try:
        app = build_app(store, refresh=0)
        [tabs] = [part for part in app if isinstance(part, pn.Tabs)]
        assert [name for name, _ in zip(tabs._names, tabs)][-1] == "Broken"
        assert "no GPU here" in tabs[-1].object
        assert tabs._names[0] == "Experiments"
    finally:
        plugins.unregister(plugin)


@pytest.mark.parametrize(("address", "loopback"), [("127.0.0.1", True), ("::1", True), ("localhost", True),
                                                   ("0.0.0.0", False), ("192.168.1.4", False), ("x y", False)])
def test_exports_default_on_only_for_loopback(address, loopback):
    assert is_loopback(address) is loopback


@pytest.fixture
def aquarium_cli():
    add_plugin_commands(cli)
    return cli


def test_cli_refuses_a_bad_store_in_one_line(aquarium_cli):
    result = CliRunner().invoke(cli, ["dashboard", "--store", "nosuch://x", "--port", "0"])
    assert result.exit_code != 0
    assert "nosuch" in result.output and "Traceback" not in result.output


def test_cli_prints_the_app_file_for_panel_serve(aquarium_cli):
    result = CliRunner().invoke(cli, ["dashboard", "--app-path"])
    assert result.exit_code == 0 and result.output.strip().endswith("aquarium_dashboard/app.py")


def test_charts_choose_the_backends_and_what_the_page_loads(aquarium_cli):
    from aquarium_dashboard.layout import chart_backends, extensions

    assert "plotly" in extensions() and "plotly" not in extensions(["bokeh"])
    assert list(chart_backends(["bokeh"])) == ["bokeh"]
    result = CliRunner().invoke(aquarium_cli, ["dashboard", "--charts", "matplotlib", "--port", "0"])
    assert result.exit_code != 0 and "'matplotlib'" in result.output and "Traceback" not in result.output


def test_compare_aggregates_only_runs_that_share_a_group(tmp_path):
    path = str(tmp_path / "store")
    ids = []
    for name, group in (("seed-0", "seeds"), ("seed-1", "seeds"), ("solo", "lr=3")):
        with aquarium.start_run(name=name, group=group, store=path, capture_source=False) as run:
            for step in range(5):
                run.log({"loss": step + len(ids)}, step=step)
        ids.append(run.id)
    context = DashboardContext(aquarium.open_store(path), plugins.visualizers())
    context.settings.page = "compare"
    view = CompareView(context)
    context.selection.run_ids = ids
    groups = view.body[4].objects[1].value
    assert set(groups["group"]) == {"seeds"} and list(groups["runs"]) == [2]
    assert groups["final mean"][0] == pytest.approx(4.5)
    context.selection.run_ids = [ids[0], ids[2]]  # one run of each group: nothing to aggregate
    assert not view.body[4].objects
