"""The plugin registry with real entry points from a real (fake) distribution on sys.path."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

import aquarium
from aquarium import plugins
from aquarium.stores import open_store


@pytest.fixture
def third_party(tmp_path, monkeypatch):
    """Install a distribution `acme-aquarium` with one good and one broken plugin."""
    (tmp_path / "acme_store.py").write_text(textwrap.dedent("""
        import aquarium
        from aquarium.stores.sqlite import SQLiteStore

        class AcmeStore(SQLiteStore):
            name = "acme"
            def __init__(self, uri, *, artifacts=None):
                super().__init__(uri.replace("acme://", ""), artifacts=artifacts)
                self.uri = uri

        @aquarium.hookimpl
        def aquarium_register_stores(register):
            register("acme", AcmeStore)
    """))
    (tmp_path / "acme_broken.py").write_text("raise RuntimeError('acme is broken')\n")
    dist = tmp_path / "acme_aquarium-1.2.3.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-aquarium\nVersion: 1.2.3\n")
    (dist / "entry_points.txt").write_text("[aquarium]\nacme = acme_store\nbroken = acme_broken\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    plugins.reset()
    yield tmp_path
    plugins.reset()


def test_a_broken_plugin_is_reported_once_and_the_others_load(third_party):
    with pytest.warns(plugins.PluginWarning, match=r"'broken'.*acme is broken"):
        infos = {i.name: i for i in plugins.plugin_infos()}
    assert infos["broken"].error == "RuntimeError: acme is broken"
    assert infos["acme"].distribution == "acme-aquarium" and infos["acme"].version == "1.2.3"
    assert infos["acme"].hooks == ["aquarium_register_stores"]
    assert infos["sqlite"].distribution == "aquarium-core"
    store = open_store(f"acme://{third_party}/acme-store")
    assert store.name == "acme"
    with aquarium.start_run(store=store, capture_source=False) as run:
        run.log({"x": 1.0})
    assert store.get_run(run.id).status == "completed"


def test_disabled_plugins_stay_out(third_party, monkeypatch):
    monkeypatch.setenv("AQUARIUM_DISABLE_PLUGINS", "broken, acme")
    infos = {i.name: i for i in plugins.plugin_infos()}
    assert infos["acme"].disabled and infos["broken"].disabled and not infos["broken"].error
    with pytest.raises(aquarium.UnknownSchemeError, match="'acme'"):
        open_store("acme://x")


def test_builtin_store_comes_through_the_entry_point_group(monkeypatch):
    monkeypatch.setenv("AQUARIUM_DISABLE_PLUGINS", "sqlite")
    plugins.reset()
    try:
        with pytest.raises(aquarium.UnknownSchemeError, match="no store plugin handles '' URIs") as info:
            open_store("/tmp/anything")
        assert "a plain path" not in str(info.value) and "sqlite://" not in str(info.value)
    finally:
        monkeypatch.delenv("AQUARIUM_DISABLE_PLUGINS")
        plugins.reset()


def test_plugins_command_lists_distribution_version_and_hooks(third_party):
    env_path = str(third_party)
    out = subprocess.run([sys.executable, "-m", "aquarium", "plugins", "--json"], capture_output=True, text=True,
                         env={**__import__("os").environ, "PYTHONPATH": env_path}, check=True)
    infos = {i["name"]: i for i in json.loads(out.stdout)}
    assert infos["acme"]["distribution"] == "acme-aquarium"
    assert infos["acme"]["hooks"] == ["aquarium_register_stores"]
    assert "acme is broken" in infos["broken"]["error"]
    assert "acme is broken" in out.stderr  # the warning, once
    assert out.stderr.count("acme is broken") == 1


def test_import_aquarium_pulls_in_nothing_heavy():
    heavy = ["panel", "plotly", "bokeh", "mlflow", "wandb", "tensorboardX", "tensorboard", "psycopg", "pandas",
             "hypothesis", "fsspec", "torch"]
    code = ("import sys, aquarium, aquarium.tracking, aquarium.stores.sqlite, aquarium.cli, aquarium.testing.plugin;"
            f"print([m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
