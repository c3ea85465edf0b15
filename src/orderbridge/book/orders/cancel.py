"""Cancelling whole orders or some of their rows; cancelling always frees allocation (O21)."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from orderbridge.book.errors import InvalidValueError
from orderbridge.book.inventory import release, stock_level
from orderbridge.book.money import minor_unit
from orderbridge.book.orders.booking import recompute_totals
from orderbridge.book.orders.model import OrderRow, SalesOrder
from orderbridge.book.orders.statuses import cancelled_status


def cancel_order(session: Session, order: SalesOrder, *, now: datetime) -> None:
    """Move the order to the Cancelled status and free every allocation. Shipped rows stay shipped."""
    for row in order.rows:
        free_allocation(session, row)
    order.status_id = cancelled_status(session).id
    session.expire(order, ["status"])
    order.cancelled_at = now
    order.updated_at = now


def cancel_row_quantity(
    session: Session, order: SalesOrder, row: OrderRow, cancelled: int, *, now: datetime
) -> None:
    """Cancel units of a row: quantity and money shrink in proportion; all cancelled -> 0 (O21)."""
    unshipped = row.quantity - row.shipped
    if cancelled <= 0 or cancelled > unshipped:
        raise InvalidValueError(
            f"order {order.id}: row {row.id}: cannot cancel {cancelled}; {unshipped} unshipped"
        )
    remaining = row.quantity - cancelled
    unit = minor_unit(order.currency)
    if remaining == 0:
        row.net, row.tax = Decimal(0), Decimal(0)
    else:
        share = Decimal(remaining) / Decimal(row.quantity)
        row.net = (row.net * share).quantize(unit, rounding=ROUND_HALF_UP)
        row.tax = (row.tax * share).quantize(unit, rounding=ROUND_HALF_UP)
    excess = max(row.allocated - (remaining - row.shipped), 0)
    if excess and row.warehouse_id is not None and row.product_id is not None:
        release(stock_level(session, row.product_id, row.warehouse_id), excess)
        row.allocated -= excess
    row.quantity = remaining
    row.cancelled_quantity += cancelled
    recompute_totals(order)
    order.updated_at = now


def free_allocation(session: Session, row: OrderRow) -> None:
    if row.allocated and row.warehouse_id is not None and row.product_id is not None:
        release(stock_level(session, row.product_id, row.warehouse_id), row.allocated)
        row.allocated = 0
