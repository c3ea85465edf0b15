"""Importing warehouses and counted stock (on hand set by a COUNT movement per row)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.book.catalog import Product
from orderbridge.book.inventory import (
    StockLevel,
    StockMovement,
    Warehouse,
    WarehouseKind,
    add_warehouse,
    count_stock,
)
from orderbridge.imports.csv_source import CsvTable
from orderbridge.imports.errors import Problem, reject_if_any
from orderbridge.imports.report import ImportReport, Tick, no_tick
from orderbridge.imports.rows import StockRow, ValidRows, WarehouseRow, validate_rows

# References per query when looking up which rows were applied already (well under any bind-parameter limit).
REFERENCE_BATCH = 500


def import_warehouses(session: Session, table: CsvTable, *, tick: Tick = no_tick) -> ImportReport:
    """Add each warehouse, or update the name (and region, when given) of one with the same code.

    All rows or none. An empty kind is own for a new warehouse and leaves an existing one as it is.
    """
    valid = validate_rows(table, WarehouseRow)
    warehouses = {warehouse.code: warehouse for warehouse in session.scalars(select(Warehouse))}
    problems = _warehouse_problems(valid, warehouses)
    reject_if_any(table.source, [*valid.problems, *problems])
    report = ImportReport("warehouses", table.source, rows=len(valid.rows))
    for _line, row in valid.rows:
        existing = warehouses.get(row.code)
        region = row.region or (existing.region if existing is not None else None)
        if existing is None:
            add_warehouse(session, row.code, row.name, row.kind or WarehouseKind.OWN, region)
            report.created += 1
        elif (existing.name, existing.region) == (row.name, region):
            report.unchanged += 1
        else:
            # The book has no "rename warehouse" command; name and region are plain descriptive fields.
            existing.name, existing.region = row.name, region
            report.changed += 1
        tick()
    return report


def _warehouse_problems(valid: ValidRows[WarehouseRow], warehouses: dict[str, Warehouse]) -> list[Problem]:
    problems: list[Problem] = []
    first_line: dict[str, int] = {}
    for line, row in valid.checkable:
        if row.code is None:  # a bad cell of a row that failed validation (already a problem)
            continue
        existing = warehouses.get(row.code)
        if row.code in first_line:
            problems.append(Problem(line, "code", f"is also on line {first_line[row.code]}", row.code))
        first_line.setdefault(row.code, line)
        kind = row.kind or (existing.kind if existing is not None else WarehouseKind.OWN)
        if kind == WarehouseKind.FBA and not row.region and (existing is None or not existing.region):
            problems.append(Problem(line, "region", "is required for an fba warehouse (e.g. UK, EU, US)"))
        if existing is not None and row.kind is not None and existing.kind != row.kind:
            problems.append(
                Problem(
                    line,
                    "kind",
                    f"warehouse {row.code!r} is {existing.kind}; its kind cannot change",
                    row.kind,
                )
            )
    return problems


def stock_reference(digest: str, line: int) -> str:
    """The default reference of a stock row: file content and line, so a re-run of the file moves nothing."""
    return f"csv:{digest[:16]}:{line}"


def import_stock(session: Session, table: CsvTable, *, now: datetime, tick: Tick = no_tick) -> ImportReport:
    """Set on hand to each row's counted quantity by a COUNT movement; all rows or none (never commits)."""
    valid = validate_rows(table, StockRow)
    products = {product.sku: product for product in session.scalars(select(Product))}
    warehouses = {warehouse.code: warehouse for warehouse in session.scalars(select(Warehouse))}
    problems = _stock_problems(valid, products, warehouses)
    reject_if_any(table.source, [*valid.problems, *problems])
    report = ImportReport("stock", table.source, rows=len(valid.rows))
    references = {line: row.reference or stock_reference(valid.digest, line) for line, row in valid.rows}
    applied = _applied(session, set(references.values()))
    # Loaded once so that count_stock finds every level in the session instead of one query per row.
    session.scalars(select(StockLevel)).all()
    for line, row in valid.rows:
        product, warehouse = products[row.sku], warehouses[row.warehouse]
        moved = None
        if (references[line], product.id, warehouse.id) not in applied:
            moved = count_stock(
                session, product, warehouse, row.quantity, reference=references[line], now=now
            )
        # A count that matched on hand is recorded as a movement of 0: nothing changed.
        if moved is None or moved.quantity == 0:
            report.unchanged += 1
        else:
            report.changed += 1
        tick()
    return report


def _applied(session: Session, references: set[str]) -> set[tuple[str, int, int]]:
    """(reference, product id, warehouse id) of the movements already booked under these references."""
    found: set[tuple[str, int, int]] = set()
    ordered = sorted(references)
    for start in range(0, len(ordered), REFERENCE_BATCH):
        batch = ordered[start : start + REFERENCE_BATCH]
        query = select(StockMovement.reference, StockMovement.product_id, StockMovement.warehouse_id)
        found.update(
            (ref, product, warehouse)
            for ref, product, warehouse in session.execute(query.where(StockMovement.reference.in_(batch)))
        )
    return found


def _stock_problems(
    valid: ValidRows[StockRow], products: dict[str, Product], warehouses: dict[str, Warehouse]
) -> list[Problem]:
    problems: list[Problem] = []
    first_line: dict[tuple[str, str], int] = {}
    # A None cell is a bad cell of a row that failed validation, already a problem of its own.
    for line, row in valid.checkable:
        if row.sku is not None:
            problems.extend(_sku_problems(line, row.sku, products))
        if row.warehouse is not None and row.warehouse not in warehouses:
            problems.append(Problem(line, "warehouse", "no warehouse has this code", row.warehouse))
        if row.sku is None or row.warehouse is None:
            continue
        key = (row.sku, row.warehouse)
        if key in first_line:
            problems.append(
                Problem(line, "sku", f"is counted in this warehouse on line {first_line[key]} too", row.sku)
            )
        first_line.setdefault(key, line)
    return problems


def _sku_problems(line: int, sku: str, products: dict[str, Product]) -> list[Problem]:
    product = products.get(sku)
    if product is None:
        return [Problem(line, "sku", "no product has this SKU", sku)]
    if product.is_bundle:
        return [Problem(line, "sku", "is a bundle; count its components instead", sku)]
    if not product.stock_tracked:
        return [Problem(line, "sku", "is not stock-tracked", sku)]
    return []
