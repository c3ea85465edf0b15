"""Contacts for the contacts page: keyset-paged, with their order counts. Names stay sealed here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.book.contacts import Contact
from orderbridge.book.errors import NotFoundError
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.queries.paging import Page, decode, keyset_page, page_size
from orderbridge.clock import as_utc


@dataclass(frozen=True)
class ContactLine:
    id: int
    marketplace_id: str | None
    country: str | None
    created_at: datetime
    merged_into_id: int | None
    redacted: bool
    orders: int


def _contact_query() -> Any:
    orders = select(func.count(SalesOrder.id)).where(SalesOrder.contact_id == Contact.id).scalar_subquery()
    return select(
        Contact.id,
        Contact.marketplace_id,
        Contact.billing_country,
        Contact.created_at,
        Contact.merged_into_id,
        Contact.pii_redacted_at,
        orders.label("orders"),
    )


def _line(row: Any) -> ContactLine:
    return ContactLine(
        row.id,
        row.marketplace_id,
        row.billing_country,
        as_utc(row.created_at),
        row.merged_into_id,
        row.pii_redacted_at is not None,
        int(row.orders),
    )


def list_contacts(
    session: Session, *, marketplace_id: str | None = None, cursor: str | None = None, size: int | None = None
) -> Page[ContactLine]:
    """Contacts newest first. The order count is one index look-up per contact on the page."""
    query = _contact_query()
    if marketplace_id:
        query = query.where(Contact.marketplace_id == marketplace_id)
    return keyset_page(
        session,
        query,
        columns=(Contact.id,),
        key_of=lambda row: (row.id,),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        convert=_line,
    )


def contact_lines(session: Session, contact_ids: list[int]) -> list[ContactLine]:
    """The list's lines of the given contacts, newest first (a search's matches)."""
    if not contact_ids:
        return []
    query = _contact_query().where(Contact.id.in_(contact_ids)).order_by(Contact.id.desc())
    return [_line(row) for row in session.execute(query)]


@dataclass(frozen=True)
class ContactDetail:
    contact: Contact
    recent_orders: list[tuple[int, str, datetime]]


def contact_detail(session: Session, contact_id: int, *, orders: int = 20) -> ContactDetail:
    found = session.get(Contact, contact_id)
    if found is None:
        raise NotFoundError("contact", contact_id)
    recent = session.execute(
        select(SalesOrder.id, SalesOrder.external_ref, SalesOrder.placed_at)
        .where(SalesOrder.contact_id == contact_id)
        .order_by(SalesOrder.placed_at.desc(), SalesOrder.id.desc())
        .limit(orders)
    )
    return ContactDetail(found, [(row[0], row[1], as_utc(row[2])) for row in recent])
