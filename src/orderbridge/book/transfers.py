"""Warehouse transfers: stock leaves the source, travels (in transit), and is released into the target
as it is received (F3, F4). Over-receipts and unexpected products are recorded, never dropped (F5)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from orderbridge.book.catalog import Product
from orderbridge.book.errors import DuplicateError, InsufficientStockError, InvalidValueError
from orderbridge.book.inventory import (
    MovementReason,
    Warehouse,
    already_moved,
    available_quantity,
    move_stock,
    stock_level,
)
from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId


class TransferStatus(StrEnum):
    IN_TRANSIT = "in_transit"
    PARTLY_RECEIVED = "partly_received"
    RECEIVED = "received"
    CLOSED = "closed"


class WarehouseTransfer(Base):
    __tablename__ = "warehouse_transfers"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    source_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    target_warehouse_id: Mapped[int] = mapped_column(ForeignKey("warehouses.id"))
    status: Mapped[TransferStatus] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    rows: Mapped[list[TransferRow]] = relationship(order_by="TransferRow.id", cascade="all, delete-orphan")


class TransferRow(Base):
    __tablename__ = "transfer_rows"
    __table_args__ = (CheckConstraint("quantity_sent >= 0 AND quantity_received >= 0", name="counts"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    transfer_id: Mapped[int] = mapped_column(
        ForeignKey("warehouse_transfers.id", ondelete="CASCADE"), index=True
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    quantity_sent: Mapped[int] = mapped_column(Integer)
    quantity_received: Mapped[int] = mapped_column(Integer, default=0)
    # Units written off the target's in-transit when the transfer was closed short (F5).
    quantity_short: Mapped[int] = mapped_column(Integer, default=0)
    unexpected: Mapped[bool] = mapped_column(Boolean, default=False)

    @property
    def in_transit(self) -> int:
        return max(self.quantity_sent - self.quantity_received - self.quantity_short, 0)


@dataclass
class Receipt:
    """What one receipt did, for the discrepancy e-mails of F5."""

    received: dict[str, int] = field(default_factory=dict)
    over_received: dict[str, int] = field(default_factory=dict)
    unexpected: dict[str, int] = field(default_factory=dict)
    status: TransferStatus = TransferStatus.IN_TRANSIT


def create_transfer(
    session: Session,
    reference: str,
    source: Warehouse,
    target: Warehouse,
    quantities: dict[Product, int],
    *,
    now: datetime,
) -> WarehouseTransfer:
    """Send stock from `source` to `target`: it leaves the source at once and is in transit to the target.

    Refused as a whole, naming every short SKU, when the source has not enough available (F5).
    """
    if session.scalar(select(WarehouseTransfer).where(WarehouseTransfer.reference == reference)) is not None:
        raise DuplicateError("warehouse transfer", reference)
    if source.id == target.id:
        raise InvalidValueError(f"transfer {reference!r}: source and target are both {source.code!r}")
    for product, quantity in quantities.items():
        if quantity <= 0:
            raise InvalidValueError(f"transfer {reference!r}: SKU {product.sku!r}: quantity {quantity}")
        available = available_quantity(session, product, source)
        if available < quantity:
            raise InsufficientStockError(product.sku, source.code, quantity, available)
    transfer = WarehouseTransfer(
        reference=reference,
        source_warehouse_id=source.id,
        target_warehouse_id=target.id,
        status=TransferStatus.IN_TRANSIT,
        created_at=now,
    )
    session.add(transfer)
    for product, quantity in quantities.items():
        transfer.rows.append(
            TransferRow(product_id=product.id, quantity_sent=quantity, quantity_received=0, quantity_short=0)
        )
        move_stock(
            session,
            product,
            source,
            -quantity,
            reason=MovementReason.TRANSFER_OUT,
            reference=f"transfer:{reference}",
            now=now,
        )
        stock_level(session, product.id, target.id).in_transit += quantity
    return transfer


def receive_transfer(
    session: Session,
    transfer: WarehouseTransfer,
    quantities: dict[Product, int],
    *,
    reference: str,
    now: datetime,
) -> Receipt:
    """Release received units into the target (partial receipts allowed). A reference applies once."""
    if transfer.status == TransferStatus.CLOSED:
        raise InvalidValueError(f"transfer {transfer.reference!r} is closed")
    target = session.get(Warehouse, transfer.target_warehouse_id)
    assert target is not None
    receipt = Receipt()
    rows = {row.product_id: row for row in transfer.rows}
    movement_ref = f"transfer:{transfer.reference}:receipt:{reference}"
    for product, quantity in quantities.items():
        if quantity <= 0:
            raise InvalidValueError(
                f"transfer {transfer.reference!r}: SKU {product.sku!r}: received {quantity}"
            )
        if already_moved(session, movement_ref, product.id, target.id):
            continue
        row = rows.get(product.id)
        if row is None:
            row = TransferRow(
                product_id=product.id, quantity_sent=0, quantity_received=0, quantity_short=0, unexpected=True
            )
            transfer.rows.append(row)
            rows[product.id] = row
            receipt.unexpected[product.sku] = quantity
        from_transit = min(row.in_transit, quantity)
        stock_level(session, product.id, target.id).in_transit -= from_transit
        row.quantity_received += quantity
        if not row.unexpected and row.quantity_received > row.quantity_sent:
            receipt.over_received[product.sku] = row.quantity_received - row.quantity_sent
        move_stock(
            session,
            product,
            target,
            quantity,
            reason=MovementReason.TRANSFER_IN,
            reference=movement_ref,
            now=now,
        )
        receipt.received[product.sku] = quantity
    full = all(row.quantity_received >= row.quantity_sent for row in transfer.rows)
    transfer.status = TransferStatus.RECEIVED if full else TransferStatus.PARTLY_RECEIVED
    receipt.status = transfer.status
    return receipt


def close_transfer(session: Session, transfer: WarehouseTransfer, *, now: datetime) -> dict[int, int]:
    """Close a transfer; units still in transit are written off the target's in-transit. Returns them."""
    shortfall: dict[int, int] = {}
    if transfer.status == TransferStatus.CLOSED:
        return shortfall
    for row in transfer.rows:
        if row.in_transit:
            stock_level(session, row.product_id, transfer.target_warehouse_id).in_transit -= row.in_transit
            shortfall[row.product_id] = row.quantity_short = row.in_transit
    transfer.status = TransferStatus.CLOSED
    transfer.closed_at = now
    return shortfall
