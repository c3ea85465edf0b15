"""Alerts: things a person must look at and clear (an unconnected listing, a cancellation after Ready)."""

from __future__ import annotations

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


def open_alerts(
    session: Session, subject: Subject | None = None, subject_id: int | None = None
) -> list[Alert]:
    query = select(Alert).where(Alert.cleared_at.is_(None)).order_by(Alert.id)
    if subject is not None:
        query = query.where(Alert.subject == subject)
    if subject_id is not None:
        query = query.where(Alert.subject_id == subject_id)
    return list(session.scalars(query))
