"""The header's search: one box for an Amazon order id, a SKU, a contact (by number, or by e-mail) and,
for those who may read buyer data, a buyer's name; one page of matches grouped by kind.

Names and e-mails are found only through privacy's blind indexes of live buyer data (web/names.py), so
a redacted buyer is never found, nothing plain is stored, and each such look-up is audited. The page
itself shows no buyer data: matches link to the order or contact page, which reveals (audited) or masks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from orderbridge.amazon.queries import listings_page
from orderbridge.book.contacts import Contact
from orderbridge.book.queries.catalog import list_products
from orderbridge.book.queries.contacts import ContactLine, contact_lines
from orderbridge.book.queries.orders import OrderFilter, list_orders
from orderbridge.privacy.blind_index import normalise_name
from orderbridge.privacy.errors import PrivacyError
from orderbridge.web.deps import Db, Principal, require, web_context
from orderbridge.web.names import LiveNameIndex
from orderbridge.web.pages.rendering import page
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.ORDERS_READ)]
SHOWN = 10  # matches per group; "all" links to the list that pages the rest
LONGEST = 200


@dataclass
class Group:
    """One kind of match: its heading, the first few, and the list page holding them all."""

    title: str
    items: list[Any] = field(default_factory=list)
    more: str | None = None  # link to every match when there are more than shown


@dataclass
class Found:
    orders: Group = field(default_factory=lambda: Group("Orders"))
    by_sku: Group = field(default_factory=lambda: Group("Orders with this SKU"))
    products: Group = field(default_factory=lambda: Group("Products"))
    listings: Group = field(default_factory=lambda: Group("Amazon listings"))
    contacts: Group = field(default_factory=lambda: Group("Contacts"))
    by_name: Group = field(default_factory=lambda: Group("Orders of buyers with this name"))

    @property
    def groups(self) -> list[Group]:
        every = [self.orders, self.by_sku, self.by_name, self.products, self.listings, self.contacts]
        return [group for group in every if group.items]


def _fill_orders(
    group: Group, session: Session, wanted: OrderFilter, names: LiveNameIndex | None, *, by: str, text: str
) -> None:
    found = list_orders(session, wanted, size=SHOWN, names=names)
    group.items = found.items
    group.more = f"/orders?{urlencode({'by': by, 'q': text})}" if found.next_cursor else None


def _contacts(session: Session, principal: Principal, names: LiveNameIndex, text: str) -> list[ContactLine]:
    ids: list[int] = []
    if text.isdigit() and len(text) < 19 and session.get(Contact, int(text)) is not None:
        ids.append(int(text))
    if principal.can(Permission.PII_READ):
        if "@" in text:
            ids += names.contact_ids_by_email(session, text)
        elif normalise_name(text):
            ids += names.contact_ids(session, text)
    return contact_lines(session, list(dict.fromkeys(ids))[:SHOWN])


def find_everything(session: Session, principal: Principal, names: LiveNameIndex, text: str) -> Found:
    """Every kind of match the searcher may see for `text` (exact ids and SKUs; SKU prefixes for
    products; names and e-mails exactly, after normalising, and only with pii:read)."""
    found = Found()
    if principal.can(Permission.ORDERS_READ):
        _fill_orders(found.orders, session, OrderFilter(reference=text), None, by="order", text=text)
        _fill_orders(found.by_sku, session, OrderFilter(sku=text), None, by="sku", text=text)
        if principal.can(Permission.PII_READ) and "@" not in text and normalise_name(text):
            _fill_orders(found.by_name, session, OrderFilter(name=text), names, by="name", text=text)
    if principal.can(Permission.CATALOG_READ):
        products = list_products(session, search=text, size=SHOWN)
        found.products.items = products.items
        found.products.more = f"/products?{urlencode({'q': text})}" if products.next_cursor else None
        listings = listings_page(session, sku=text, size=SHOWN)
        found.listings.items = listings.items
        found.listings.more = f"/listings?{urlencode({'sku': text})}" if listings.next_cursor else None
    if principal.can(Permission.CONTACTS_READ):
        found.contacts.items = _contacts(session, principal, names, text)
    return found


@router.get("/search", response_class=HTMLResponse)
def search(request: Request, session: Db, principal: Reader) -> HTMLResponse:
    text = " ".join(request.query_params.get("q", "").split())
    problem = ""
    found = Found()
    if len(text) > LONGEST:
        problem, text = f"a search is at most {LONGEST} characters", ""
    names = LiveNameIndex(
        actor=principal.actor,
        channel=principal.channel,
        clock=web_context(request).clock,
        purpose="global_search_by_name",
    )
    if text:
        try:
            found = find_everything(session, principal, names, text)
        except PrivacyError as error:
            problem = str(error)
    return page(
        request,
        "pages/search.html",
        {
            "q": text,
            "found": found,
            "problem": problem,
            "by_name": principal.can(Permission.PII_READ),
        },
        status=400 if problem else 200,
    )
