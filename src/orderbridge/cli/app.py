"""The root Typer app and its sub-commands."""

from __future__ import annotations

import gc
from typing import Annotated, Any

import typer
from sqlalchemy.exc import OperationalError
from typer.core import TyperGroup

from orderbridge.book.errors import BookError
from orderbridge.cli import (
    accounts,
    catalog,
    channels,
    contacts,
    database,
    fba,
    fields,
    listings,
    orders,
    outbox,
    privacy,
    reports,
    scale,
    shipping,
    stock,
    tax,
    users,
)
from orderbridge.cli import sync as sync_cli
from orderbridge.cli.context import fail
from orderbridge.db import BUSY_MESSAGE, is_busy
from orderbridge.privacy.log_filter import install_pii_filter
from orderbridge.simulator import cli as sandbox


class Commands(TyperGroup):
    """The root command group: a lock wait that ran out (another command, an import or `orderbridge run`
    writing the book past the busy timeout) ends any command with one line and exit 1, not a traceback;
    its transaction was rolled back whole."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors click: its Context type is private
        try:
            return super().invoke(ctx)
        except OperationalError as error:
            if not is_busy(error):
                raise
            raise fail(
                f"{BUSY_MESSAGE} (another command, an import or `orderbridge run` was writing; "
                "nothing was changed)"
            ) from None


app = typer.Typer(
    cls=Commands, help="orderbridge: the order and inventory book for Amazon sellers.", no_args_is_help=True
)
app.add_typer(database.app, name="db")
app.add_typer(catalog.products, name="products")
app.add_typer(catalog.bundles, name="bundles")
app.add_typer(catalog.price_lists, name="price-lists")
app.add_typer(stock.warehouses, name="warehouses")
app.add_typer(stock.stock, name="stock")
app.add_typer(orders.orders, name="orders")
app.add_typer(accounts.accounts, name="accounts")
app.add_typer(channels.channels, name="channels")
app.add_typer(listings.listings, name="listings")
app.add_typer(outbox.outbox, name="outbox")
app.add_typer(sandbox.app, name="sandbox")
app.add_typer(sync_cli.sync, name="sync")
app.add_typer(reports.reports, name="reports")
app.add_typer(reports.settlements, name="settlements")
orders.orders.command("trail")(reports.trail_command)
orders.orders.command("tracking")(shipping.tracking_command)
orders.orders.command("ship-csv")(shipping.ship_csv_command)
app.add_typer(shipping.carriers, name="carriers")
app.add_typer(shipping.shipping_methods, name="shipping-methods")
app.add_typer(tax.tax, name="tax")
app.add_typer(fields.fields, name="fields")
app.add_typer(contacts.contacts, name="contacts")
app.add_typer(fba.inbound, name="inbound")
app.add_typer(fba.fba, name="fba")
app.add_typer(fba.notices, name="notices")
app.add_typer(privacy.privacy, name="privacy")
app.add_typer(privacy.archive, name="archive")
app.add_typer(privacy.incidents_app, name="incidents")
app.add_typer(privacy.keys, name="keys")
app.add_typer(privacy.seller, name="seller")
app.add_typer(users.users, name="users")
app.add_typer(users.tokens, name="tokens")
app.command()(scale.worker)
app.command()(scale.beat)
app.command()(scale.metrics)
app.command()(scale.health)


@app.command("web")
def web_command(
    for_seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
) -> None:
    """Serve the web UI and API alone (settings web_host, web_port, web_tls): for installations whose
    jobs run on `orderbridge worker` and `orderbridge beat`."""
    sync_cli.serve_web_only(for_seconds=for_seconds)


@app.command()
def run(
    *,
    once: Annotated[bool, typer.Option(help="Run every due job once, then stop (for tests).")] = False,
    for_seconds: Annotated[float | None, typer.Option(help="Stop after this many seconds.")] = None,
    sandbox_port: Annotated[
        int, typer.Option(help="Port of the sandbox run starts without accounts.")
    ] = 8600,
    sandbox_speed: Annotated[
        float, typer.Option(help="Sandbox clock speed (Amazon seconds a second).")
    ] = 60.0,
    sandbox_orders_per_day: Annotated[
        float, typer.Option(help="New orders the sandbox places per Amazon day while it runs.")
    ] = 200.0,
    web: Annotated[bool, typer.Option(help="Serve the web UI and API (settings web_host, web_port).")] = True,
) -> None:
    """Start orderbridge: migrations, the web UI and API, the sandbox when no Amazon account exists, and
    the order sync jobs."""
    sync_cli.run_orderbridge(
        once=once,
        for_seconds=for_seconds,
        port=sandbox_port,
        speed=sandbox_speed,
        web=web,
        orders_per_day=sandbox_orders_per_day,
    )


def main() -> None:
    install_pii_filter()  # nothing a command logs carries buyer data (DPP: logs are in scope)
    # What is imported by now lives as long as the process: keep full collections from rescanning it
    # (booking a page of orders allocates heavily, and each full collection walks the whole heap).
    gc.collect()
    gc.freeze()
    try:
        app()
    except BookError as error:
        raise fail(str(error)) from None
