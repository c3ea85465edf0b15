"""What needs a person, as far as the book knows: open alerts by kind, and orders past their retention."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from orderbridge.book.alerts import Alert
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.queries.paging import AnySelect, Page, decode, keyset_page, page_size
from orderbridge.clock import as_utc


def open_alert_counts(session: Session) -> dict[str, int]:
    """Open alerts per kind (cancelled_after_ready, pending_too_long, unconnected listings ...)."""
    query: AnySelect = select(Alert.kind, func.count()).where(Alert.cleared_at.is_(None)).group_by(Alert.kind)
    return {str(kind): int(count) for kind, count in session.execute(query)}


@dataclass(frozen=True)
class AlertLine:
    id: int
    subject: str
    subject_id: int
    kind: str
    message: str
    raised_at: datetime


def open_alerts_page(
    session: Session, *, kind: str | None = None, cursor: str | None = None, size: int | None = None
) -> Page[AlertLine]:
    query = select(
        Alert.id, Alert.subject, Alert.subject_id, Alert.kind, Alert.message, Alert.raised_at
    ).where(Alert.cleared_at.is_(None))
    if kind:
        query = query.where(Alert.kind == kind)

    def line(row: Any) -> AlertLine:
        return AlertLine(row[0], str(row[1]), row[2], row[3], row[4], as_utc(row[5]))

    return keyset_page(
        session,
        query,
        columns=(Alert.id,),
        key_of=lambda row: (row[0],),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        convert=line,
    )


def orders_past_retention(session: Session, channel_ids: Sequence[int], *, cutoff: datetime) -> int:
    """Orders of these channels still holding PII whose retention anchor is before `cutoff` (must be 0).

    The same set as privacy's `anchored_before`, split by whether the order shipped so that each half is
    a range scan of a (pii_redacted_at, shipped_at|cancelled_at) index instead of a table scan.
    """
    if not channel_ids:
        return 0
    live = (SalesOrder.pii_redacted_at.is_(None), SalesOrder.channel_id.in_(list(channel_ids)))
    shipped = select(func.count()).where(
        *live,
        SalesOrder.shipped_at < cutoff,
        SalesOrder.cancelled_at.is_(None) | (SalesOrder.cancelled_at < cutoff),
    )
    cancelled = select(func.count()).where(
        *live, SalesOrder.cancelled_at < cutoff, SalesOrder.shipped_at.is_(None)
    )
    # Shipped or cancelled at the channel (O24) and not already counted above: the first fact counts.
    shipped_at, cancelled_at = SalesOrder.shipped_at, SalesOrder.cancelled_at
    book_not_due = and_(  # NOT (either half above), written NULL-safe
        or_(
            shipped_at.is_(None),
            shipped_at >= cutoff,
            and_(cancelled_at.is_not(None), cancelled_at >= cutoff),
        ),
        or_(cancelled_at.is_(None), cancelled_at >= cutoff, shipped_at.is_not(None)),
    )
    channel_shipped = select(func.count()).where(*live, SalesOrder.channel_shipped_at < cutoff, book_not_due)
    channel_cancelled = select(func.count()).where(
        *live,
        SalesOrder.channel_cancelled_at < cutoff,
        book_not_due,
        or_(SalesOrder.channel_shipped_at.is_(None), SalesOrder.channel_shipped_at >= cutoff),
    )
    return sum(
        int(session.scalar(query) or 0) for query in (shipped, cancelled, channel_shipped, channel_cancelled)
    )
