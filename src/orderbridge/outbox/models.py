"""Outbox messages and every attempt to deliver them (the audit trail `orderbridge outbox list` shows)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId, Json


class MessageKind(StrEnum):
    """What happened in the book (past tense): the receiver decides what to tell its system."""

    ORDER_SHIPPED = "order_shipped"  # payload: shipment_id, revision (+1 per correction); key: the order
    STOCK_CHANGED = "stock_changed"  # subject: the product; key: the product
    STOCK_RECOUNT = "stock_recount"  # the nightly full push of every listing (subject 0)


class MessageStatus(StrEnum):
    PENDING = "pending"  # waiting to be sent (again, once `due_at` has passed)
    SENDING = "sending"  # claimed by a sender: it may have reached Amazon (checked before resending)
    SENT = "sent"  # delivered and accepted
    FAILED = "failed"  # refused for good: an alert says why; `outbox retry` sends it again
    SKIPPED = "skipped"  # nothing to send (an FBA order, SFP confirmed elsewhere): `result` says why


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_status_due", "status", "due_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[MessageKind] = mapped_column(String(30))
    key: Mapped[str] = mapped_column(String(100), index=True)  # messages of one key go in id order
    subject_id: Mapped[int] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    status: Mapped[MessageStatus] = mapped_column(String(20), default=MessageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Empty: due now. A retry sets it on the sender's clock (the sandbox's, for sandbox accounts).
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_error: Mapped[str | None] = mapped_column(String(1000))
    result: Mapped[dict[str, Any] | None] = mapped_column(Json)

    attempts_log: Mapped[list[OutboxAttempt]] = relationship(
        order_by="OutboxAttempt.id", cascade="all, delete-orphan", lazy="selectin"
    )


class OutboxAttempt(Base):
    """One delivery attempt: when, how it ended, the HTTP status and Amazon's answer (never buyer data)."""

    __tablename__ = "outbox_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    outcome: Mapped[str] = mapped_column(String(20))
    http_status: Mapped[int] = mapped_column(Integer, default=0)
    detail: Mapped[str] = mapped_column(String(1000), default="")
