"""Shipping an order: which rows, how many, with what carrier and tracking; stock leaves the warehouse.

The carrier and tracking number are checked before anything moves, so a shipment that its channel
could never be told of is refused while nothing has changed. A shipment's carrier and tracking number
can be corrected later (`correct_shipment`): its revision goes up, and the outbox sends its
confirmation again.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.book.catalog import Product
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.errors import InvalidValueError
from orderbridge.book.inventory import MovementReason, Warehouse, move_stock, release, stock_level
from orderbridge.book.orders.carriers import find_carrier
from orderbridge.book.orders.model import Fulfilment, OrderRow, RowKind, SalesOrder, Shipment, ShipmentRow
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
    made_at_channel: bool = False,
) -> Shipment:
    """Ship `quantities` (row id -> units; default: everything unshipped). Same reference twice: one shipment.

    Stock-tracked rows must be allocated for what they ship; free-text rows never ship (O6). A shipment
    `made_at_channel` was made outside the book and reported by the channel (O24): no confirmation.
    """
    existing = session.scalar(
        select(Shipment).where(Shipment.order_id == order.id, Shipment.reference == reference)
    )
    if existing is not None:
        return existing
    if order.is_cancelled:
        raise InvalidValueError(f"order {order_name(order)}: is cancelled and cannot ship")
    if not made_at_channel:  # the channel's own shipment is recorded as it reports it (O24)
        carrier, tracking_number = shipment_details(session, order, carrier=carrier, tracking=tracking_number)
    wanted = quantities if quantities is not None else _everything_unshipped(order)
    if not wanted:
        raise InvalidValueError(f"order {order_name(order)}: nothing to ship")
    rows = {row.id: row for row in order.rows}
    shipment = Shipment(
        order_id=order.id,
        reference=reference,
        shipped_at=now,
        carrier=carrier,
        tracking_number=tracking_number,
        shipping_method_id=order.shipping_method_id,
        made_at_channel=made_at_channel,
    )
    for row_id, quantity in wanted.items():
        row = rows.get(row_id)
        if row is None:
            raise InvalidValueError(f"order {order_name(order)}: row {row_id} is not on this order")
        _ship_row(session, order, row, quantity, reference=reference, now=now)
        shipment.rows.append(ShipmentRow(row_id=row.id, quantity=quantity))
    order.shipments.append(shipment)
    order.updated_at = now
    mark_shipped_when_complete(session, order, now=now)
    return shipment


def order_name(order: SalesOrder) -> str:
    """How a person knows the order: its channel's order id, else the book's number."""
    return order.external_ref or f"#{order.id}"


def tells_amazon(session: Session, order: SalesOrder) -> bool:
    """Whether a shipment of this order is confirmed to Amazon (a seller-fulfilled Amazon order that
    Amazon does not collect itself, as it does Easy Ship orders)."""
    channel = session.get(Channel, order.channel_id)
    amazon = channel is not None and channel.kind == ChannelKind.AMAZON
    return amazon and order.fulfilment == Fulfilment.SELLER and order.confirm_shipments is not False


def shipment_problem(
    session: Session, order: SalesOrder, *, carrier: str | None, tracking: str | None
) -> str | None:
    """What is wrong with shipping `order` by this carrier and tracking number, in plain words, or None.

    The carrier defaults to the shipping method's (O8) and must be on the carrier list. A tracking
    number is needed unless the carrier is marked as having none; an Amazon order always needs both,
    because Amazon's shipment confirmation requires carrierCode and trackingNumber (ordersV0.json
    PackageDetail; whether Amazon accepts a confirmation without a tracking number is UNCONFIRMED).
    """
    try:
        shipment_details(session, order, carrier=carrier, tracking=tracking)
    except InvalidValueError as error:
        return str(error)
    return None


def shipment_details(
    session: Session, order: SalesOrder, *, carrier: str | None, tracking: str | None
) -> tuple[str | None, str | None]:
    """(carrier as the list spells it, tracking number) for shipping `order`, or InvalidValueError."""
    where = f"order {order_name(order)}"
    name = (carrier or "").strip() or (order.shipping_method.carrier if order.shipping_method else None)
    tracking = (tracking or "").strip() or None
    amazon = tells_amazon(session, order)
    found = find_carrier(session, name) if name else None
    if name and found is None:
        raise InvalidValueError(
            f"{where}: carrier {name!r} is not on the carrier list; add it to the carrier list first"
        )
    if found is None and amazon:
        raise InvalidValueError(f"{where}: choose a carrier; Amazon needs one to confirm the shipment")
    if tracking is None:
        if amazon:
            raise InvalidValueError(
                f"{where}: enter a tracking number; Amazon needs one to confirm the shipment"
            )
        if found is None or found.has_tracking:
            carrier_text = f"carrier {found.name}" if found is not None else "a shipment without a carrier"
            raise InvalidValueError(
                f"{where}: enter a tracking number; {carrier_text} needs one "
                f"(or choose a carrier marked as having no tracking)"
            )
    return (found.name if found is not None else None), tracking


def correct_shipment(
    session: Session,
    shipment: Shipment,
    *,
    tracking_number: str | None,
    carrier: str | None = None,
    now: datetime,
) -> Shipment:
    """Correct a shipment's tracking number (and carrier, when given): checked as shipping is, then the
    revision goes up so that the outbox confirms the shipment again (a deliberate resend, O23)."""
    order = session.get(SalesOrder, shipment.order_id)
    assert order is not None
    new_carrier, new_tracking = shipment_details(
        session, order, carrier=carrier or shipment.carrier, tracking=tracking_number
    )
    if (new_carrier, new_tracking) == (shipment.carrier, shipment.tracking_number):
        raise InvalidValueError(
            f"order {order_name(order)} shipment {shipment.reference}: "
            "already has this carrier and tracking number; nothing to correct"
        )
    shipment.carrier, shipment.tracking_number = new_carrier, new_tracking
    shipment.revision += 1
    order.updated_at = now
    return shipment


def shipment_by_reference(order: SalesOrder, reference: str | None) -> Shipment:
    """The order's shipment of this reference; with none given, the order's only (or latest) one."""
    if not order.shipments:
        raise InvalidValueError(f"order {order_name(order)}: has no shipment to correct")
    if not reference:
        return max(order.shipments, key=lambda s: s.id)
    for shipment in order.shipments:
        if shipment.reference == reference.strip():
            return shipment
    known = ", ".join(s.reference for s in order.shipments)
    raise InvalidValueError(f"order {order_name(order)}: no shipment {reference!r} (its shipments: {known})")


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
    where = f"order {order_name(order)}: row {row.position + 1} ({row.sku or row.name})"
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
