"""`orderbridge warehouses ...` and `orderbridge stock ...`: warehouses, stock counts, levels, movements."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.book.catalog import Product
from orderbridge.book.inventory import StockLevel, StockMovement, Warehouse, WarehouseKind, add_warehouse
from orderbridge.cli.catalog import AsJson, CsvFile
from orderbridge.cli.context import console, read_only, unit_of_work
from orderbridge.cli.output import print_json, print_table, reported_errors, row_progress
from orderbridge.clock import utc_now
from orderbridge.imports.csv_source import read_csv
from orderbridge.imports.stock import import_stock, import_warehouses

warehouses = typer.Typer(help="Warehouses: your own and one per FBA region.", no_args_is_help=True)
stock = typer.Typer(help="Stock: import counts, list levels and movements.", no_args_is_help=True)


@warehouses.command("import")
def import_warehouses_command(file: CsvFile) -> None:
    """Add warehouses from a CSV file (or rename existing ones), all rows or none.

    Columns: code (required, unique), name (required), kind (own or fba; own when empty), region
    (required for fba, e.g. UK, EU, US). The kind of an existing warehouse cannot change. Any bad row
    means nothing is imported; exit code 1.
    """
    with reported_errors():
        table = read_csv(file)
        with row_progress("warehouses", len(table.rows)) as tick, unit_of_work() as session:
            report = import_warehouses(session, table, tick=tick)
    console.print(str(report), highlight=False, soft_wrap=True)


@warehouses.command("add")
def add_warehouse_command(
    code: Annotated[str, typer.Argument(help="A short unique code, e.g. MAIN or FBA-UK.")],
    name: Annotated[str, typer.Argument(help="The warehouse's name.")],
    kind: Annotated[WarehouseKind, typer.Option(help="own or fba.")] = WarehouseKind.OWN,
    region: Annotated[
        str | None, typer.Option(help="The FBA region (UK, EU, US ...); needed for fba.")
    ] = None,
) -> None:
    """Add one warehouse."""
    if kind == WarehouseKind.FBA and not region:
        raise typer.BadParameter(
            "an fba warehouse needs its --region (e.g. UK, EU, US)", param_hint="--region"
        )
    with reported_errors(), unit_of_work() as session:
        add_warehouse(session, code, name, kind, region)
    console.print(f"warehouse {code} added", highlight=False)


@warehouses.command("list")
def list_warehouses(as_json: AsJson = False) -> None:
    """List the warehouses."""
    with read_only() as session:
        found = [
            {"code": w.code, "name": w.name, "kind": str(w.kind), "region": w.region}
            for w in session.scalars(select(Warehouse).order_by(Warehouse.code))
        ]
    if as_json:
        print_json(found)
        return
    print_table("Warehouses", ["code", "name", "kind", "region"], [list(w.values()) for w in found])


@stock.command("import")
def import_stock_command(file: CsvFile) -> None:
    """Set counted stock from a CSV file: on hand becomes each row's quantity, all rows or none.

    Columns: sku (required, a stock-tracked product), warehouse (required, a warehouse code), quantity
    (required, the counted on-hand quantity, 0 or more), reference (optional; the source reference of
    the movement). Without a reference, the file's content and line make one, so importing the same
    file again moves nothing. Any bad row means nothing is imported; exit code 1.
    """
    with reported_errors():
        table = read_csv(file)
        with row_progress("stock", len(table.rows)) as tick, unit_of_work() as session:
            report = import_stock(session, table, now=utc_now(), tick=tick)
    console.print(str(report), highlight=False, soft_wrap=True)


@dataclass(frozen=True)
class LevelView:
    sku: str
    name: str
    warehouse: str
    on_hand: int
    allocated: int
    available: int
    in_transit: int


@stock.command("list")
def list_stock(
    warehouse: Annotated[str | None, typer.Option(help="Only this warehouse (its code).")] = None,
    sku: Annotated[str | None, typer.Option(help="Only this SKU.")] = None,
    as_json: AsJson = False,
) -> None:
    """List stock levels: on hand, allocated, available and in transit per product and warehouse."""
    with read_only() as session:
        found = stock_levels(session, warehouse=warehouse, sku=sku)
    if as_json:
        print_json([asdict(level) for level in found])
        return
    columns = ["SKU", "name", "warehouse", "on hand", "allocated", "available", "in transit"]
    rows = [[*asdict(level).values()] for level in found]
    print_table("Stock", columns, rows, right=frozenset(columns[3:]))


def stock_levels(session: Session, *, warehouse: str | None, sku: str | None) -> list[LevelView]:
    """Stock levels by SKU and warehouse; an unknown warehouse or SKU is a bad argument."""
    query = (
        select(StockLevel, Product, Warehouse)
        .join(Product, Product.id == StockLevel.product_id)
        .join(Warehouse, Warehouse.id == StockLevel.warehouse_id)
        .order_by(Product.sku, Warehouse.code)
    )
    if warehouse is not None:
        query = query.where(Warehouse.id == _warehouse_id(session, warehouse))
    if sku is not None:
        query = query.where(Product.id == _product_id(session, sku))
    return [
        LevelView(p.sku, p.name, w.code, level.on_hand, level.allocated, level.available, level.in_transit)
        for level, p, w in session.execute(query)
    ]


@dataclass(frozen=True)
class MovementView:
    moved_at: datetime
    warehouse: str
    quantity: int
    reason: str
    reference: str
    note: str | None


@stock.command("movements")
def list_movements(
    sku: Annotated[str, typer.Option(help="The product's SKU.")],
    warehouse: Annotated[str | None, typer.Option(help="Only this warehouse (its code).")] = None,
    as_json: AsJson = False,
) -> None:
    """List every stock movement of a product, oldest first (their sum is the on-hand quantity)."""
    with unit_of_work() as session:
        found = stock_movements(session, sku=sku, warehouse=warehouse)
    if as_json:
        print_json([asdict(movement) for movement in found])
        return
    columns = ["moved at", "warehouse", "quantity", "reason", "reference", "note"]
    rows = [
        [
            m.moved_at.strftime("%Y-%m-%d %H:%M"),
            m.warehouse,
            f"{m.quantity:+d}",
            m.reason,
            m.reference,
            m.note,
        ]
        for m in found
    ]
    print_table(f"Movements of {sku}", columns, rows, right=frozenset({"quantity"}))


def stock_movements(session: Session, *, sku: str, warehouse: str | None) -> list[MovementView]:
    """A product's movements, oldest first; an unknown SKU or warehouse is a bad argument."""
    query = (
        select(StockMovement, Warehouse.code)
        .join(Warehouse, Warehouse.id == StockMovement.warehouse_id)
        .where(StockMovement.product_id == _product_id(session, sku))
        .order_by(StockMovement.moved_at, StockMovement.id)
    )
    if warehouse is not None:
        query = query.where(Warehouse.id == _warehouse_id(session, warehouse))
    return [
        MovementView(m.moved_at, code, m.quantity, str(m.reason), m.reference, m.note)
        for m, code in session.execute(query)
    ]


def _warehouse_id(session: Session, code: str) -> int:
    found = session.scalar(select(Warehouse.id).where(Warehouse.code == code))
    if found is None:
        raise typer.BadParameter(f"no warehouse has the code {code!r}", param_hint="--warehouse")
    return found


def _product_id(session: Session, sku: str) -> int:
    found = session.scalar(select(Product.id).where(Product.sku == sku))
    if found is None:
        raise typer.BadParameter(f"no product has the SKU {sku!r}", param_hint="--sku")
    return found
