"""``aquarium dashboard``: serve the app with Panel, one state per browser session."""

from __future__ import annotations

import ipaddress

import click

from . import APP_FILE

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def is_loopback(address: str) -> bool:
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


@click.command("dashboard")
@click.option("--store", "store_uri", default=None, help="Store URI (default: AQUARIUM_STORE or ./.aquarium).")
@click.option("--port", default=8053, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--address", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--refresh", default=5.0, show_default=True, type=click.FloatRange(min=0, min_open=False),
              help="Seconds between live updates (0: none).")
@click.option("--allow-export/--no-allow-export", default=None,
              help="Allow exports to targets typed into the page (default: on for loopback, off otherwise).")
@click.option("--read-only", is_flag=True, help="Never write to the store (notes cannot be edited).")
@click.option("--charts", "charts", multiple=True, metavar="NAME",
              help="Offer only these visualizers (repeatable; default: every installed one). "
                   "--charts bokeh skips plotly.js, about a second of first paint.")
@click.option("--show", is_flag=True, help="Open a browser tab.")
@click.option("--app-path", is_flag=True, help="Print the app file for `panel serve` and exit.")
def dashboard_command(store_uri: str | None, port: int, address: str, refresh: float, allow_export: bool | None,
                      read_only: bool, charts: tuple[str, ...], show: bool, app_path: bool) -> None:
    """Serve the web dashboard of a store (list, detail, compare, visualize, export; live)."""
    if app_path:
        click.echo(APP_FILE)
        return
    import panel as pn

    from aquarium.stores import open_store

    from .layout import build_app, chart_backends

    store = open_store(store_uri)  # fail here, with one line, not in the first browser session
    chosen = list(charts) or None
    try:
        chart_backends(chosen)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--charts") from None
    allow = is_loopback(address) if allow_export is None else allow_export
    origin = [f"{host}:{port}" for host in ({address, "127.0.0.1", "localhost"} if is_loopback(address) else {address})]
    click.echo(f"Aquarium dashboard of {store.uri} at http://{address}:{port}/ "
               f"(refresh {refresh:g} s, exports {'on' if allow else 'off'}); Ctrl-C stops it.", err=True)
    pn.serve(lambda: build_app(store, refresh=refresh, allow_export=allow, read_only=read_only, charts=chosen),
             port=port, address=address, websocket_origin=origin, show=show, title="Aquarium",
             print_output=False)
