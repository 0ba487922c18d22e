"""The plugin as installed: its entry point, its CLI, and no mlflow import until needed."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from aquarium import interop
from aquarium.cli import cli
from aquarium_mlflow import MlflowExporter, MlflowImporter


def test_entry_point_registers_exporter_and_importer():
    assert isinstance(interop.exporters()["mlflow"], MlflowExporter)
    assert isinstance(interop.importers()["mlflow"], MlflowImporter)


def test_loading_the_plugin_does_not_import_mlflow():
    code = ("import sys, aquarium; from aquarium import interop; "
            "assert 'mlflow' in interop.exporters() and 'mlflow' in interop.importers(); "
            "assert not any(m == 'mlflow' or m.startswith('mlflow.') for m in sys.modules), 'mlflow imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_cli_subcommands_and_their_options():
    runner = CliRunner()
    result = runner.invoke(cli, ["export", "mlflow", "--help"])
    assert result.exit_code == 0
    for option in ("--to", "--experiment", "--artifact-location", "--check-timeout"):
        assert option in result.output
    result = runner.invoke(cli, ["import", "mlflow", "--help"])
    assert result.exit_code == 0 and "--source-experiment" in result.output and "--experiment" in result.output
