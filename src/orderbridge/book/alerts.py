"""Alerts: things a person must look at and clear (an unconnected listing, a cancellation after Ready)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.book.errors import InvalidValueError
from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId


class Subject(StrEnum):
    ORDER = "order"
    PRODUCT = "product"
    CONTACT = "contact"
    TRANSFER = "transfer"
    SETTLEMENT = "settlement"
    ACCOUNT = "account"
    CHANNEL = "channel"


# Every kind of alert the code raises, as the seller would name it (the alerts page's tabs and the
# dashboard's tiles). A test walks the source: a kind raised anywhere must be named here.
KINDS: dict[str, str] = {
    "amazon_refused": "Refused by Amazon",
    "cancellation_requested": "Buyer asked to cancel",
    "cancelled_after_ready": "Cancelled at Amazon after Ready to ship",
    "gift_message_unmapped": "Gift messages with no field to keep them",
    "inbound_abandoned": "Inbound shipment abandoned at Amazon",
    "pending_too_long": "Pending at Amazon for too long (holding stock)",
    "settlement_unbalanced": "Settlement does not balance",
    "settlement_unknown_orders": "Settlement names orders not in the book",
    "sync_failing": "Amazon sync failing",
    "unconnected_listing": "Listing not connected to a product",
    "shipped_at_amazon_unrecorded": "Shipped at Amazon, not recorded in the book",
}


WAITING_INBOUND = "inbound "  # + the shipment id: one open alert per shipment waiting for stock or a product


def kind_name(kind: str) -> str:
    if kind.startswith(WAITING_INBOUND):
        return f"Inbound shipment {kind.removeprefix(WAITING_INBOUND)} waiting"
    return KINDS.get(kind, kind.replace("_", " ").capitalize())


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    subject: Mapped[Subject] = mapped_column(String(20))
    subject_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(60))
    message: Mapped[str] = mapped_column(String(1000))
    raised_at: Mapped[datetime] = mapped_column(UtcDateTime())
    cleared_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    cleared_by: Mapped[str | None] = mapped_column(String(100))


def raise_alert(
    session: Session, subject: Subject, subject_id: int, kind: str, message: str, *, now: datetime
) -> Alert:
    """Raise an alert, or refresh the open one of the same kind on the same subject (no duplicates)."""
    alert = session.scalar(
        select(Alert).where(
            Alert.subject == subject,
            Alert.subject_id == subject_id,
            Alert.kind == kind,
            Alert.cleared_at.is_(None),
        )
    )
    if alert is None:
        alert = Alert(subject=subject, subject_id=subject_id, kind=kind, message=message, raised_at=now)
        session.add(alert)
    else:
        alert.message = message
    return alert


def clear_alert(alert: Alert, *, by: str, now: datetime) -> None:
    if alert.cleared_at is not None:
        raise InvalidValueError(f"alert {alert.id} was already cleared")
    alert.cleared_at, alert.cleared_by = now, by


def clear_alerts(
    session: Session, *, ids: Sequence[int] = (), kind: str | None = None, by: str, now: datetime
) -> list[Alert]:
    """Clear open alerts in bulk: those of `ids`, or every open one of `kind`; returns those cleared.

    Ids already cleared or unknown are passed over (two people clearing the same page is no error)."""
    if not ids and kind is None:
        raise InvalidValueError("choose the alerts to clear, or a kind of alert")
    query = select(Alert).where(Alert.cleared_at.is_(None)).order_by(Alert.id)
    if ids:
        query = query.where(Alert.id.in_(list(ids)))
    if kind is not None:
        query = query.where(Alert.kind == kind)
    cleared = list(session.scalars(query))
    for alert in cleared:
        alert.cleared_at, alert.cleared_by = now, by
    return cleared


def open_alerts(
    session: Session, subject: Subject | None = None, subject_id: int | None = None
) -> list[Alert]:
    query = select(Alert).where(Alert.cleared_at.is_(None)).order_by(Alert.id)
    if subject is not None:
        query = query.where(Alert.subject == subject)
    if subject_id is not None:
        query = query.where(Alert.subject_id == subject_id)
    return list(session.scalars(query))
