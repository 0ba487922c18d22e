"""The export/import driver and ExporterSuite, proved with a small real exporter: Aquarium
run folders (``aquarium/run.json`` plus artifact files) on disk."""

from __future__ import annotations

import os
import shutil
from typing import Any

import pytest
from click.testing import CliRunner

import aquarium
from aquarium import interop, plugins
from aquarium.cli import cli
from aquarium.interfaces import Exporter, Importer
from aquarium.interop import RunBundle, SourceRun, TransferResult
from aquarium.testing.exporter_suite import ExporterSuite


class FolderExporter(Exporter):
    name = "folder"
    description = "Aquarium run folders"

    def check(self, to: str, **options: Any) -> None:
        if os.path.isfile(to):
            raise ValueError(f"export target {to!r} is a file, not a folder")

    def export_run(self, bundle: RunBundle, to: str, **options: Any) -> TransferResult:
        if bundle.record.name == "explode":
            raise RuntimeError("this run cannot be exported")
        folder = os.path.join(to, bundle.record.id)
        shutil.rmtree(folder, ignore_errors=True)  # re-export replaces
        os.makedirs(os.path.join(folder, "aquarium"))
        with open(os.path.join(folder, interop.RUN_JSON), "w") as f:
            f.write(interop.dump_run_json(bundle))
        for name, path in bundle.artifact_files.items():
            dest = os.path.join(folder, "files", name)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            shutil.copyfile(path, dest)
        return TransferResult(bundle.record.id, bundle.record.name, "folder", folder, bundle.points,
                              len(bundle.artifact_files))


class FolderImporter(Importer):
    name = "folder"

    def discover(self, source: str, **options: Any) -> list[SourceRun]:
        return [SourceRun(entry, entry) for entry in sorted(os.listdir(source))]

    def read(self, item: SourceRun, source: str, **options: Any) -> RunBundle:
        folder = os.path.join(source, item.source_id)
        with open(os.path.join(folder, interop.RUN_JSON)) as f:
            record, history = interop.load_run_json(f.read())
        files = {a.name: os.path.join(folder, "files", a.name) for a in record.artifacts}
        return RunBundle(record, history, files)


class FolderPlugin:
    @aquarium.hookimpl
    def aquarium_register_exporters(self, register):
        register("folder", FolderExporter())

    @aquarium.hookimpl
    def aquarium_register_importers(self, register):
        register("folder", FolderImporter())


@pytest.fixture(autouse=True)
def folder_plugin():
    plugin = FolderPlugin()
    plugins.register(plugin, "folder-test")
    yield
    plugins.unregister(plugin)


class TestFolderExporter(ExporterSuite):
    exporter = "folder"

    @pytest.fixture
    def target(self, tmp_path):
        return str(tmp_path / "exported")

    def fresh_target(self, target, folder):
        return os.path.join(folder, "exported")


def test_batch_reports_failures_and_continues(tmp_path):
    store = aquarium.open_store(tmp_path / "s")
    ids = []
    for name in ("good", "explode", "fine"):
        with aquarium.start_run(name=name, store=store, capture_source=False) as run:
            run.log({"x": 1.0})
        ids.append(run.id)
    results = aquarium.export(ids, "folder", to=str(tmp_path / "out"), store=store)
    assert [r.status for r in results] == ["ok", "failed", "ok"]
    assert "cannot be exported" in results[1].error
    assert store.get_run(ids[0]).tags["aquarium.exported.folder"].endswith(ids[0])
    result = CliRunner().invoke(cli, ["export", "folder", *ids, "--to", str(tmp_path / "out2"),
                                      "--store", str(tmp_path / "s")])
    assert result.exit_code == 1 and "1 of 3 failed" in result.output
    assert "explode" in result.output


def test_unknown_targets_name_the_package(tmp_path):
    with pytest.raises(aquarium.AquariumError, match="pip install aquarium-nosuch"):
        aquarium.export([], "nosuch", to="x", store=tmp_path)
    with pytest.raises(aquarium.AquariumError, match=r"installed: (\w+, )*folder, (\w+, )*neural"):
        aquarium.import_runs("nosuch", "x", store=tmp_path)


def test_check_fails_fast(tmp_path):
    (tmp_path / "afile").write_text("")
    with aquarium.start_run(store=tmp_path / "s", capture_source=False) as run:
        pass
    with pytest.raises(ValueError, match="is a file"):
        aquarium.export([run.id], "folder", to=str(tmp_path / "afile"), store=tmp_path / "s")


def test_an_export_into_the_store_itself_is_refused(tmp_path):
    store = aquarium.open_store(tmp_path / "s")
    with aquarium.start_run(name="kept", store=store, capture_source=False) as run:
        run.log({"x": 1.0})
    before = sorted(p.relative_to(tmp_path) for p in (tmp_path / "s").rglob("*"))
    for inside in (tmp_path / "s", tmp_path / "s" / "artifacts" / "tb", f"sqlite:///{tmp_path}/s/aquarium.db",
                   f"file://{tmp_path}/s/mlruns"):
        with pytest.raises(aquarium.AquariumError, match="inside the store's own folder"):
            aquarium.export([run.id], "folder", to=str(inside), store=store)
    assert sorted(p.relative_to(tmp_path) for p in (tmp_path / "s").rglob("*")) == before
    assert store.get_run(run.id).name == "kept" and "aquarium.exported.folder" not in store.get_run(run.id).tags
    result = CliRunner().invoke(cli, ["export", "folder", run.id, "--to", str(tmp_path / "s" / "out"),
                                      "--store", str(tmp_path / "s")])
    assert result.exit_code != 0 and "inside the store's own folder" in result.output
    assert aquarium.export([run.id], "folder", to=str(tmp_path / "elsewhere"), store=store)[0].status == "ok"


def test_cli_lists_plugin_subcommands():
    result = CliRunner().invoke(cli, ["export", "--help"])
    assert "folder" in result.output
    result = CliRunner().invoke(cli, ["import", "--help"])
    assert "folder" in result.output and "neural" in result.output


class SecondFolderPlugin:
    @aquarium.hookimpl
    def aquarium_register_exporters(self, register):
        exporter = FolderExporter()
        exporter.name = "folder2"
        register("folder2", exporter)


def test_several_targets_in_one_call(tmp_path):
    store = aquarium.open_store(tmp_path / "s")
    ids = []
    for name in ("one", "explode"):
        with aquarium.start_run(name=name, store=store, capture_source=False) as run:
            run.log({"x": 1.0})
        ids.append(run.id)
    with pytest.raises(aquarium.AquariumError, match="nosuch"):
        aquarium.export(ids, {"folder": str(tmp_path / "a"), "nosuch": "x"}, store=store)
    assert not (tmp_path / "a").exists()                 # nothing is written before every target is known
    plugin = SecondFolderPlugin()
    plugins.register(plugin, "folder-two")
    try:
        results = aquarium.export(ids, {"folder": str(tmp_path / "a"), "folder2": str(tmp_path / "b")}, store=store)
    finally:
        plugins.unregister(plugin)
    assert [(r.run_name, r.target, r.status) for r in results] == [
        ("one", "folder", "ok"), ("one", "folder2", "ok"), ("explode", "folder", "failed"),
        ("explode", "folder2", "failed")]
    assert (tmp_path / "a" / ids[0]).is_dir() and (tmp_path / "b" / ids[0]).is_dir()
    with pytest.raises(TypeError, match="to="):
        aquarium.export(ids, "folder", store=store)
