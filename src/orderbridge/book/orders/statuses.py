"""The seller's order statuses and shipping methods: looked up by name, created where the seller expects."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.book.channels import Channel
from orderbridge.book.errors import InvalidValueError, NotFoundError
from orderbridge.book.orders.model import OrderStatus, SalesOrder, ShippingMethod

DEFAULT_STATUSES: tuple[tuple[str, bool], ...] = (
    ("Pending", False),
    ("New order", False),
    ("New Prime order", False),
    ("New FBA order", False),
    ("Ready to ship", False),
    ("Shipped", False),
    ("Cancelled", True),
)


def ensure_default_statuses(session: Session) -> None:
    """Create the default status list once; a seller's edits are kept."""
    existing = set(session.scalars(select(OrderStatus.name)))
    for position, (name, cancelled) in enumerate(DEFAULT_STATUSES):
        if name not in existing:
            session.add(OrderStatus(name=name, is_cancelled=cancelled, position=position))
    session.flush()


def add_status(session: Session, name: str, *, is_cancelled: bool = False) -> OrderStatus:
    status = session.scalar(select(OrderStatus).where(OrderStatus.name == name))
    if status is None:
        count = len(session.scalars(select(OrderStatus.id)).all())
        status = OrderStatus(name=name, is_cancelled=is_cancelled, position=count)
        session.add(status)
        session.flush()
    return status


def status_by_name(session: Session, name: str) -> OrderStatus:
    status = session.scalar(select(OrderStatus).where(OrderStatus.name == name))
    if status is None:
        raise NotFoundError("order status", name)
    return status


def cancelled_status(session: Session) -> OrderStatus:
    status = session.scalar(
        select(OrderStatus).where(OrderStatus.is_cancelled.is_(True)).order_by(OrderStatus.position)
    )
    if status is None:
        raise NotFoundError("order status", "(a cancelled status)")
    return status


SHIPPED = "Shipped"


def shipped_status(session: Session, channel_id: int) -> OrderStatus | None:
    """The status the channel's orders move to once shipped in full: the channel's setting, else the
    status named "Shipped" (None when the seller has neither: the status then stays as it is)."""
    channel = session.get(Channel, channel_id)
    if channel is not None and channel.shipped_status_id is not None:
        return session.get(OrderStatus, channel.shipped_status_id)
    return session.scalar(select(OrderStatus).where(OrderStatus.name == SHIPPED))


def channel_cancelled_status(session: Session, channel_id: int) -> OrderStatus:
    """The status the channel's cancelled orders move to: its setting, else the first cancelled status."""
    channel = session.get(Channel, channel_id)
    if channel is not None and channel.cancelled_status_id is not None:
        status = session.get(OrderStatus, channel.cancelled_status_id)
        if status is not None and status.is_cancelled:
            return status
    return cancelled_status(session)


def move_status(session: Session, order: SalesOrder, status: OrderStatus) -> None:
    order.status_id = status.id
    session.expire(order, ["status"])


def set_channel_statuses(
    session: Session, channel: Channel, *, shipped: str | None, cancelled: str | None
) -> None:
    """Name the channel's statuses for shipped and cancelled orders (None: the defaults).

    The one for cancelled orders must be a cancelled status and the one for shipped orders must not
    (an order in it would count as cancelled)."""
    shipped_row = status_by_name(session, shipped) if shipped else None
    cancelled_row = status_by_name(session, cancelled) if cancelled else None
    if shipped_row is not None and shipped_row.is_cancelled:
        raise InvalidValueError(f"status for shipped orders: {shipped!r} is a cancelled status")
    if cancelled_row is not None and not cancelled_row.is_cancelled:
        raise InvalidValueError(f"status for cancelled orders: {cancelled!r} is not a cancelled status")
    channel.shipped_status_id = shipped_row.id if shipped_row is not None else None
    channel.cancelled_status_id = cancelled_row.id if cancelled_row is not None else None


def shipping_method(session: Session, name: str) -> ShippingMethod:
    """O8: the shipping method of this name, created (with no carrier yet) the first time it is seen."""
    method = session.scalar(select(ShippingMethod).where(ShippingMethod.name == name))
    if method is None:
        method = ShippingMethod(name=name, carrier=None)
        session.add(method)
        session.flush()
    return method


def set_carrier(session: Session, name: str, carrier: str | None) -> ShippingMethod:
    method = shipping_method(session, name)
    method.carrier = carrier
    return method
