"""`orderbridge db ...`: migrations and a summary of what the book holds."""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import func, select

from orderbridge import db_admin
from orderbridge.book.catalog import Product
from orderbridge.book.contacts import Contact
from orderbridge.book.inventory import StockMovement, Warehouse
from orderbridge.book.orders.carriers import ensure_default_carriers
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.orders.statuses import ensure_default_statuses
from orderbridge.book.tax import company
from orderbridge.cli.context import console, engine, settings, unit_of_work

app = typer.Typer(help="The store: migrations and status.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Apply every migration to the configured store and create the default statuses and carriers."""
    db_admin.upgrade(engine())
    with unit_of_work() as session:
        ensure_default_statuses(session)
        ensure_default_carriers(session)
        company(session).currency = company(session).currency or settings().company_currency
    console.print(f"store is up to date: {engine().url.render_as_string(hide_password=True)}")


@app.command()
def summary() -> None:
    """Count what the book holds."""
    table = Table("what", "count", title="The book")
    with unit_of_work() as session:
        for label, model in (
            ("products", Product),
            ("warehouses", Warehouse),
            ("stock movements", StockMovement),
            ("contacts", Contact),
            ("sales orders", SalesOrder),
        ):
            table.add_row(label, str(session.scalar(select(func.count()).select_from(model))))
    console.print(table)
