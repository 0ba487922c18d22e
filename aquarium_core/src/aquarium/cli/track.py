"""``aquarium track``: tracking from shell scripts, as the original Neural CLI offered.

Runs started here have no heartbeat (nothing keeps them alive between commands), so they
never read as crashed; ``track end`` sets their final status.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import click

from ..selection import resolve_id
from ..stores import open_store
from ..tracking import resume_run, start_run
from .base import cli

RUN_FILE = ".aquarium-run"


def parse_pairs(pairs: tuple[str, ...], what: str) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON when they parse (numbers, true, null), else text."""
    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not key=value", param_hint=what)
        try:
            out[key] = json.loads(text)
        except ValueError:
            out[key] = text
    return out


def _metrics(pairs: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for key, value in parse_pairs(pairs, "-m").items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            raise click.BadParameter(f"metric {key!r}: {value!r} is not a number", param_hint="-m") from None
    return out


def _current(run_id: str | None, store: Any) -> str:
    if run_id is None:
        if not os.path.isfile(RUN_FILE):
            raise click.UsageError(f"no --run given and no {RUN_FILE} here: run `aquarium track init NAME` first")
        with open(RUN_FILE, encoding="utf-8") as f:
            run_id = f.read().strip()
    return resolve_id(store, run_id)


_store_option = click.option("--store", "store_uri", default=None,
                             help="Store URI (default: AQUARIUM_STORE or ./.aquarium).")


@cli.group()
def track() -> None:
    """Track a run from a shell script: init, log, end."""


@track.command("init")
@click.argument("name")
@click.option("--experiment", default=None, help="Experiment name.")
@click.option("--group", default=None, help="Group (e.g. a sweep) the run belongs to.")
@click.option("-p", "--param", "params", multiple=True, help="A param as key=value (repeatable).")
@click.option("-t", "--tag", "tags", multiple=True, help="A tag as key=value (repeatable).")
@_store_option
def track_init(name: str, experiment: str | None, group: str | None, params: tuple[str, ...],
               tags: tuple[str, ...], store_uri: str | None) -> None:
    """Start a run; print its id and remember it in ./.aquarium-run."""
    run = start_run(name=name, experiment=experiment, group=group, params=parse_pairs(params, "-p"),
                    tags={k: str(v) for k, v in parse_pairs(tags, "-t").items()}, store=open_store(store_uri),
                    heartbeat=False)
    run.detach()  # the run stays running until `aquarium track end`
    with open(RUN_FILE, "w", encoding="utf-8") as f:
        f.write(run.id + "\n")
    click.echo(run.id)


@track.command("log")
@click.option("--run", "run_id", default=None, help="Run id (default: the one in ./.aquarium-run).")
@click.option("-m", "--metric", "metrics", multiple=True, help="A metric as key=number (repeatable).")
@click.option("--step", type=click.IntRange(min=0), default=None, help="Step (default: the last step + 1).")
@click.option("-p", "--param", "params", multiple=True, help="A param as key=value (repeatable).")
@click.option("--artifact", "artifacts", multiple=True, type=click.Path(exists=True), help="A file to store.")
@click.option("--model", "model", default=None, type=click.Path(exists=True), help="A model file to store.")
@click.option("--framework", default=None, help="The model's framework (torch, tensorflow, ...).")
@_store_option
def track_log(run_id: str | None, metrics: tuple[str, ...], step: int | None, params: tuple[str, ...],
              artifacts: tuple[str, ...], model: str | None, framework: str | None, store_uri: str | None) -> None:
    """Log metrics, params, artifacts or a model into the current run."""
    store = open_store(store_uri)
    values, plain = _metrics(metrics), parse_pairs(params, "-p")
    run = resume_run(_current(run_id, store), store=store)
    try:
        if plain:
            run.log_params(plain)
        if values:
            run.log(values, step=step)
        for path in artifacts:
            run.log_artifact(path)
        if model:
            run.log_model(model, framework=framework)
    finally:
        run.finish()


@track.command("end")
@click.option("--run", "run_id", default=None, help="Run id (default: the one in ./.aquarium-run).")
@click.option("--status", type=click.Choice(["completed", "failed", "killed"]), default="completed",
              show_default=True)
@click.option("--error", default=None, help="What went wrong (for --status failed).")
@_store_option
def track_end(run_id: str | None, status: str, error: str | None, store_uri: str | None) -> None:
    """Set the run's final status and end time."""
    store = open_store(store_uri)
    resolved = _current(run_id, store)
    store.update_run(resolved, status=status, ended=time.time(), error=error)
    if run_id is None and os.path.isfile(RUN_FILE):
        os.unlink(RUN_FILE)
    click.echo(f"{resolved} {status}")
