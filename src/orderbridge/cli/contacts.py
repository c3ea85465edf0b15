"""`orderbridge contacts ...`: add the seller's own contacts (the one contact of a channel, the contact for
Pending orders), list contacts without their buyer data, and show one (buyer data only through the
audited reveal, with a purpose)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated

import typer
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from orderbridge.amazon.marketplaces import code_of
from orderbridge.book.address import Address
from orderbridge.book.catalog import PriceList
from orderbridge.book.channels import Channel
from orderbridge.book.contacts import Contact, ContactTag, NewContact, create_contact
from orderbridge.book.errors import NotFoundError
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.pii import pii_fields
from orderbridge.cli.catalog import AsJson
from orderbridge.cli.context import cli_actor, console, fail, unit_of_work
from orderbridge.cli.output import checked, print_json, print_table, reported_errors
from orderbridge.clock import as_utc, utc_now
from orderbridge.imports.rows import country_code, marketplace_id
from orderbridge.privacy.errors import PrivacyError
from orderbridge.privacy.sealing import is_sealed, reveal

contacts = typer.Typer(
    help="Contacts: add your own (a channel's one contact, the contact for Pending orders), list, show.",
    no_args_is_help=True,
)

OWN = "own"
PROTECTED = "[protected]"  # as `orders show` prints sealed buyer data
TEXT_LIMIT = 200


@contacts.command("add")
def add_contact(
    *,
    company: Annotated[str | None, typer.Option(help="Company name (or the contact's purpose).")] = None,
    first_name: Annotated[str | None, typer.Option(help="First name.")] = None,
    last_name: Annotated[str | None, typer.Option(help="Last name.")] = None,
    email: Annotated[str | None, typer.Option(help="E-mail address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Phone number.")] = None,
    line1: Annotated[str | None, typer.Option(help="Billing address, first line.")] = None,
    line2: Annotated[str | None, typer.Option(help="Billing address, second line.")] = None,
    city: Annotated[str | None, typer.Option(help="Billing address, town or city.")] = None,
    postcode: Annotated[str | None, typer.Option(help="Billing address, postcode.")] = None,
    country: Annotated[str | None, typer.Option(help="Billing address, ISO country code (GB).")] = None,
    price_list: Annotated[str | None, typer.Option(help="The price list's code (price-lists list).")] = None,
    tag: Annotated[list[str] | None, typer.Option(help="A tag (repeat for several).")] = None,
) -> None:
    """Add a contact of your own, e.g. the contact Pending orders book to. Its names, e-mail, phone and
    address are sealed in the book like any buyer's; the command prints only the new contact's id."""
    given = {"company": company, "first name": first_name, "last name": last_name, "e-mail": email}
    given |= {"phone": phone, "line1": line1, "line2": line2, "city": city, "postcode": postcode}
    for what, value in given.items():
        if value is not None and len(value.strip()) > TEXT_LIMIT:
            raise fail(f"contact: the {what} is longer than {TEXT_LIMIT} characters")
    if not any((value or "").strip() for value in (company, first_name, last_name)):
        raise fail("contact: give a --company or a --first-name / --last-name to know it by")
    if email and "@" not in email:
        raise fail("contact: the e-mail address has no @")
    tags = frozenset(t.strip() for t in tag or [] if t.strip())
    if any(len(t) > 60 for t in tags):
        raise fail("contact: a tag is longer than 60 characters")
    billing = Address(
        line1=_text(line1),
        line2=_text(line2),
        city=_text(city),
        postcode=_text(postcode),
        country=checked("country", country_code, country) if country else None,
    )
    with reported_errors(), unit_of_work() as session:
        list_id = _price_list_id(session, price_list) if price_list else None
        new = NewContact(
            first_name=_text(first_name),
            last_name=_text(last_name),
            company_name=_text(company),
            email=_text(email),
            phone=_text(phone),
            billing=billing,
            price_list_id=list_id,
            tags=tags,
        )
        created = create_contact(session, new, now=utc_now())
        session.flush()
        contact_id = created.id
    console.print(f"contact {contact_id} added", highlight=False)


def _text(value: str | None) -> str | None:
    return (value or "").strip() or None


def _price_list_id(session: Session, code: str) -> int:
    found = session.scalar(select(PriceList.id).where(PriceList.code == code.strip()))
    if found is None:
        raise NotFoundError("price list", code.strip())
    return found


@contacts.command("list")
def list_contacts_command(
    as_json: AsJson = False,
    marketplace: Annotated[
        str | None, typer.Option(help="Only buyers of this Amazon marketplace (UK, DE ...), or 'own'.")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Only contacts with this tag.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many contacts, newest first.")] = 50,
) -> None:
    """List contacts, newest first: id, marketplace, country, tags and order count (no buyer data)."""
    market = None
    if marketplace and marketplace.strip().lower() != OWN:
        market = checked("marketplace", marketplace_id, marketplace)
    with unit_of_work() as session:
        found = contact_listing(session, marketplace=market, own=marketplace == OWN, tag=tag, limit=limit)
    if as_json:
        print_json([asdict(c) for c in found])
        return
    rows = [
        [
            c.id,
            c.marketplace or OWN,
            c.country,
            f"{c.created_at:%Y-%m-%d %H:%M}",
            ", ".join(c.tags),
            c.orders,
            c.state_text,
        ]
        for c in found
    ]
    columns = ["contact", "marketplace", "country", "created", "tags", "orders", "buyer data"]
    print_table("Contacts", columns, rows, right=frozenset({"orders"}))


@dataclass(frozen=True)
class ContactView:
    id: int
    marketplace: str | None
    country: str | None
    created_at: datetime
    tags: list[str]
    orders: int
    merged_into: int | None
    redacted: bool

    @property
    def state_text(self) -> str:
        text = "removed (retention)" if self.redacted else "held"
        return f"{text}; merged into {self.merged_into}" if self.merged_into else text


def contact_listing(
    session: Session, *, marketplace: str | None, own: bool, tag: str | None, limit: int
) -> list[ContactView]:
    query: Select[Contact] = select(Contact).order_by(Contact.id.desc()).limit(limit)
    if own:
        query = query.where(Contact.marketplace_id.is_(None))
    elif marketplace:
        query = query.where(Contact.marketplace_id == marketplace)
    if tag:
        query = query.where(Contact.id.in_(select(ContactTag.contact_id).where(ContactTag.tag == tag)))
    found = list(session.scalars(query))
    counted = (
        select(SalesOrder.contact_id, func.count(SalesOrder.id))
        .where(SalesOrder.contact_id.in_([c.id for c in found]))
        .group_by(SalesOrder.contact_id)
    )
    counts: dict[int, int] = {contact_id: count for contact_id, count in session.execute(counted)}
    return [_view(c, counts.get(c.id, 0)) for c in found]


def _view(contact: Contact, orders: int) -> ContactView:
    return ContactView(
        id=contact.id,
        marketplace=code_of(contact.marketplace_id) if contact.marketplace_id else None,
        country=contact.billing_country,
        created_at=as_utc(contact.created_at),
        tags=sorted(contact.tag_names),
        orders=int(orders),
        merged_into=contact.merged_into_id,
        redacted=contact.pii_redacted_at is not None,
    )


@contacts.command("show")
def show_contact(
    contact_id: Annotated[int, typer.Argument(metavar="ID", help="The contact's id (contacts list).")],
    purpose: Annotated[
        str | None,
        typer.Option(help="Why you read its buyer data (support, tax_invoice ...): shown and audited."),
    ] = None,
    actor: Annotated[str, typer.Option(help="Who reads, for the audit log (default: you).")] = "",
    as_json: AsJson = False,
) -> None:
    """Show a contact: tags, price list, channel and recent orders. Its names, e-mail, phone and address
    show as [protected] unless a --purpose is given: then they are revealed and the read is audited."""
    with reported_errors(), unit_of_work() as session:
        found = session.get(Contact, contact_id)
        if found is None:
            raise NotFoundError("contact", contact_id)
        detail = contact_detail(session, found)
        names = pii_fields(Contact.__table__)
        if purpose is not None and purpose.strip():
            try:
                data = reveal(
                    session, found, names, actor=actor or cli_actor(), purpose=purpose, clock=utc_now
                )
            except PrivacyError as error:
                raise fail(str(error)) from None
        else:
            data = {name: _masked(getattr(found, name)) for name in names}
    revealed = purpose is not None and bool(purpose.strip())
    if as_json:
        print_json(asdict(detail) | {"buyer_data": data, "revealed": revealed})
        return
    _print_detail(detail, data, revealed=revealed)


def _masked(value: str | None) -> str | None:
    return PROTECTED if is_sealed(value) else value


@dataclass(frozen=True)
class ContactDetailView:
    contact: ContactView
    price_list: str | None
    origin_channel: str | None
    recent_orders: list[str]  # the channel's reference (Amazon order id), else the book's id


def contact_detail(session: Session, contact: Contact) -> ContactDetailView:
    orders = list(
        session.execute(
            select(SalesOrder.id, SalesOrder.external_ref)
            .where(SalesOrder.contact_id == contact.id)
            .order_by(SalesOrder.placed_at.desc(), SalesOrder.id.desc())
            .limit(10)
        ).all()
    )
    count = session.scalar(select(func.count(SalesOrder.id)).where(SalesOrder.contact_id == contact.id))
    price_list = session.get(PriceList, contact.price_list_id) if contact.price_list_id else None
    channel = session.get(Channel, contact.origin_channel_id) if contact.origin_channel_id else None
    return ContactDetailView(
        contact=_view(contact, int(count or 0)),
        price_list=price_list.code if price_list else None,
        origin_channel=channel.code if channel else None,
        recent_orders=[ref or str(order_id) for order_id, ref in orders],
    )


def _print_detail(detail: ContactDetailView, data: dict[str, str | None], *, revealed: bool) -> None:
    c = detail.contact
    rows: list[list[object]] = [
        ["marketplace", c.marketplace or OWN],
        ["origin channel", detail.origin_channel],
        ["price list", detail.price_list],
        ["country", c.country],
        ["tags", ", ".join(c.tags)],
        ["created", f"{c.created_at:%Y-%m-%d %H:%M} UTC"],
        ["orders", c.orders],
        ["recent orders", ", ".join(detail.recent_orders)],
        ["buyer data", c.state_text],
    ]
    rows += [[name, value] for name, value in data.items()]
    title = f"Contact {c.id}" + (" (read audited)" if revealed else "")
    print_table(title, ["field", "value"], rows)
    if not revealed and any(value == PROTECTED for value in data.values()):
        console.print("buyer data is protected: add --purpose WHY to reveal it (the read is audited)")
