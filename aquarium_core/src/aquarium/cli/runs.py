"""``aquarium runs``: list, show, remove and tag runs."""

from __future__ import annotations

import datetime
import json
from typing import Any

import click

from ..errors import QueryError
from ..model import RunRecord
from ..query import field_value, search
from ..selection import resolve_id
from ..stores import open_store
from ..validation import check_tags, flatten
from .base import cli, echo_json, status_text, table
from .track import parse_pairs

_store_option = click.option("--store", "store_uri", default=None,
                             help="Store URI (default: AQUARIUM_STORE or ./.aquarium).")


def when(timestamp: float | None) -> str:
    """A local date and time to the second, or ``-``."""
    return "-" if timestamp is None else datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")


def duration(record: RunRecord) -> str:
    """``1h02m``, ``3m04s`` or ``5.2s``; ``-`` while unknown."""
    end = record.ended or (record.heartbeat if record.status != "running" else None)
    if record.started is None or end is None:
        return "-"
    seconds = max(0.0, end - record.started)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def number(value: Any) -> str:
    """A compact number for tables."""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@cli.group()
def runs() -> None:
    """List, show, remove and tag runs."""


@runs.command("show")
@click.argument("run_id")
@click.option("--json", "as_json", is_flag=True, help="Print the run as JSON.")
@_store_option
def runs_show(run_id: str, as_json: bool, store_uri: str | None) -> None:
    """Everything about one run: params, tags, summaries, source, artifacts."""
    store = open_store(store_uri)
    record = store.get_run(resolve_id(store, run_id))
    if as_json:
        echo_json(record)
        return
    click.echo(f"{click.style(record.name, bold=True)}  {record.id}  {status_text(record.status)}")
    click.echo(f"experiment {record.experiment}" + (f"  group {record.group}" if record.group else ""))
    click.echo(f"started {when(record.started)}  ended {when(record.ended)}  duration {duration(record)}")
    if record.error:
        click.secho(f"error: {record.error}", fg="red")
    if record.notes:
        click.echo(f"notes: {record.notes}")
    if record.params:
        click.echo("\nparams")
        click.echo(table([[k, json.dumps(v)] for k, v in sorted(flatten(record.params).items())], ["key", "value"]))
    if record.tags:
        click.echo("\ntags")
        click.echo(table([[k, v] for k, v in sorted(record.tags.items())], ["key", "value"]))
    if record.summaries:
        click.echo("\nmetrics")
        rows = [[k, str(s.count), number(s.last), str(s.last_step), number(s.min),
                 str(s.min_step), number(s.max), str(s.max_step)] for k, s in sorted(record.summaries.items())]
        click.echo(table(rows, ["key", "count", "last", "step", "min", "at", "max", "at"]))
    if record.artifacts:
        click.echo("\nartifacts")
        rows = [[a.name, a.kind, str(a.size), a.sha256[:12], json.dumps(a.metadata) if a.metadata else ""]
                for a in record.artifacts]
        click.echo(table(rows, ["name", "kind", "size", "sha256", "metadata"]))
    if record.source:
        src = record.source
        click.echo("\nsource")
        dirty = " (dirty)" if src.git_dirty else ""
        click.echo(f"git {src.git_commit or '-'}{dirty}  host {src.host}  user {src.user}  python {src.python}")
        click.echo(f"command {' '.join(src.command)}")


@runs.command("rm")
@click.argument("run_ids", nargs=-1, required=True)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_store_option
def runs_rm(run_ids: tuple[str, ...], yes: bool, store_uri: str | None) -> None:
    """Remove runs with their points and artifacts."""
    store = open_store(store_uri)
    records = [store.get_run(resolve_id(store, r)) for r in run_ids]
    if not yes:
        names = ", ".join(f"{r.name} ({r.id})" for r in records)
        click.confirm(f"Remove {len(records)} run(s): {names}?", abort=True, err=True)
    for record in records:
        store.delete_run(record.id)
        click.echo(f"removed {record.id} {record.name}")


@runs.command("tag")
@click.argument("run_id")
@click.argument("pairs", nargs=-1, required=True)
@_store_option
def runs_tag(run_id: str, pairs: tuple[str, ...], store_uri: str | None) -> None:
    """Set tags on a run: aquarium runs tag RUN_ID key=value ..."""
    store = open_store(store_uri)
    resolved = resolve_id(store, run_id)
    tags = check_tags({k: v if isinstance(v, str) else json.dumps(v) for k, v in parse_pairs(pairs, "PAIRS").items()})
    store.update_run(resolved, tags=tags)
    click.echo(f"tagged {resolved}: " + ", ".join(f"{k}={v}" for k, v in tags.items()))


DEFAULT_COLUMNS = ("id", "name", "experiment", "status", "created", "duration")


def cell(record: RunRecord, column: str) -> str:
    """One table cell: a field of the query language, shown for people."""
    if column == "id":
        return record.id
    if column == "status":
        return status_text(record.status)
    if column in ("created", "started", "ended"):
        return when(getattr(record, column))
    if column == "duration":
        return duration(record)
    value = field_value(record, column)
    if value is None:
        return "-"
    return number(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


@runs.command("ls")
@click.argument("query", required=False, default="")
@click.option("--experiment", default=None, help="Only runs of this experiment.")
@click.option("--sort", "sort", multiple=True, default=("-created",), show_default=True,
              help="A field to sort by, '-' first for descending (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many runs.")
@click.option("--columns", default=None,
              help=f"Comma-separated fields (default: {','.join(DEFAULT_COLUMNS)}), "
                   "e.g. name,params.lr,metrics.loss.min")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per run.")
@_store_option
def runs_ls(query: str, experiment: str | None, sort: tuple[str, ...], limit: int | None, columns: str | None,
            as_json: bool, store_uri: str | None) -> None:
    """List runs matching QUERY (see docs/query.md), newest first."""
    found = search(query, experiment=experiment, order_by=list(sort), limit=limit, store=open_store(store_uri))
    if as_json:
        echo_json(found)
        return
    chosen = [c.strip() for c in columns.split(",") if c.strip()] if columns else list(DEFAULT_COLUMNS)
    for column in chosen:
        if column not in DEFAULT_COLUMNS:
            try:
                field_value(RunRecord(id="", name=""), column)
            except QueryError:
                raise click.BadParameter(f"{column!r} is not a field: use name, status, experiment, group, "
                                         "params.<key>, tags.<key>, metrics.<key>[.min|.max|.best|...]",
                                         param_hint="--columns") from None
    click.echo(table([[cell(r, c) for c in chosen] for r in found], chosen))
    click.echo(f"{len(found)} run(s)", err=True)
