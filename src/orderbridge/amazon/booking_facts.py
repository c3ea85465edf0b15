"""The book's facts an Amazon order needs before mapping: connected listings, tax codes, matched contact."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.channel import ChannelBook, CustomerMode
from orderbridge.amazon.listings import listings_by_sku
from orderbridge.amazon.mapping.commands import ContactMatch, ListingFact, OrderFacts, TaxChoice
from orderbridge.amazon.mapping.customer import buyer_email
from orderbridge.amazon.mapping.fields import Reader
from orderbridge.book.contacts import Contact
from orderbridge.book.orders.model import OrderStatus, SalesOrder
from orderbridge.book.tax import pick_tax_code, tax_code
from orderbridge.privacy.blind_index import BlindIndexer, IndexKind

# C4/C5: a buyer matches a contact while its last Amazon sale is at most this old.
MATCH_WINDOW = timedelta(days=30)

EmailKey = Callable[[str, str], str]
"""(buyer e-mail, marketplace id) -> the e-mail's matching key, as stored in Contact.email_key."""


def blind_email_key(indexer: BlindIndexer, seller: str) -> EmailKey:
    """Matching keys from the privacy blind index (keyed HMAC per seller and marketplace; C4, C8)."""

    def key(email: str, marketplace_id: str) -> str:
        return indexer.index(IndexKind.EMAIL, email, seller=seller, marketplace=marketplace_id).hex()

    return key


TaxCache = dict[tuple[str | None, str | None], TaxChoice | None]
"""Tax choices by (ship-to country, tax class), kept for one page of orders of one channel."""


def order_facts(
    session: Session,
    doc: object,
    book: ChannelBook,
    *,
    email_key: EmailKey | None,
    tax_cache: TaxCache | None = None,
) -> OrderFacts:
    """Look up what `map_order` needs for this order: a few queries, no writes."""
    r = Reader(doc)
    skus = [
        sku
        for n, item in enumerate(r.items(r.doc, "orderItems", "orderItems"))
        if (sku := r.text(item, "product.sellerSku", f"orderItems.{n}.product.sellerSku"))
    ]
    listings = {
        sku: ListingFact(
            product_id=listing.product.id,
            name=listing.product.name,
            is_bundle=listing.product.is_bundle,
            tax_class=listing.product.tax_class,
            sales_nominal_code=listing.product.sales_nominal_code,
        )
        for sku, listing in listings_by_sku(session, book.channel_id, skus).items()
        if listing.product is not None
    }
    country = r.text(r.doc, "recipient.deliveryAddress.countryCode", "recipient.deliveryAddress.countryCode")
    cache = tax_cache if tax_cache is not None else {}
    tax: dict[str | None, TaxChoice] = {}
    for tax_class in {fact.tax_class for fact in listings.values()} | {None}:
        if (country, tax_class) not in cache:
            cache[country, tax_class] = _tax_choice(session, book.marketplace_id, country, tax_class)
        choice = cache[country, tax_class]
        if choice is not None:
            tax[tax_class] = choice
    email = buyer_email(r)
    key = email_key(email, book.marketplace_id) if email and email_key is not None else None
    match = None
    if key is not None and book.settings.customer_mode == CustomerMode.CREATE_CONTACTS:
        placed = r.timestamp(r.doc, "createdTime", "createdTime")
        match = match_contact(session, book.marketplace_id, key, at=placed)
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
    candidates = session.scalars(
        select(Contact)
        .where(
            Contact.email_key == email_key,
            Contact.marketplace_id == marketplace_id,
            Contact.merged_into_id.is_(None),
        )
        .order_by(Contact.id.desc())
    ).all()
    for contact in candidates:
        last = _last_sale(session, contact)
        if last is None or at - last <= MATCH_WINDOW:
            return ContactMatch(contact.id, contact.billing_address)
    return None


def _last_sale(session: Session, contact: Contact) -> datetime | None:
    """When the contact's last Amazon sale ended (shipped or cancelled); None while one is still open."""
    query = (
        select(SalesOrder.placed_at, SalesOrder.shipped_at, SalesOrder.cancelled_at, OrderStatus.is_cancelled)
        .join(OrderStatus, OrderStatus.id == SalesOrder.status_id)
        .where(SalesOrder.contact_id == contact.id)
    )
    last = contact.created_at
    for placed, shipped, cancelled_at, is_cancelled in session.execute(query):
        if shipped is None and cancelled_at is None and not is_cancelled:
            return None
        last = max(last, shipped or cancelled_at or placed)
    return last
