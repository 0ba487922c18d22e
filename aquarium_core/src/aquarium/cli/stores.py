"""``aquarium sync`` (replay spooled journals) and ``aquarium migrate`` (copy between stores)."""

from __future__ import annotations

import click

from ..migrate import migrate
from ..spool import pending_journals, spool_dir
from ..stores import open_store, redact
from .base import cli, table
from .interop import report


@cli.command("sync")
@click.option("--spool", "folder", default=None, help="Spool folder (default: AQUARIUM_SPOOL or ~/.local/state).")
@click.option("--force", is_flag=True, help="Also replay journals whose writer process still runs.")
def sync_command(folder: str | None, force: bool) -> None:
    """Deliver what runs spooled while their store was unreachable."""
    journals = pending_journals(folder)
    if not journals:
        click.echo(f"nothing to sync in {folder or spool_dir()}")
        return
    rows, failed = [], 0
    for journal in journals:
        uri = journal.store_uri()
        if uri is None:
            rows.append([journal.path, "-", "0", "empty"])
            continue
        if journal.writer_alive() and not force:
            rows.append([journal.path, redact(uri), "-", "writer still running (its own flush will replay)"])
            continue
        try:
            count = journal.replay(open_store(uri))
            rows.append([journal.path, redact(uri), str(count), click.style("delivered", fg="green")])
        except Exception as error:
            failed += 1
            rows.append([journal.path, redact(uri), "-", click.style(f"failed: {error}", fg="red")])
    click.echo(table(rows, ["journal", "store", "records", "status"]))
    if failed:
        raise SystemExit(1)


@cli.command("migrate")
@click.argument("source")
@click.argument("target")
@click.argument("query", required=False, default="")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def migrate_command(source: str, target: str, query: str, as_json: bool) -> None:
    """Copy runs (all, or those matching QUERY) from SOURCE to TARGET with history, artifacts
    and statuses. Running it again copies nothing twice."""
    report(migrate(source, target, query, progress=True), as_json)
