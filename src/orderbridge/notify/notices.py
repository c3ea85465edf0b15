"""Notices to the seller: written in the transaction of the book change that caused them, once per event.

A notice's `event_key` is unique, so the same event (a shipment's over-receipt of one SKU, say) queued
twice is stored once. Sending happens after the commit (`mail.send_pending`), so nothing is sent that
the book did not keep, and a notice whose sending failed stays pending for the next run.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId


class Notice(Base):
    __tablename__ = "notices"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_key: Mapped[str] = mapped_column(String(300), unique=True)
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(300))
    # Seller-facing text naming shipments, SKUs and units; never buyer data (those notices are not made).
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    recipients: Mapped[str | None] = mapped_column(String(1000))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))


def queue_notice(
    session: Session, *, event_key: str, kind: str, subject: str, body: str, now: datetime
) -> Notice | None:
    """Queue a notice for an event; None when that event has a notice already (once per event)."""
    # The query autoflushes, so a notice queued earlier in this unit of work is seen too.
    if session.scalar(select(Notice.id).where(Notice.event_key == event_key)) is not None:
        return None
    notice = Notice(event_key=event_key, kind=kind, subject=subject, content=body, created_at=now, attempts=0)
    session.add(notice)
    return notice


def pending_notices(session: Session, *, limit: int = 100) -> list[Notice]:
    query = select(Notice).where(Notice.sent_at.is_(None)).order_by(Notice.id).limit(limit)
    return list(session.scalars(query))


def notices(session: Session, *, kind: str | None = None) -> list[Notice]:
    query = select(Notice).order_by(Notice.id)
    if kind is not None:
        query = query.where(Notice.kind == kind)
    return list(session.scalars(query))
