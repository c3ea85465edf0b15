"""Shipping an order: which rows, how many, with what tracking; stock leaves the warehouse."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.book.catalog import Product
from orderbridge.book.errors import InvalidValueError
from orderbridge.book.inventory import MovementReason, Warehouse, move_stock, release, stock_level
from orderbridge.book.orders.model import OrderRow, RowKind, SalesOrder, Shipment, ShipmentRow
from orderbridge.book.orders.statuses import move_status, shipped_status


def ship_order(
    session: Session,
    order: SalesOrder,
    *,
    reference: str,
    now: datetime,
    quantities: dict[int, int] | None = None,
    tracking_number: str | None = None,
    carrier: str | None = None,
) -> Shipment:
    """Ship `quantities` (row id -> units; default: everything unshipped). Same reference twice: one shipment.

    Stock-tracked rows must be allocated for what they ship; free-text rows never ship (O6).
    """
    existing = session.scalar(
        select(Shipment).where(Shipment.order_id == order.id, Shipment.reference == reference)
    )
    if existing is not None:
        return existing
    if order.is_cancelled:
        raise InvalidValueError(f"order {order.id}: is cancelled and cannot ship")
    wanted = quantities if quantities is not None else _everything_unshipped(order)
    if not wanted:
        raise InvalidValueError(f"order {order.id}: nothing to ship")
    rows = {row.id: row for row in order.rows}
    shipment = Shipment(
        order_id=order.id,
        reference=reference,
        shipped_at=now,
        carrier=carrier or (order.shipping_method.carrier if order.shipping_method else None),
        tracking_number=tracking_number,
        shipping_method_id=order.shipping_method_id,
    )
    for row_id, quantity in wanted.items():
        row = rows.get(row_id)
        if row is None:
            raise InvalidValueError(f"order {order.id}: row {row_id} is not on this order")
        _ship_row(session, order, row, quantity, reference=reference, now=now)
        shipment.rows.append(ShipmentRow(row_id=row.id, quantity=quantity))
    order.shipments.append(shipment)
    order.updated_at = now
    mark_shipped_when_complete(session, order, now=now)
    return shipment


def mark_shipped_when_complete(session: Session, order: SalesOrder, *, now: datetime) -> bool:
    """Once every product unit left is shipped: the order is shipped now and moves to its channel's status
    for shipped orders. A cancellation that leaves only shipped units ends the same way."""
    products = [row for row in order.rows if row.kind == RowKind.PRODUCT]
    if order.shipped_at is not None or not any(row.shipped for row in products):
        return False
    if any(row.shipped < row.quantity for row in products):
        return False
    order.shipped_at = now
    status = shipped_status(session, order.channel_id)
    if status is not None:
        move_status(session, order, status)
    return True


def _everything_unshipped(order: SalesOrder) -> dict[int, int]:
    return {
        row.id: row.quantity - row.shipped
        for row in order.rows
        if row.kind == RowKind.PRODUCT and row.quantity > row.shipped
    }


def _ship_row(
    session: Session, order: SalesOrder, row: OrderRow, quantity: int, *, reference: str, now: datetime
) -> None:
    where = f"order {order.id}: row {row.id} ({row.sku or row.name})"
    if row.kind != RowKind.PRODUCT:
        raise InvalidValueError(f"{where}: a {row.kind} row cannot be shipped")
    if quantity <= 0 or row.shipped + quantity > row.quantity:
        raise InvalidValueError(f"{where}: cannot ship {quantity}; {row.quantity - row.shipped} left to ship")
    product = session.get(Product, row.product_id) if row.product_id is not None else None
    if product is not None and product.stock_tracked:
        if row.allocated < quantity or row.warehouse_id is None:
            raise InvalidValueError(f"{where}: cannot ship {quantity}; only {row.allocated} allocated")
        release(stock_level(session, product.id, row.warehouse_id), quantity)
        row.allocated -= quantity
        warehouse = session.get(Warehouse, row.warehouse_id)
        assert warehouse is not None
        move_stock(
            session,
            product,
            warehouse,
            -quantity,
            reason=MovementReason.SHIPMENT,
            reference=f"shipment:{order.id}:{reference}:{row.id}",
            now=now,
        )
    row.shipped += quantity
