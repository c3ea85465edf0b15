"""/api/v1/contacts: contacts without buyer data, and one contact whose PII shows only with pii:read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from orderbridge.book.queries.contacts import ContactLine, contact_detail, list_contacts
from orderbridge.web.api.paging import ApiPage, CursorParam, SizeParam, cursor_checked, page_of
from orderbridge.web.deps import Context, CurrentUser, Db, require
from orderbridge.web.pii import MASKED, fields_of, show_pii
from orderbridge.web.roles import Permission

router = APIRouter(prefix="/contacts", tags=["contacts"], dependencies=[require(Permission.CONTACTS_READ)])


class ContactOut(BaseModel):
    id: int
    marketplace_id: str | None
    country: str | None
    created_at: datetime
    merged_into_id: int | None
    redacted: bool
    orders: int


@router.get("", summary="Contacts, newest first (no buyer data)")
def contacts_list(
    db: Db,
    marketplace_id: Annotated[str | None, Query(max_length=20)] = None,
    cursor: CursorParam = None,
    size: SizeParam = 50,
) -> ApiPage[ContactOut]:
    with cursor_checked():
        page = list_contacts(db, marketplace_id=marketplace_id or None, cursor=cursor, size=size)

    def convert(line: ContactLine) -> ContactOut:
        return ContactOut(**line.__dict__)

    return page_of(page, convert)


class ContactDetailOut(BaseModel):
    id: int
    marketplace_id: str | None
    country: str | None
    redacted: bool
    pii: dict[str, str | None] = Field(
        description=f"Buyer data: plaintext with pii:read (audited), '{MASKED}' without, '[Redacted]' once "
        "removed."
    )
    pii_visible: bool
    recent_orders: list[int]


@router.get("/{contact_id}", summary="One contact; its buyer data only with pii:read (audited)")
def contact_get(
    db: Db, context: Context, principal: CurrentUser, contact_id: Annotated[int, Path(ge=1, le=2**62)]
) -> ContactDetailOut:
    detail = contact_detail(db, contact_id)
    contact = detail.contact
    shown = show_pii(db, principal, contact, fields_of(contact), purpose="api_contact", clock=context.clock)
    return ContactDetailOut(
        id=contact.id,
        marketplace_id=contact.marketplace_id,
        country=contact.billing_country,
        redacted=contact.pii_redacted_at is not None,
        pii=shown,
        pii_visible=principal.can(Permission.PII_READ),
        recent_orders=[order_id for order_id, _, _ in detail.recent_orders],
    )
