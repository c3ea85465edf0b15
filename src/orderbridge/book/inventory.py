"""Warehouses and stock: levels (on hand, allocated, in transit) that only ever change by movements.

Every change of on-hand stock is a StockMovement with a reason and a source reference. The pair
(reference, product, warehouse) is unique, so applying the same reference twice moves nothing (F10).
Allocated never exceeds on hand: when on hand drops below it, the newest allocations are released.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    bindparam,
    func,
    select,
    tuple_,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.book.catalog import Product
from orderbridge.book.errors import DuplicateError, InvalidValueError, NotFoundError
from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId, insert_rows


class WarehouseKind(StrEnum):
    OWN = "own"
    FBA = "fba"


class MovementReason(StrEnum):
    OPENING = "opening"
    RECEIPT = "receipt"
    COUNT = "count"
    SHIPMENT = "shipment"
    RETURN = "return"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    LOST = "lost"
    DAMAGED = "damaged"
    DISPOSED = "disposed"
    FOUND = "found"
    CORRECTION = "correction"
    REPLACEMENT = "replacement"
    REMOVAL = "removal"


class Warehouse(Base):
    __tablename__ = "warehouses"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[WarehouseKind] = mapped_column(String(10))
    region: Mapped[str | None] = mapped_column(String(10))


class StockLevel(Base):
    __tablename__ = "stock_levels"
    __table_args__ = (
        CheckConstraint("allocated >= 0", name="allocated_not_negative"),
        CheckConstraint("allocated = 0 OR allocated <= on_hand", name="allocated_within_on_hand"),
        CheckConstraint("in_transit >= 0", name="in_transit_not_negative"),
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(Integer, default=0)
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    in_transit: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def available(self) -> int:
        return max(self.on_hand - self.allocated, 0)


class StockMovement(Base):
    __tablename__ = "stock_movements"
    __table_args__ = (
        UniqueConstraint("reference", "product_id", "warehouse_id"),
        Index(
            "ix_stock_movements_warehouse_id", "warehouse_id", "id"
        ),  # a warehouse's movements, newest first
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    quantity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[MovementReason] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(200))
    moved_at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    note: Mapped[str | None] = mapped_column(String(500))


def add_warehouse(
    session: Session, code: str, name: str, kind: WarehouseKind = WarehouseKind.OWN, region: str | None = None
) -> Warehouse:
    if session.scalar(select(Warehouse).where(Warehouse.code == code)) is not None:
        raise DuplicateError("warehouse", code)
    warehouse = Warehouse(code=code, name=name, kind=kind, region=region)
    session.add(warehouse)
    session.flush()
    return warehouse


def warehouse_by_code(session: Session, code: str) -> Warehouse:
    found = session.scalar(select(Warehouse).where(Warehouse.code == code))
    if found is None:
        raise NotFoundError("warehouse", code)
    return found


def stock_level(session: Session, product_id: int, warehouse_id: int) -> StockLevel:
    """The level row of a product in a warehouse, created empty on first use."""
    level = session.get(StockLevel, (product_id, warehouse_id))
    if level is None:
        level = StockLevel(
            product_id=product_id, warehouse_id=warehouse_id, on_hand=0, allocated=0, in_transit=0
        )
        session.add(level)
    return level


def move_stock(
    session: Session,
    product: Product,
    warehouse: Warehouse,
    quantity: int,
    *,
    reason: MovementReason,
    reference: str,
    now: datetime,
    note: str | None = None,
) -> StockMovement | None:
    """Change on hand by `quantity`; None (and no change) when `reference` was applied already."""
    if not product.stock_tracked:
        raise InvalidValueError(f"product {product.sku!r} is not stock-tracked: it has no stock to move")
    if quantity == 0:
        raise InvalidValueError(f"movement {reference!r} of {product.sku!r}: quantity is 0")
    if already_moved(session, reference, product.id, warehouse.id):
        return None
    level = stock_level(session, product.id, warehouse.id)
    remaining = max(level.on_hand + quantity, 0)
    if level.allocated > remaining:
        with session.no_autoflush:  # allocation shrinks before on hand does, so the CHECK holds at flush
            release_newest_allocations(session, level, level.allocated - remaining)
    level.on_hand += quantity
    movement = StockMovement(
        product_id=product.id,
        warehouse_id=warehouse.id,
        quantity=quantity,
        reason=reason,
        reference=reference,
        moved_at=now,
        note=note,
    )
    session.add(movement)
    return movement


@dataclass(frozen=True)
class NewMovement:
    """One movement for `move_stock_many` (the product must be stock-tracked; the caller checked)."""

    product_id: int
    warehouse_id: int
    quantity: int
    reason: MovementReason
    reference: str
    moved_at: datetime
    note: str | None = None


def move_stock_many(
    session: Session, movements: Sequence[NewMovement], *, chunk: int = 500, known_new: bool = False
) -> int:
    """The bulk `move_stock`: one look-up of applied references and levels per chunk, one INSERT of the
    movements, one change per level. References applied before (or twice in `movements`) move nothing;
    a caller whose own records prove the references new (in this transaction) skips that look-up with
    `known_new`. Returns how many movements were made."""
    fresh: dict[tuple[str, int, int], NewMovement] = {}
    if known_new:
        for movement in movements:
            if movement.quantity != 0:
                fresh.setdefault((movement.reference, movement.product_id, movement.warehouse_id), movement)
    for start in range(0, 0 if known_new else len(movements), chunk):
        part = [m for m in movements[start : start + chunk] if m.quantity != 0]
        keys = {(m.reference, m.product_id, m.warehouse_id) for m in part}
        applied = set(
            session.execute(
                select(StockMovement.reference, StockMovement.product_id, StockMovement.warehouse_id).where(
                    tuple_(StockMovement.reference, StockMovement.product_id, StockMovement.warehouse_id).in_(
                        keys
                    )
                )
            )
        ) if keys else set()  # fmt: skip
        for movement in part:
            key = (movement.reference, movement.product_id, movement.warehouse_id)
            if key not in applied and key not in fresh:
                fresh[key] = movement
    if not fresh:
        return 0
    totals: dict[tuple[int, int], int] = {}
    for movement in fresh.values():
        pair = (movement.product_id, movement.warehouse_id)
        totals[pair] = totals.get(pair, 0) + movement.quantity
    _change_levels(session, totals)
    insert_rows(
        session,
        MOVEMENTS,
        ("product_id", "warehouse_id", "quantity", "reason", "reference", "moved_at", "note"),
        [
            (m.product_id, m.warehouse_id, m.quantity, str(m.reason), m.reference, m.moved_at, m.note)
            for m in fresh.values()
        ],
    )
    return len(fresh)


MOVEMENTS = Table("stock_movements", Base.metadata)
LEVELS = Table("stock_levels", Base.metadata)


def _change_levels(session: Session, totals: dict[tuple[int, int], int]) -> None:
    """Add each (product, warehouse)'s change to on hand. A level that exists, is not loaded in the
    session and keeps its allocation within the new on hand changes by one set-based UPDATE run per
    level (no ORM objects); a new level, one loaded in the session, or one whose allocation must shrink
    (newest allocations released first) goes through the ORM."""
    session.flush()
    loaded = {
        (level.product_id, level.warehouse_id)
        for level in session.identity_map.values()
        if isinstance(level, StockLevel)
    }
    stored = _stored_levels(session, [pair for pair in totals if pair not in loaded])
    plain: list[tuple[int, int, int]] = []
    for pair, change in totals.items():
        current = stored.get(pair)
        if current is not None and current[1] <= max(current[0] + change, 0):
            plain.append((change, *pair))
            continue
        level = session.get(StockLevel, pair) or stock_level(session, *pair)
        remaining = max(level.on_hand + change, 0)
        if level.allocated > remaining:
            with session.no_autoflush:
                release_newest_allocations(session, level, level.allocated - remaining)
        level.on_hand += change
    if plain:
        session.connection().execute(
            LEVELS.update()
            .where(LEVELS.c.product_id == bindparam("p"), LEVELS.c.warehouse_id == bindparam("w"))
            .values(on_hand=LEVELS.c.on_hand + bindparam("change")),
            [
                {"change": change, "p": product_id, "w": warehouse_id}
                for change, product_id, warehouse_id in plain
            ],
        )
    session.flush()


def _stored_levels(session: Session, pairs: list[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, int]]:
    """(product, warehouse) -> (on hand, allocated) as stored, for the pairs that have a level row.
    Products IN (...) and warehouses IN (...), not a tuple IN: SQLite scans the whole table for that."""
    wanted = set(pairs)
    found: dict[tuple[int, int], tuple[int, int]] = {}
    for start in range(0, len(pairs), 500):
        part = pairs[start : start + 500]
        query = select(
            LEVELS.c.product_id, LEVELS.c.warehouse_id, LEVELS.c.on_hand, LEVELS.c.allocated
        ).where(
            LEVELS.c.product_id.in_({p for p, _ in part}), LEVELS.c.warehouse_id.in_({w for _, w in part})
        )
        for product_id, warehouse_id, on_hand, allocated in session.connection().execute(query):
            if (product_id, warehouse_id) in wanted:
                found[(product_id, warehouse_id)] = (on_hand, allocated)
    return found


def already_moved(session: Session, reference: str, product_id: int, warehouse_id: int) -> bool:
    # The query autoflushes, so movements added earlier in this unit of work are seen too.
    found = session.scalar(
        select(StockMovement.id).where(
            StockMovement.reference == reference,
            StockMovement.product_id == product_id,
            StockMovement.warehouse_id == warehouse_id,
        )
    )
    return found is not None


def count_stock(
    session: Session, product: Product, warehouse: Warehouse, counted: int, *, reference: str, now: datetime
) -> StockMovement | None:
    """Set on hand to a counted quantity by a COUNT movement of the difference."""
    if counted < 0:
        raise InvalidValueError(f"SKU {product.sku!r}: counted quantity {counted} is negative")
    if already_moved(session, reference, product.id, warehouse.id):
        return None
    difference = counted - stock_level(session, product.id, warehouse.id).on_hand
    if difference == 0:
        # A count that matches is still recorded, so that the same count (same reference) is never
        # applied later against a level that has moved on since.
        matched = StockMovement(
            product_id=product.id,
            warehouse_id=warehouse.id,
            quantity=0,
            reason=MovementReason.COUNT,
            reference=reference,
            moved_at=now,
            note="count matched on hand",
        )
        session.add(matched)
        return matched
    return move_stock(
        session, product, warehouse, difference, reason=MovementReason.COUNT, reference=reference, now=now
    )


def allocate(level: StockLevel, wanted: int) -> int:
    """Allocate up to `wanted` of what is available; returns how many were allocated."""
    granted = max(min(wanted, level.on_hand - level.allocated), 0)
    level.allocated += granted
    return granted


def release(level: StockLevel, quantity: int) -> None:
    if quantity < 0 or quantity > level.allocated:
        raise InvalidValueError(
            f"product {level.product_id} warehouse {level.warehouse_id}: cannot release {quantity} "
            f"of {level.allocated} allocated"
        )
    level.allocated -= quantity


def release_newest_allocations(session: Session, level: StockLevel, excess: int) -> None:
    """On hand fell below allocated: take the excess back from the newest allocated order rows."""
    from orderbridge.book.orders.model import OrderRow

    rows = session.scalars(
        select(OrderRow)
        .where(
            OrderRow.product_id == level.product_id,
            OrderRow.warehouse_id == level.warehouse_id,
            OrderRow.allocated > 0,
        )
        .order_by(OrderRow.id.desc())
    )
    for row in rows:
        if excess <= 0:
            break
        taken = min(row.allocated, excess)
        row.allocated -= taken
        level.allocated -= taken
        excess -= taken
    if excess > 0:
        level.allocated -= excess


def available_quantity(session: Session, product: Product, warehouse: Warehouse) -> int:
    """What can still be sold from a warehouse; a bundle's is the fewest whole bundles its parts make."""
    if product.is_bundle:
        return min(
            (
                available_quantity(session, part.component, warehouse) // part.quantity
                for part in product.components
            ),
            default=0,
        )
    if not product.stock_tracked:
        return 0
    level = session.get(StockLevel, (product.id, warehouse.id))
    return level.available if level is not None else 0


def movements_total(session: Session, product_id: int, warehouse_id: int) -> int:
    """The sum of a product's movements in a warehouse; always equals its on-hand level."""
    total = session.scalar(
        select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
            StockMovement.product_id == product_id, StockMovement.warehouse_id == warehouse_id
        )
    )
    return int(total or 0)
