"""What became of each Amazon order: its book order, state, last version applied, or why it was skipped."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId


class BookedState(StrEnum):
    PENDING = "pending"  # booked while Pending at Amazon (O2): still to be made Ready
    READY = "ready"  # booked Ready: later changes at Amazon only raise alerts (O22)
    CANCELLED = "cancelled"  # cancelled while Pending (O21)
    SKIPPED = "skipped"  # not a sale the book takes (O19); `reason` says why


class AmazonOrderRecord(Base):
    """One Amazon order per channel: applying the same or an older version again changes nothing."""

    __tablename__ = "amazon_order_records"
    __table_args__ = (UniqueConstraint("channel_id", "amazon_order_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    amazon_order_id: Mapped[str] = mapped_column(String(60))
    order_id: Mapped[int | None] = mapped_column(
        ForeignKey("sales_orders.id", ondelete="SET NULL"), index=True
    )
    state: Mapped[BookedState] = mapped_column(String(20))
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str | None] = mapped_column(String(500))
    seller_fulfilled_prime: Mapped[bool] = mapped_column(Boolean, default=False)
    skip_shipment_confirmation: Mapped[bool] = mapped_column(Boolean, default=False)
    recorded_at: Mapped[datetime] = mapped_column(UtcDateTime())


def order_record(session: Session, channel_id: int, amazon_order_id: str) -> AmazonOrderRecord | None:
    return session.scalar(
        select(AmazonOrderRecord).where(
            AmazonOrderRecord.channel_id == channel_id, AmazonOrderRecord.amazon_order_id == amazon_order_id
        )
    )


def skipped_orders(session: Session, channel_id: int | None = None) -> list[AmazonOrderRecord]:
    """O19: the orders not booked as sales, with their reasons, for the operator."""
    query = select(AmazonOrderRecord).where(AmazonOrderRecord.state == BookedState.SKIPPED)
    if channel_id is not None:
        query = query.where(AmazonOrderRecord.channel_id == channel_id)
    return list(session.scalars(query.order_by(AmazonOrderRecord.recorded_at, AmazonOrderRecord.id)))
