"""Sales credits (returns and refunds) for the returns page: keyset-paged, newest first."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.book.credits import CreditRow, SalesCredit
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.queries.paging import Page, decode, keyset_page, page_size
from orderbridge.clock import as_utc


@dataclass(frozen=True)
class CreditLine:
    id: int
    order_id: int
    order_reference: str
    reference: str
    reason: str | None
    created_at: datetime
    restock: bool
    units: int
    currency: str
    total_net: Decimal
    total_tax: Decimal
    payment_status: str

    @property
    def total_gross(self) -> Decimal:
        return self.total_net + self.total_tax


def list_credits(
    session: Session, *, restock: bool | None = None, cursor: str | None = None, size: int | None = None
) -> Page[CreditLine]:
    """Credits newest first; `restock` True lists returns (units back on hand), False refunds only."""
    units = (
        select(func.coalesce(func.sum(CreditRow.quantity), 0))
        .where(CreditRow.credit_id == SalesCredit.id)
        .scalar_subquery()
    )
    query = select(
        SalesCredit.id,
        SalesCredit.order_id,
        SalesOrder.external_ref,
        SalesCredit.reference,
        SalesCredit.reason,
        SalesCredit.created_at,
        SalesCredit.restock,
        units.label("units"),
        SalesCredit.currency,
        SalesCredit.total_net,
        SalesCredit.total_tax,
        SalesCredit.payment_status,
    ).join(SalesOrder, SalesOrder.id == SalesCredit.order_id)
    if restock is not None:
        query = query.where(SalesCredit.restock.is_(restock))

    def line(row: Any) -> CreditLine:
        values = list(row)
        values[5] = as_utc(values[5])
        values[7] = int(values[7])
        values[11] = str(values[11])
        return CreditLine(*values)

    return keyset_page(
        session,
        query,
        columns=(SalesCredit.id,),
        key_of=lambda row: (row[0],),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        convert=line,
    )
