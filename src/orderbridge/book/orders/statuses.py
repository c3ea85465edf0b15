"""The seller's order statuses and shipping methods: looked up by name, created where the seller expects."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.book.errors import NotFoundError
from orderbridge.book.orders.model import OrderStatus, ShippingMethod

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
