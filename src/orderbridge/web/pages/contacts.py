"""Contacts: the list (no buyer data in it) and a contact's page (buyer data revealed, audited, or masked)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from orderbridge.book.errors import BookError, NotFoundError
from orderbridge.book.queries.contacts import contact_detail, list_contacts
from orderbridge.web.deps import Db, Principal, require
from orderbridge.web.pages.rendering import back_to, buyer_data, not_found, page, pager
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.CONTACTS_READ)]
CONTACT_FIELDS = (
    "first_name",
    "last_name",
    "company_name",
    "email",
    "phone",
    "billing_line1",
    "billing_line2",
    "billing_city",
    "billing_postcode",
)


@router.get("/contacts", response_class=HTMLResponse)
def contacts(request: Request, session: Db, principal: Reader) -> Response:
    marketplace = request.query_params.get("marketplace") or None
    try:
        found = list_contacts(session, marketplace_id=marketplace, cursor=request.query_params.get("cursor"))
    except BookError as error:
        return back_to("/contacts", problem=str(error))
    return page(request, "pages/contacts.html", {"found": found, "links": pager(request, found)})


@router.get("/contacts/{contact_id}", response_class=HTMLResponse)
def contact(contact_id: int, request: Request, session: Db, principal: Reader) -> Response:
    try:
        detail = contact_detail(session, contact_id)
    except NotFoundError as error:
        raise not_found(error) from None
    values = buyer_data(request, session, principal, detail.contact, CONTACT_FIELDS, purpose="contact_page")
    return page(request, "pages/contact.html", {"d": detail, "c": detail.contact, "v": values})
