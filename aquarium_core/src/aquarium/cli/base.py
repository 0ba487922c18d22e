"""The ``aquarium`` command line. Plugins add commands through ``aquarium_register_commands``."""

from __future__ import annotations

import json
from typing import Any

import click

from .. import plugins, serialization
from ..stores import open_store, redact

_STATUS_COLOURS = {"completed": "green", "running": "cyan", "failed": "red", "killed": "yellow",
                   "crashed": "magenta"}


class AquariumGroup(click.Group):
    """A click group whose errors are one clear line (a traceback only with ``--debug``)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            message = str(error) if not isinstance(error, KeyError) else str(error.args[0])
            click.secho(f"Error: {message}", err=True, fg="red")
            ctx.exit(1)


def echo_json(data: Any) -> None:
    """Print JSON-able data (through the core converter) on stdout."""
    click.echo(json.dumps(serialization.to_dict(data), indent=2, allow_nan=False, ensure_ascii=False))


def status_text(status: str) -> str:
    """A status, coloured when the terminal has colour."""
    return click.style(status, fg=_STATUS_COLOURS.get(status))


def table(rows: list[list[str]], header: list[str]) -> str:
    """A plain text table with columns padded to their widths (ANSI colour ignored)."""
    def width(cell: str) -> int:
        return len(click.unstyle(cell))

    widths = [max(width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths)),
             "  ".join("-" * w for w in widths)]
    for row in rows:
        lines.append("  ".join(c + " " * (w - width(c)) for c, w in zip(row, widths)))
    return "\n".join(line.rstrip() for line in lines)


@click.group(cls=AquariumGroup)
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
@click.version_option(package_name="aquarium-core", prog_name="aquarium")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Aquarium: a fast, crash-safe, local-first experiment tracker.

    The store is AQUARIUM_STORE, else ./.aquarium in the working directory.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def plugins_command(as_json: bool) -> None:
    """List every plugin: its distribution, version and the hooks it implements."""
    infos = plugins.plugin_infos()
    if as_json:
        echo_json(infos)
        return
    rows = [[i.name, i.distribution or "-", i.version or "-",
             "disabled" if i.disabled else (f"error: {i.error}" if i.error else ", ".join(i.hooks))]
            for i in infos]
    click.echo(table(rows, ["plugin", "distribution", "version", "hooks"]))


@cli.command("demo")
@click.option("--store", "store_uri", default=None, help="Store URI (default: AQUARIUM_STORE or ./.aquarium).")
@click.option("--steps", default=1500, show_default=True, help="Training steps per run.")
def demo_command(store_uri: str | None, steps: int) -> None:
    """Log a small learning-rate sweep (with seeds and one failed run) and print a summary."""
    from ..demo import run_demo

    store = open_store(store_uri)
    click.echo(f"Logging demo runs into {redact(store.uri)} ...", err=True)
    ids = run_demo(store, steps=steps, progress=lambda name: click.echo(f"  {name}", err=True))
    rows = []
    for run_id in ids:
        run = store.get_run(run_id)
        acc = run.summaries.get("val/acc")
        rows.append([run.id, run.name, status_text(run.status),
                     f"{acc.last:.3f}" if acc else "-", f"{acc.max:.3f} @ {acc.max_step}" if acc else "-",
                     (run.error or "").splitlines()[-1] if run.error else ""])
    click.echo(table(rows, ["id", "name", "status", "val/acc last", "val/acc best", "error"]))
