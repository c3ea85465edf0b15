"""Stock for the stock pages: levels per warehouse, movements (keyset-paged), and FBA movements per day."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.book.catalog import Product
from orderbridge.book.inventory import StockLevel, StockMovement, Warehouse, WarehouseKind
from orderbridge.book.queries.days import as_day, day_of
from orderbridge.book.queries.orders import DailySeries, fill_days
from orderbridge.book.queries.paging import AnySelect, Page, decode, keyset_page, page_size
from orderbridge.clock import as_utc


@dataclass(frozen=True)
class WarehouseLine:
    id: int
    code: str
    name: str
    kind: str
    region: str | None
    products: int
    on_hand: int
    allocated: int
    in_transit: int


def warehouses(session: Session) -> list[WarehouseLine]:
    totals = (
        select(
            StockLevel.warehouse_id,
            func.count(),
            func.sum(StockLevel.on_hand),
            func.sum(StockLevel.allocated),
            func.sum(StockLevel.in_transit),
        )
        .group_by(StockLevel.warehouse_id)
        .subquery()
    )
    query = (
        select(Warehouse, totals)
        .outerjoin(totals, totals.c.warehouse_id == Warehouse.id)
        .order_by(Warehouse.code)
    )
    found = []
    for row in session.execute(query):
        warehouse = row[0]
        counts = [int(value or 0) for value in row[2:]]
        found.append(
            WarehouseLine(
                warehouse.id, warehouse.code, warehouse.name, str(warehouse.kind), warehouse.region, *counts
            )
        )
    return found


@dataclass(frozen=True)
class LevelLine:
    product_id: int
    sku: str
    name: str
    on_hand: int
    allocated: int
    in_transit: int

    @property
    def available(self) -> int:
        return max(self.on_hand - self.allocated, 0)


def levels(
    session: Session, warehouse_id: int, *, cursor: str | None = None, size: int | None = None
) -> Page[LevelLine]:
    """A warehouse's stock levels by SKU."""
    query: AnySelect = (
        select(
            Product.id,
            Product.sku,
            Product.name,
            StockLevel.on_hand,
            StockLevel.allocated,
            StockLevel.in_transit,
        )
        .join(Product, Product.id == StockLevel.product_id)
        .where(StockLevel.warehouse_id == warehouse_id)
    )
    return keyset_page(
        session,
        query,
        columns=(Product.sku,),
        key_of=lambda row: (row.sku,),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        descending=False,
        convert=lambda row: LevelLine(*row),
    )


@dataclass(frozen=True)
class MovementLine:
    id: int
    moved_at: datetime
    sku: str
    warehouse: str
    quantity: int
    reason: str
    reference: str
    note: str | None


def movements(
    session: Session,
    *,
    warehouse_id: int | None = None,
    sku: str | None = None,
    cursor: str | None = None,
    size: int | None = None,
) -> Page[MovementLine]:
    """Movements newest first (by id: the order they were recorded in)."""
    query: AnySelect = (
        select(
            StockMovement.id,
            StockMovement.moved_at,
            Product.sku,
            Warehouse.code,
            StockMovement.quantity,
            StockMovement.reason,
            StockMovement.reference,
            StockMovement.note,
        )
        .join(Product, Product.id == StockMovement.product_id)
        .join(Warehouse, Warehouse.id == StockMovement.warehouse_id)
    )
    if warehouse_id is not None:
        query = query.where(StockMovement.warehouse_id == warehouse_id)
    if sku:
        query = query.where(Product.sku == sku.strip())

    def line(row: Any) -> MovementLine:
        return MovementLine(row[0], as_utc(row[1]), row[2], row[3], row[4], str(row[5]), row[6], row[7])

    return keyset_page(
        session,
        query,
        columns=(StockMovement.id,),
        key_of=lambda row: (row[0],),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        convert=line,
    )


def fba_movements_per_day(session: Session, *, first: date, last: date) -> DailySeries:
    """Units moved per UTC day in FBA warehouses, one series per reason (in: positive, out: negative)."""
    fba = list(session.scalars(select(Warehouse.id).where(Warehouse.kind == WarehouseKind.FBA)))
    if not fba:
        return fill_days(first, last, {}, [])
    day = day_of(session, StockMovement.moved_at)
    query = (
        select(day, StockMovement.reason, func.sum(StockMovement.quantity))
        .where(
            StockMovement.warehouse_id.in_(fba),
            StockMovement.moved_at >= datetime.combine(first, time(0), UTC),
            StockMovement.moved_at < datetime.combine(last + timedelta(days=1), time(0), UTC),
        )
        .group_by(day, StockMovement.reason)
    )
    counts = {
        (as_day(value), str(reason)): int(total or 0) for value, reason, total in session.execute(query)
    }
    return fill_days(first, last, counts, sorted({name for _, name in counts}))
