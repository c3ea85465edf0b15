"""Settlements for the web UI and API: newest deposit first with their reconciliation, one in detail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.book.channels import Channel
from orderbridge.book.errors import InvalidValueError
from orderbridge.book.queries.paging import Page, decode, keyset_page, page_size
from orderbridge.book.settlements import (
    KindTotal,
    Settlement,
    SettlementStatus,
    totals_by_kind,
    unknown_order_count,
    unknown_orders,
    unknown_refs,
)
from orderbridge.book.settlements import SettlementLine as BookedLine
from orderbridge.clock import as_utc


@dataclass(frozen=True)
class SettlementLine:
    """One settlement as the list shows it."""

    id: int
    reference: str
    channel: str | None
    currency: str
    period_start: datetime | None
    period_end: datetime | None
    deposit_date: datetime | None
    deposit_total: Decimal
    lines_total: Decimal
    status: str
    source: str

    @property
    def difference(self) -> Decimal:
        return self.deposit_total - self.lines_total


@dataclass(frozen=True)
class SettlementDetail:
    settlement: SettlementLine
    reconciled_at: datetime | None
    totals: list[KindTotal]
    unknown_orders: list[str]  # every one (the API's detail); empty when asked for the count only
    unknown_count: int


def _optional(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


def parse_settlement_status(value: str | None) -> SettlementStatus | None:
    """A status filter from a query string, or InvalidValueError naming the known ones."""
    if not value:
        return None
    try:
        return SettlementStatus(value)
    except ValueError:
        known = ", ".join(s.value for s in SettlementStatus)
        raise InvalidValueError(f"unknown settlement status {value!r} (known: {known})") from None


def _columns() -> Any:
    return select(
        Settlement.id,
        Settlement.reference,
        Channel.name,
        Settlement.currency,
        Settlement.period_start,
        Settlement.period_end,
        Settlement.deposit_date,
        Settlement.deposit_total,
        Settlement.lines_total,
        Settlement.status,
        Settlement.source,
    ).outerjoin(Channel, Channel.id == Settlement.channel_id)


def _line(row: Any) -> SettlementLine:
    return SettlementLine(
        id=row[0],
        reference=row[1],
        channel=row[2],
        currency=row[3],
        period_start=_optional(row[4]),
        period_end=_optional(row[5]),
        deposit_date=_optional(row[6]),
        deposit_total=Decimal(row[7]),
        lines_total=Decimal(row[8]),
        status=str(row[9]),
        source=row[10],
    )


def list_settlements(
    session: Session,
    *,
    status: SettlementStatus | None = None,
    cursor: str | None = None,
    size: int | None = None,
) -> Page[SettlementLine]:
    """Settlements newest first (by id: the order they arrived in), optionally in one status."""
    query = _columns()
    if status is not None:
        query = query.where(Settlement.status == status)
    return keyset_page(
        session,
        query,
        columns=(Settlement.id,),
        key_of=lambda row: (row[0],),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        convert=_line,
    )


def settlement_detail(
    session: Session, settlement_id: int, *, list_unknown: bool = True
) -> SettlementDetail | None:
    """One settlement: its lines summed by kind, the difference to the deposit, orders not in the book
    (all of them, or only how many with `list_unknown=False`: a page pages them, `unknown_orders_page`)."""
    row = session.execute(_columns().where(Settlement.id == settlement_id)).first()
    if row is None:
        return None
    reconciled = session.scalar(select(Settlement.reconciled_at).where(Settlement.id == settlement_id))
    return SettlementDetail(
        settlement=_line(row),
        reconciled_at=_optional(reconciled),
        totals=totals_by_kind(session, settlement_id),
        unknown_orders=unknown_orders(session, settlement_id) if list_unknown else [],
        unknown_count=unknown_order_count(session, settlement_id),
    )


def unknown_orders_page(
    session: Session, settlement_id: int, *, cursor: str | None = None, size: int | None = None
) -> Page[str]:
    """The order ids a settlement names that the book does not have, A to Z, one keyset page at a time
    (a settlement may name tens of thousands)."""
    return keyset_page(
        session,
        unknown_refs(settlement_id).distinct(),
        columns=(BookedLine.order_ref,),
        key_of=lambda row: (row[0],),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        descending=False,
        convert=lambda row: str(row[0]),
    )


def unreconciled_count(session: Session) -> int:
    """Settlements whose lines do not add up to the deposit (the dashboard's tile)."""
    query = select(func.count()).where(Settlement.status == SettlementStatus.UNBALANCED)
    return int(session.scalar(query) or 0)
