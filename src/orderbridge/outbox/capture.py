"""The capture: after each flush, the outbox messages the flushed book changes call for, same transaction.

A session event rather than calls sprinkled over the book: stock changes in a dozen places (booking,
allocation, shipping, transfers, counts, credits, cancellations) and any of them must reach Amazon (I1),
so the one place that sees them all is the flush. The book stays ignorant of the outbox (it never
imports it) and the outbox knows nothing of Amazon: it records *what happened* (a shipment of a
seller-fulfilled marketplace order, or a correction of its carrier or tracking; a product's stock
level in an own warehouse changed); the Amazon sender decides what that means there. Rows are
inserted with the flush's own connection, so they commit or roll back with the change that caused them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, insert, inspect, select
from sqlalchemy.orm import Session

from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.inventory import StockLevel, Warehouse, WarehouseKind
from orderbridge.book.orders.model import Fulfilment, SalesOrder, Shipment
from orderbridge.clock import utc_now
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage


def _changed_levels(session: Session) -> list[StockLevel]:
    levels = [obj for obj in session.new if isinstance(obj, StockLevel)]
    for obj in session.dirty:
        if isinstance(obj, StockLevel):
            state = inspect(obj)
            if any(state.attrs[name].history.has_changes() for name in ("on_hand", "allocated")):
                levels.append(obj)
    return levels


def _stock_messages(session: Session, levels: list[StockLevel]) -> list[dict[str, Any]]:
    connection = session.connection()
    warehouse_ids = {level.warehouse_id for level in levels}
    fba = set(
        connection.scalars(
            select(Warehouse.id).where(Warehouse.id.in_(warehouse_ids), Warehouse.kind == WarehouseKind.FBA)
        )
    )
    products = {level.product_id for level in levels if level.warehouse_id not in fba}
    if not products:
        return []
    waiting = set(
        connection.scalars(
            select(OutboxMessage.subject_id).where(
                OutboxMessage.kind == MessageKind.STOCK_CHANGED,
                OutboxMessage.status == MessageStatus.PENDING,
                OutboxMessage.subject_id.in_(products),
            )
        )
    )
    # A product with a message still waiting is covered by it: the sender reads the stock when it sends.
    now = utc_now()
    return [
        {
            "kind": MessageKind.STOCK_CHANGED,
            "key": f"product:{product_id}",
            "subject_id": product_id,
            "payload": {},
            "status": MessageStatus.PENDING,
            "attempts": 0,
            "created_at": now,
        }
        for product_id in sorted(products - waiting)
    ]


def _shipment_messages(session: Session, shipments: list[Shipment]) -> list[dict[str, Any]]:
    order_ids = {shipment.order_id for shipment in shipments}
    marketplace_orders = set(
        session.connection().scalars(
            select(SalesOrder.id)
            .join(Channel, Channel.id == SalesOrder.channel_id)
            .where(
                SalesOrder.id.in_(order_ids),
                Channel.kind == ChannelKind.AMAZON,
                SalesOrder.fulfilment == Fulfilment.SELLER,  # FBA orders are shipped by Amazon itself
                SalesOrder.confirm_shipments.is_(True),  # Amazon collects these itself (Easy Ship)
            )
        )
    )
    now = utc_now()
    return [
        {
            "kind": MessageKind.ORDER_SHIPPED,
            "key": f"order:{shipment.order_id}",
            "subject_id": shipment.order_id,
            # The revision makes a correction's confirmation a message of its own (a deliberate resend).
            "payload": {"shipment_id": shipment.id, "revision": shipment.revision or 0},
            "status": MessageStatus.PENDING,
            "attempts": 0,
            "created_at": now,
        }
        for shipment in sorted(shipments, key=lambda s: s.id)
        if shipment.order_id in marketplace_orders and not shipment.made_at_channel
    ]


def _corrected_shipments(session: Session) -> list[Shipment]:
    """Shipments whose carrier or tracking number was corrected (their revision went up) in this flush."""
    return [
        obj
        for obj in session.dirty
        if isinstance(obj, Shipment) and inspect(obj).attrs["revision"].history.has_changes()
    ]


@event.listens_for(Session, "after_flush")
def _capture(session: Session, _context: Any) -> None:
    shipments = [obj for obj in session.new if isinstance(obj, Shipment)] + _corrected_shipments(session)
    levels = _changed_levels(session)
    if not shipments and not levels:
        return
    rows = (_shipment_messages(session, shipments) if shipments else []) + (
        _stock_messages(session, levels) if levels else []
    )
    if rows:
        session.connection().execute(insert(OutboxMessage), rows)
