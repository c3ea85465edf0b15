"""Who an Amazon order belongs to (C1-C13, O2) and its billing and delivery addresses (C9, C10)."""

from __future__ import annotations

from dataclasses import dataclass

from orderbridge.amazon.channel import AMAZON_TAG, ChannelBook, CustomerMode
from orderbridge.amazon.orders.mapping.commands import OrderFacts
from orderbridge.amazon.orders.mapping.fields import Reader
from orderbridge.book.address import Address
from orderbridge.book.contacts import NewContact

__all__ = ["AMAZON_TAG", "Customer", "buyer_email", "customer", "delivery_address"]


@dataclass(frozen=True)
class Customer:
    """The contact an order books against (an id, or a contact to create) and its two addresses."""

    contact_id: int
    new_contact: NewContact | None
    billing: Address
    delivery: Address


def delivery_address(r: Reader) -> Address:
    """The recipient's delivery address (absent on Pending orders)."""
    node = r.obj(r.doc, "recipient.deliveryAddress", "recipient.deliveryAddress")
    where = "recipient.deliveryAddress"
    lines = [r.text(node, key, f"{where}.{key}") for key in ("addressLine2", "addressLine3")]
    region = r.text(node, "stateOrRegion", f"{where}.stateOrRegion")
    return Address(
        name=r.text(node, "name", f"{where}.name"),
        company=r.text(node, "companyName", f"{where}.companyName"),
        line1=r.text(node, "addressLine1", f"{where}.addressLine1"),
        line2=", ".join(line for line in lines if line) or None,
        city=r.text(node, "city", f"{where}.city") or r.text(node, "municipality", f"{where}.municipality"),
        region=region[:100] if region else None,
        postcode=r.text(node, "postalCode", f"{where}.postalCode"),
        country=_country(r, node),
        phone=r.text(node, "phone", f"{where}.phone"),
    )


def _country(r: Reader, node: dict[str, object]) -> str | None:
    code = r.text(node, "countryCode", "recipient.deliveryAddress.countryCode")
    if code is not None and (len(code) != 2 or not code.isalpha()):
        raise r.fail("recipient.deliveryAddress.countryCode", "not a 2-letter country code")
    return code.upper() if code else None


def buyer_email(r: Reader) -> str | None:
    """The Amazon-generated relay address, unique per buyer and marketplace (C2, C6); FBM only."""
    return r.text(r.doc, "buyer.buyerEmail", "buyer.buyerEmail")


def customer(r: Reader, book: ChannelBook, facts: OrderFacts, *, pending: bool) -> Customer:
    """O2 pending -> the generic contact; C13 one contact; else the matched contact (C4) or a new one (C2)."""
    settings = book.settings
    delivery = delivery_address(r)
    if pending:
        generic = settings.pending_contact_id or settings.one_contact_id
        assert generic is not None  # ChannelSettings refuses pending download without one
        return Customer(generic, None, Address(), delivery)
    if settings.customer_mode == CustomerMode.ONE_CONTACT:
        # C13: the buyer's data lives on this order only; the chosen contact is never touched.
        assert settings.one_contact_id is not None
        return Customer(settings.one_contact_id, None, _billing_from(r, delivery), delivery)
    if facts.contact is not None:
        # C4/C8: matched by the stored e-mail key; C9/C10: the contact is not updated and the
        # order's billing address is the contact's.
        return Customer(facts.contact.contact_id, None, facts.contact.billing, delivery)
    billing = _billing_from(r, delivery)
    email = buyer_email(r)
    if email is None and book.no_email_contact_id is not None:
        # C1/C4: nothing to match a returning buyer by (FBA orders carry no e-mail), so no contact per
        # order: the channel's contact for such orders; the buyer's data lives on this order only.
        return Customer(book.no_email_contact_id, None, billing, delivery)
    first, last = _split_name(r.text(r.doc, "buyer.buyerName", "buyer.buyerName") or delivery.name)
    contact = NewContact(
        first_name=first,
        last_name=last,
        company_name=r.text(r.doc, "buyer.buyerCompanyName", "buyer.buyerCompanyName") or delivery.company,
        email=email,
        phone=delivery.phone,
        billing=billing,
        price_list_id=book.price_list_id,  # C3
        origin_channel_id=book.channel_id,
        marketplace_id=book.marketplace_id,  # C6: one contact per marketplace
        email_key=facts.email_key,
        tags=frozenset({AMAZON_TAG}),
    )
    return Customer(0, contact, billing, delivery)


def _billing_from(r: Reader, delivery: Address) -> Address:
    """Amazon sends no billing address: the buyer's name on the delivery address stands in (C2)."""
    name = r.text(r.doc, "buyer.buyerName", "buyer.buyerName")
    return Address(
        name=name or delivery.name,
        company=delivery.company,
        line1=delivery.line1,
        line2=delivery.line2,
        city=delivery.city,
        region=delivery.region,
        postcode=delivery.postcode,
        country=delivery.country,
        phone=delivery.phone,
    )


def _split_name(name: str | None) -> tuple[str | None, str | None]:
    if not name:
        return None, None
    first, _, last = name.strip().rpartition(" ")
    return (first, last) if first else (None, last)
