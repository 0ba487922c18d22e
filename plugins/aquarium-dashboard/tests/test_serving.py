"""Other ways in: a third-party page from the public hook, and the app under `panel serve`."""

from __future__ import annotations

import subprocess
import sys
import time

import panel as pn
import pytest
from playwright.sync_api import expect

import aquarium
from aquarium import plugins
from aquarium_dashboard import APP_FILE
from aquarium_dashboard.layout import build_app, extensions
from aquarium_dashboard.testing import free_port, stop, wait_for

pytestmark = pytest.mark.slow


class GpuPage(aquarium.interfaces.DashboardPage):
    """A tiny third-party page written only against the public hook and context."""

    name, title, order = "gpu", "GPU hours", 50

    def build(self, context):
        text = pn.pane.Markdown(f"{len(context.store.search())} runs, selected: none", css_classes=["gpu-page"])
        context.selection.param.watch(
            lambda event: setattr(text, "object", f"{len(context.store.search())} runs, selected: {len(event.new)}"),
            "run_ids")
        return text


class GpuPlugin:
    @aquarium.hookimpl
    def aquarium_register_dashboard_pages(self, register):
        register("gpu", GpuPage())


def test_a_third_party_page_appears_as_a_tab_and_follows_the_selection(page, demo_store):
    plugin = GpuPlugin()
    plugins.register(plugin, name="gpu-page")
    pn.extension(*extensions())
    port = free_port()
    server = pn.serve(lambda: build_app(demo_store, refresh=0), port=port, address="127.0.0.1", threaded=True,
                      show=False, websocket_origin=[f"127.0.0.1:{port}"])
    try:
        deadline = time.monotonic() + 30
        while not getattr(server, "server", None) and time.monotonic() < deadline:
            time.sleep(0.1)
        page.goto(f"http://127.0.0.1:{port}/")
        rows = page.locator(".aquarium-runs .tabulator-row")
        expect(rows.first).to_be_visible(timeout=30_000)
        rows.nth(0).locator("input[type=checkbox]").click()
        page.locator(".bk-tab").filter(has_text="GPU hours").click()
        count = len(aquarium.search(store=demo_store))
        expect(page.locator(".gpu-page")).to_have_text(f"{count} runs, selected: 1")
    finally:
        server.stop()
        plugins.unregister(plugin)


def test_panel_serve_on_the_shipped_app_file(page, demo_store, tmp_path):
    """The README's line: the app at ``/`` itself (``--index app``) and at ``/app``."""
    port = free_port()
    log = tmp_path / "panel.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "panel", "serve", APP_FILE, "--index", "app", "--port", str(port),
         "--address", "127.0.0.1", f"--allow-websocket-origin=127.0.0.1:{port}"],
        stdout=log.open("w"), stderr=subprocess.STDOUT,
        env={**__import__("os").environ, "AQUARIUM_STORE": demo_store, "AQUARIUM_DASHBOARD_REFRESH": "0"})
    try:
        wait_for(f"http://127.0.0.1:{port}/app", proc, log)
        count = len(aquarium.search(store=demo_store))
        for path in ("", "app"):
            page.goto(f"http://127.0.0.1:{port}/{path}")
            expect(page.locator(".aquarium-run-count")).to_have_text(f"{count} runs", timeout=30_000)
    finally:
        stop(proc)
