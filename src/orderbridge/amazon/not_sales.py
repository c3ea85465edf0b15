"""Amazon orders the order download did not book as sales (O19: multi-channel fulfilment, unfulfillable,
replacement orders), for the report flows that meet those orders again: a return of a multi-channel
order is no credit, but its sellable unit is back in Amazon's hands all the same (F8)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.orders.records import AmazonOrderRecord, BookedState


@dataclass(frozen=True)
class NotASale:
    """An Amazon order the book skipped: the channel it came in on and why it is no sale."""

    amazon_order_id: str
    channel_id: int
    reason: str


def not_a_sale(session: Session, amazon_order_id: str) -> NotASale | None:
    """The order when the download skipped it as no sale of the book's; None when it was booked or has
    not been downloaded (yet)."""
    record = session.scalar(
        select(AmazonOrderRecord)
        .where(
            AmazonOrderRecord.amazon_order_id == amazon_order_id,
            AmazonOrderRecord.state == BookedState.SKIPPED,
            AmazonOrderRecord.order_id.is_(None),
        )
        .order_by(AmazonOrderRecord.id)
        .limit(1)
    )
    if record is None:
        return None
    return NotASale(amazon_order_id, record.channel_id, record.reason or "not a sale")
