"""``aquarium compare``: the summary table of several runs in the terminal, or an HTML report."""

from __future__ import annotations

import math

import click

from ..compare import compare
from ..selection import resolve_runs
from ..stores import open_store
from .base import cli, echo_json, table
from .runs import number


@cli.command("compare")
@click.argument("run_ids", nargs=-1)
@click.option("-q", "--query", default=None, help="Select runs by query (docs/query.md) instead of ids.")
@click.option("--metrics", default=None, help="Comma-separated metric keys (default: all).")
@click.option("--html", "html_path", default=None, type=click.Path(dir_okay=False),
              help="Also write a self-contained HTML report here (needs aquarium-plotly or aquarium-bokeh).")
@click.option("--backend", default=None, help="Visualizer for --html when several are installed.")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON.")
@click.option("--store", "store_uri", default=None, help="Store URI (default: AQUARIUM_STORE or ./.aquarium).")
def compare_command(run_ids: tuple[str, ...], query: str | None, metrics: str | None, html_path: str | None,
                    backend: str | None, as_json: bool, store_uri: str | None) -> None:
    """Compare runs: ids (a unique prefix of 6+ characters will do) or -q QUERY. Best values are
    marked with *."""
    if bool(run_ids) == bool(query):
        raise click.UsageError("name runs by RUN_ID arguments or by -q QUERY (one of the two)")
    store = open_store(store_uri)
    records = resolve_runs(query if query else list(run_ids), store)
    if not records:
        raise click.ClickException("no runs match")
    keys = [m.strip() for m in metrics.split(",") if m.strip()] if metrics else None
    comparison = compare(records, keys, store=store)
    if as_json:
        echo_json(comparison.to_dict())
    else:
        rows = []
        for key in comparison.metrics:
            best = comparison.best(key) if _one_direction(comparison, key) else None
            for stats in comparison.summary.metric(key):
                mark = "*" if best is not None and best.run_id == stats.run_id else ""
                took = "-" if stats.time_to_best is None else f"{stats.time_to_best:.1f}s"
                rows.append([key, stats.run_name, stats.run_id, f"{number(stats.best)}{mark}",
                             str(stats.best_step), number(stats.last), str(stats.count), took])
        click.echo(table(rows, ["metric", "run", "id", "best", "at step", "last", "points", "to best"]))
        if comparison.params.differing:
            prow = [[key] + [_text(comparison.params[key].get(r.id)) for r in comparison.runs]
                    for key in comparison.params.differing]
            click.echo("\nparams that differ")
            click.echo(table(prow, ["param"] + [r.name for r in comparison.runs]))
    if html_path:
        comparison.to_html(html_path, backend=backend)
        click.echo(f"report written to {html_path}", err=True)


def _one_direction(comparison, key: str) -> bool:
    try:
        best = comparison.best(key)
    except Exception:
        return False
    return best is not None and not (isinstance(best.value, float) and math.isnan(best.value))


def _text(value: object) -> str:
    return "-" if value is None else str(value)
