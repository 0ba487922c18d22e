"""``aquarium export NAME`` and ``aquarium import NAME``: subcommands built from the plugins."""

from __future__ import annotations

from typing import Any

import click

from .. import interop
from ..interop import TransferResult
from ..stores import open_store
from .base import cli, echo_json, table

_STATUS = {"ok": "green", "exists": "cyan", "failed": "red"}


def report(results: list[TransferResult], as_json: bool) -> None:
    """Print what went where; exit non-zero when any run failed."""
    if as_json:
        echo_json(results)
    else:
        rows = [[r.run_name, r.run_id or "-", r.target, r.target_id or "-", str(r.points), str(r.artifacts),
                 click.style(r.status, fg=_STATUS.get(r.status)), r.error or ""] for r in results]
        click.echo(table(rows, ["run", "id", "target", "target id", "points", "artifacts", "status", "error"]))
    failed = sum(r.status == "failed" for r in results)
    if failed:
        click.secho(f"{failed} of {len(results)} failed", err=True, fg="red")
        raise SystemExit(1)


_store_option = click.option("--store", "store_uri", default=None,
                             help="Store URI (default: AQUARIUM_STORE or ./.aquarium).")
_json_option = click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")


def _export_command(name: str, exporter: Any) -> click.Command:
    @click.pass_context
    def run(ctx: click.Context, run_ids: tuple[str, ...], query: str | None, to: str, store_uri: str | None,
            as_json: bool, **options: Any) -> None:
        if bool(run_ids) == bool(query):
            raise click.UsageError("name runs by RUN_ID arguments or by -q QUERY (one of the two)")
        runs: Any = query if query else list(run_ids)
        report(interop.export(runs, name, to=to, store=open_store(store_uri), progress=True, **options), as_json)

    params = [
        click.Argument(["run_ids"], nargs=-1),
        click.Option(["-q", "--query"], default=None, help="Select runs by query instead of ids."),
        click.Option(["--to"], required=True, help=exporter.target_help),
        *exporter.cli_options(),
    ]
    command = click.Command(name, callback=run, params=params, help=exporter.description or f"Export to {name}.")
    _store_option(command)
    _json_option(command)
    return command


def _import_command(name: str, importer: Any) -> click.Command:
    def run(source: str, experiment: str | None, store_uri: str | None, as_json: bool, **options: Any) -> None:
        results = interop.import_runs(name, source, store=open_store(store_uri), experiment=experiment,
                                      progress=True, **options)
        report(results, as_json)

    params = [
        click.Argument(["source"]),
        click.Option(["--experiment"], default=None, help="Put the imported runs in this experiment."),
        *importer.cli_options(),
    ]
    command = click.Command(name, callback=run, params=params, help=importer.description or f"Import {name}.")
    _store_option(command)
    _json_option(command)
    return command


class _PluginGroup(click.Group):
    """A group whose subcommands come from registered exporters or importers."""

    def __init__(self, *args: Any, source: Any, build: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._source, self._build = source, build

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._source())

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        found = self._source()
        return self._build(name, found[name]) if name in found else None


cli.add_command(_PluginGroup("export", source=interop.exporters, build=_export_command,
                             help="Export runs to another tracker (one subcommand per installed exporter)."))
cli.add_command(_PluginGroup("import", source=interop.importers, build=_import_command,
                             help="Import runs from another tracker (one subcommand per installed importer)."))
