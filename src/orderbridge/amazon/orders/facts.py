"""The book's facts an Amazon order needs before mapping: connected listings, tax codes, matched contact."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.channel import ChannelBook, CustomerMode
from orderbridge.amazon.listings import Listing, listings_by_sku
from orderbridge.amazon.orders.mapping.commands import ContactMatch, ListingFact, OrderFacts, TaxChoice
from orderbridge.amazon.orders.mapping.customer import buyer_email
from orderbridge.amazon.orders.mapping.fields import MappingError, Reader
from orderbridge.amazon.orders.mapping.order import READY
from orderbridge.book.contacts import Contact
from orderbridge.book.orders.model import OrderStatus, SalesOrder
from orderbridge.book.tax import pick_tax_code, tax_code
from orderbridge.privacy.blind_index import BlindIndexer, IndexKind
from orderbridge.privacy.sealing import open_address

# C4/C5: a buyer matches a contact while its last Amazon sale is at most this old.
MATCH_WINDOW = timedelta(days=30)

EmailKey = Callable[[str, str], str]
"""(buyer e-mail, marketplace id) -> the e-mail's matching key, as stored in Contact.email_key."""


class BlindEmailKey:
    """Matching keys from the privacy blind index (keyed HMAC per seller and marketplace; C4, C8)."""

    def __init__(self, indexer: BlindIndexer, seller: str) -> None:
        self.indexer = indexer
        self.seller = seller

    def __call__(self, email: str, marketplace_id: str) -> str:
        return self.indexer.index(
            IndexKind.EMAIL, email, seller=self.seller, marketplace=marketplace_id
        ).hex()

    def for_page(self) -> EmailKey:
        """The same keys, with the index key looked up once per marketplace for one page of orders."""
        pinned: dict[str, Callable[[str], bytes]] = {}

        def key(email: str, marketplace_id: str) -> str:
            if marketplace_id not in pinned:
                pinned[marketplace_id] = self.indexer.pinned(
                    IndexKind.EMAIL, seller=self.seller, marketplace=marketplace_id
                )
            return pinned[marketplace_id](email).hex()

        return key


def blind_email_key(indexer: BlindIndexer, seller: str) -> EmailKey:
    """Matching keys from the privacy blind index (keyed HMAC per seller and marketplace; C4, C8)."""
    return BlindEmailKey(indexer, seller)


TaxCache = dict[tuple[str | None, str | None], TaxChoice | None]
"""Tax choices by (ship-to country, tax class), kept for one page of orders of one channel."""


@dataclass
class Lookup:
    """What a page of one channel's orders needs from the book, loaded with one query per kind."""

    book: ChannelBook
    email_key: EmailKey | None
    listings: dict[str, Listing] = field(default_factory=dict)
    without_email: bool = False  # a Ready order with no buyer e-mail (FBA) is in the page
    candidates: dict[str, list[tuple[Contact, datetime | None]]] = field(default_factory=dict)
    tax_cache: TaxCache = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)

    def key_of(self, r: Reader) -> str | None:
        email = buyer_email(r)
        if not email or self.email_key is None:
            return None
        if email not in self.keys:
            self.keys[email] = self.email_key(email, self.book.marketplace_id)
        return self.keys[email]


def lookup(
    session: Session, docs: Sequence[object], book: ChannelBook, *, email_key: EmailKey | None
) -> Lookup:
    """Listings and candidate contacts of a page; a malformed order is left for `map_order` to name."""
    found = Lookup(book, email_key.for_page() if isinstance(email_key, BlindEmailKey) else email_key)
    skus: set[str] = set()
    keys: set[str] = set()
    for doc in docs:
        try:
            r = Reader(doc)
            skus.update(_skus(r))
            key = found.key_of(r)
            found.without_email |= buyer_email(r) is None and _is_ready(r)
        except MappingError:
            continue
        if key is not None:
            keys.add(key)
    found.listings = listings_by_sku(session, book.channel_id, skus)
    if keys and book.settings.customer_mode == CustomerMode.CREATE_CONTACTS:
        found.candidates = _candidates(session, book.marketplace_id, keys)
    return found


def _is_ready(r: Reader) -> bool:
    status = r.text(r.doc, "fulfillment.fulfillmentStatus", "fulfillment.fulfillmentStatus")
    return status in READY


