"""Read queries over the outbox for the web UI and API: messages newest first, an order's messages, counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from orderbridge.book.catalog import Product
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.queries.paging import Page, decode, keyset_page, page_size
from orderbridge.clock import as_utc
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage


@dataclass(frozen=True)
class AttemptLine:
    at: datetime
    outcome: str
    http_status: int
    detail: str


@dataclass(frozen=True)
class MessageLine:
    """One message; `answer` is Amazon's last word on it (the result, or the last error)."""

    id: int
    kind: str
    key: str
    subject_id: int
    status: str
    attempts: int
    created_at: datetime
    due_at: datetime | None
    finished_at: datetime | None
    last_error: str | None
    result: dict[str, Any] | None
    history: tuple[AttemptLine, ...] = ()
    order_ref: str | None = None  # the channel's order id of a shipment confirmation (lists only)
    sku: str | None = None  # the product's SKU of a stock update (lists only)

    @property
    def retryable(self) -> bool:
        return self.status in (MessageStatus.FAILED, MessageStatus.SKIPPED)

    @property
    def order_id(self) -> int | None:
        return self.subject_id if self.kind == MessageKind.ORDER_SHIPPED else None


def _optional(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def _line(
    message: OutboxMessage, *, history: bool = False, order_ref: str | None = None, sku: str | None = None
) -> MessageLine:
    return MessageLine(
        id=message.id,
        kind=str(message.kind),
        key=message.key,
        subject_id=message.subject_id,
        status=str(message.status),
        attempts=message.attempts,
        created_at=as_utc(message.created_at),
        due_at=_optional(message.due_at),
        finished_at=_optional(message.finished_at),
        last_error=message.last_error,
        result=dict(message.result) if message.result is not None else None,
        history=tuple(
            AttemptLine(as_utc(a.at), a.outcome, a.http_status, a.detail) for a in message.attempts_log
        )
        if history
        else (),
        order_ref=order_ref,
        sku=sku,
    )


def parse_status(value: str | None) -> MessageStatus | None:
    """A status filter from a query string, or ValueError naming the known ones."""
    if not value:
        return None
    try:
        return MessageStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in MessageStatus)
        raise ValueError(f"unknown outbox status {value!r} (known: {known})") from None


def messages_page(
    session: Session,
    *,
    status: MessageStatus | None = None,
    cursor: str | None = None,
    size: int | None = None,
) -> Page[MessageLine]:
    """Messages newest first, optionally in one status (the status index serves the filter)."""
    query = (
        select(OutboxMessage, SalesOrder.external_ref, Product.sku)
        .outerjoin(
            SalesOrder,
            and_(SalesOrder.id == OutboxMessage.subject_id, OutboxMessage.kind == MessageKind.ORDER_SHIPPED),
        )
        .outerjoin(
            Product,
            and_(Product.id == OutboxMessage.subject_id, OutboxMessage.kind == MessageKind.STOCK_CHANGED),
        )
    )
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    return keyset_page(
        session,
        query,
        columns=(OutboxMessage.id,),
        key_of=lambda row: (row[0].id,),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        convert=lambda row: _line(row[0], order_ref=row[1], sku=row[2]),
    )


def message(session: Session, message_id: int) -> MessageLine | None:
    found = session.get(OutboxMessage, message_id)
    if found is None:
        return None
    ref = sku = None
    if found.kind == MessageKind.ORDER_SHIPPED:
        ref = session.scalar(select(SalesOrder.external_ref).where(SalesOrder.id == found.subject_id))
    if found.kind == MessageKind.STOCK_CHANGED:
        sku = session.scalar(select(Product.sku).where(Product.id == found.subject_id))
    return _line(found, history=True, order_ref=ref, sku=sku)


def order_messages(session: Session, order_id: int) -> list[MessageLine]:
    """The shipment confirmations of one order, oldest first, with every attempt (indexed by key)."""
    query = select(OutboxMessage).where(OutboxMessage.key == f"order:{order_id}").order_by(OutboxMessage.id)
    return [_line(found, history=True) for found in session.scalars(query)]


def failed_counts(session: Session) -> dict[str, int]:
    """Failed messages per kind (a range of the status index)."""
    query = (
        select(OutboxMessage.kind, func.count())
        .where(OutboxMessage.status == MessageStatus.FAILED)
        .group_by(OutboxMessage.kind)
    )
    return {str(kind): int(count) for kind, count in session.execute(query)}
