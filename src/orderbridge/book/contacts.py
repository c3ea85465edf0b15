"""Contacts: the customers orders belong to (C1), their tags, and merging two into one (C7)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ForeignKey, String, Table, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from orderbridge.book.address import (
    Address,
    BillingAddressColumns,
    address_values,
    read_address,
    write_address,
)
from orderbridge.book.errors import InvalidValueError, NotFoundError
from orderbridge.book.pii import PIIRecordColumns, new_pii_ref, pii_column, seal_rows
from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId, insert_dicts


class Contact(PIIRecordColumns, BillingAddressColumns, Base):
    __tablename__ = "contacts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    first_name: Mapped[str | None] = pii_column()
    last_name: Mapped[str | None] = pii_column()
    company_name: Mapped[str | None] = pii_column()
    email: Mapped[str | None] = pii_column()
    phone: Mapped[str | None] = pii_column()
    # A key to match the e-mail without reading it (C4, C8, C11); privacy fills it with a blind index.
    email_key: Mapped[str | None] = mapped_column(String(64), index=True)
    # Search by name while the PII is live, without a plaintext index; privacy fills it (blind index).
    name_key: Mapped[str | None] = mapped_column(String(64), index=True)
    price_list_id: Mapped[int | None] = mapped_column(ForeignKey("price_lists.id"))
    origin_channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"))
    marketplace_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))

    tags: Mapped[list[ContactTag]] = relationship(cascade="all, delete-orphan", lazy="selectin")

    @property
    def billing_address(self) -> Address:
        return read_address(self, "billing")

    @property
    def tag_names(self) -> set[str]:
        return {tag.tag for tag in self.tags}


class ContactTag(Base):
    __tablename__ = "contact_tags"
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    tag: Mapped[str] = mapped_column(String(60), primary_key=True)


@dataclass(frozen=True)
class NewContact:
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    email: str | None = None
    phone: str | None = None
    billing: Address = field(default_factory=Address)
    price_list_id: int | None = None
    origin_channel_id: int | None = None
    marketplace_id: str | None = None
    email_key: str | None = None
    tags: frozenset[str] = frozenset()


def create_contact(session: Session, new: NewContact, *, now: datetime) -> Contact:
    contact = Contact(
        pii_ref=new_pii_ref(),
        first_name=new.first_name,
        last_name=new.last_name,
        company_name=new.company_name,
        email=new.email,
        phone=new.phone,
        email_key=new.email_key,
        price_list_id=new.price_list_id,
        origin_channel_id=new.origin_channel_id,
        marketplace_id=new.marketplace_id,
        created_at=now,
        tags=[ContactTag(tag=tag) for tag in sorted(new.tags)],
    )
    write_address(contact, "billing", new.billing)
    session.add(contact)
    return contact


def create_contacts(session: Session, new: Sequence[NewContact], *, now: datetime) -> list[int]:
    """Create contacts in bulk (a page of new Amazon buyers); their ids, in the order given.

    One batched INSERT per table, as the book's order booking does: privacy seals the PII in the value
    dicts first (P2). The new ids are read back by `pii_ref` among the ids above the highest one before
    the INSERT, so the look-up stays a short primary-key range whatever the size of the table and
    whoever else inserts contacts meanwhile.
    """
    if not new:
        return []
    table = cast(Table, Contact.__table__)
    rows = [_contact_values(contact, now=now) for contact in new]
    seal_rows(session, table, rows)
    before = session.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    insert_dicts(session, table, rows)
    refs = [row["pii_ref"] for row in rows]
    found: dict[str, int] = {}
    for start in range(0, len(refs), 500):
        query = select(table.c.pii_ref, table.c.id).where(
            table.c.id > before, table.c.pii_ref.in_(refs[start : start + 500])
        )
        found.update({ref: contact_id for ref, contact_id in session.execute(query)})
    ids = [found[ref] for ref in refs]
    tags = [{"contact_id": i, "tag": tag} for i, c in zip(ids, new, strict=True) for tag in sorted(c.tags)]
    if tags:
        insert_dicts(session, cast(Table, ContactTag.__table__), tags)
    return ids


def _contact_values(new: NewContact, *, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "pii_ref": new_pii_ref(),
        "first_name": new.first_name,
        "last_name": new.last_name,
        "company_name": new.company_name,
        "email": new.email,
        "phone": new.phone,
        "email_key": new.email_key,
        "price_list_id": new.price_list_id,
        "origin_channel_id": new.origin_channel_id,
        "marketplace_id": new.marketplace_id,
        "created_at": now,
        "merged_into_id": None,
        "pii_key": None,
        "pii_redacted_at": None,
    }
    values.update(address_values("billing", new.billing))
    return values


def contact(session: Session, contact_id: int) -> Contact:
    found = session.get(Contact, contact_id)
    if found is None:
        raise NotFoundError("contact", contact_id)
    return found


def tag_contact(contact: Contact, tag: str) -> None:
    if tag not in contact.tag_names:
        contact.tags.append(ContactTag(tag=tag))


def change_email(contact: Contact, email: str | None) -> None:
    """C11: an edited or removed e-mail no longer matches later orders."""
    contact.email = email
    contact.email_key = None


@dataclass(frozen=True)
class MergeResult:
    survivor_id: int
    merged_id: int
    warnings: list[str]


def merge_contacts(session: Session, survivor: Contact, merged: Contact) -> MergeResult:
    """Move everything of `merged` to `survivor` (orders, credits, payments, tags); C7 warns for Amazon."""
    from orderbridge.book.credits import SalesCredit
    from orderbridge.book.orders.model import SalesOrder
    from orderbridge.book.payments import Payment

    if survivor.id == merged.id:
        raise InvalidValueError(f"contact {survivor.id}: cannot merge a contact into itself")
    if merged.merged_into_id is not None:
        raise InvalidValueError(f"contact {merged.id} was already merged into {merged.merged_into_id}")
    for model in (SalesOrder, SalesCredit, Payment):
        session.execute(
            update(model).where(model.contact_id == merged.id).values(contact_id=survivor.id),
            execution_options={"synchronize_session": "fetch"},
        )
    for tag in merged.tag_names:
        tag_contact(survivor, tag)
    merged.merged_into_id = survivor.id
    warnings = []
    for side in (survivor, merged):
        if side.marketplace_id is not None:
            warnings.append(
                f"contact {side.id} is an Amazon contact: its personal data will still be "
                "redacted 30 days after its last Amazon order is shipped or cancelled"
            )
    return MergeResult(survivor_id=survivor.id, merged_id=merged.id, warnings=warnings)