def _skus(r: Reader) -> list[str]:
    items = r.items(r.doc, "orderItems", "orderItems")
    found = [
        r.text(item, "product.sellerSku", f"orderItems.{n}.product.sellerSku") for n, item in enumerate(items)
    ]
    return [sku for sku in found if sku]


def facts_for(session: Session, found: Lookup, doc: object) -> OrderFacts:
    """One order's facts from the page's look-ups (tax codes picked once per country and class)."""
    r = Reader(doc)
    book = found.book
    listings = {
        sku: ListingFact(
            product_id=listing.product.id,
            name=listing.product.name,
            is_bundle=listing.product.is_bundle,
            tax_class=listing.product.tax_class,
            sales_nominal_code=listing.product.sales_nominal_code,
        )
        for sku in _skus(r)
        if (listing := found.listings.get(sku)) is not None and listing.product is not None
    }
    country = r.text(r.doc, "recipient.deliveryAddress.countryCode", "recipient.deliveryAddress.countryCode")
    tax: dict[str | None, TaxChoice] = {}
    for tax_class in {fact.tax_class for fact in listings.values()} | {None}:
        if (country, tax_class) not in found.tax_cache:
            found.tax_cache[country, tax_class] = _tax_choice(
                session, book.marketplace_id, country, tax_class
            )
        choice = found.tax_cache[country, tax_class]
        if choice is not None:
            tax[tax_class] = choice
    key = found.key_of(r)
    match = None
    if key is not None and key in found.candidates:
        match = _pick(session, found.candidates[key], at=r.timestamp(r.doc, "createdTime", "createdTime"))
    return OrderFacts(listings=listings, tax=tax, contact=match, email_key=key)


def _tax_choice(
    session: Session, marketplace_id: str, country: str | None, tax_class: str | None
) -> TaxChoice | None:
    """O13: the tax code the tax rules pick for this marketplace, ship-to country and tax class."""
    code = pick_tax_code(session, marketplace=marketplace_id, ship_to_country=country, tax_class=tax_class)
    return TaxChoice(code, tax_code(session, code).rate) if code is not None else None


def match_contact(
    session: Session, marketplace_id: str, email_key: str, *, at: datetime
) -> ContactMatch | None:
    """C4/C8: the contact of this marketplace whose stored e-mail key matches and whose last Amazon sale
    is within 30 days (an order still open counts as now). C11: a changed e-mail has no key."""
    return _pick(session, _candidates(session, marketplace_id, {email_key}).get(email_key, []), at=at)


def _pick(
    session: Session, candidates: list[tuple[Contact, datetime | None]], *, at: datetime
) -> ContactMatch | None:
    """C10: the order takes the contact's billing address, opened so that the order seals it as its own."""
    for contact, last in candidates:
        if last is None or at - last <= MATCH_WINDOW:
            return ContactMatch(contact.id, open_address(session, contact, "billing"))
    return None


def _candidates(
    session: Session, marketplace_id: str, keys: set[str]
) -> dict[str, list[tuple[Contact, datetime | None]]]:
    """Contacts by e-mail key, newest first, each with when its last Amazon sale ended (None: still open)."""
    contacts = session.scalars(
        select(Contact)
        .where(
            Contact.email_key.in_(sorted(keys)),
            Contact.marketplace_id == marketplace_id,
            Contact.merged_into_id.is_(None),
        )
        .order_by(Contact.id.desc())
    ).all()
    if not contacts:
        return {}
    last: dict[int, datetime | None] = {contact.id: contact.created_at for contact in contacts}
    query = (
        select(
            SalesOrder.contact_id,
            SalesOrder.placed_at,
            SalesOrder.shipped_at,
            SalesOrder.cancelled_at,
            OrderStatus.is_cancelled,
        )
        .join(OrderStatus, OrderStatus.id == SalesOrder.status_id)
        .where(SalesOrder.contact_id.in_(list(last)))
    )
    for contact_id, placed, shipped, cancelled_at, is_cancelled in session.execute(query):
        if shipped is None and cancelled_at is None and not is_cancelled:
            last[contact_id] = None  # an order still open: the buyer's data is still needed
        elif (current := last[contact_id]) is not None:
            last[contact_id] = max(current, shipped or cancelled_at or placed)
    found: dict[str, list[tuple[Contact, datetime | None]]] = {}
    for contact in contacts:
        assert contact.email_key is not None
        found.setdefault(contact.email_key, []).append((contact, last[contact.id]))
    return found
