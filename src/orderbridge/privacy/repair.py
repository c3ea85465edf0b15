"""Repairing a book whose orders hold buyer data sealed for another row (books made before issue 16).

Before the fix, an order booked against an existing contact (C4, C10) was given the contact's sealed
billing values as they were: ciphertext bound to the contact's row, which never opens as the order's.
`repair_book` walks every live PII value of orders and contacts; a value that does not open under its
own row is opened under the row it was copied from (an order's contact, same field) and sealed again
for its own row under its current key. What opens nowhere is reported by Amazon order id (or contact
number), never with its value. Running it again changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.book import pii
from orderbridge.book.contacts import Contact
from orderbridge.book.orders.model import SalesOrder
from orderbridge.privacy.errors import DecryptionError
from orderbridge.privacy.sealing import (
    Privacy,
    is_sealed,
    open_sealed,
    record_key,
    seal,
)

BATCH = 500


@dataclass
class RepairReport:
    checked: int = 0  # sealed values looked at
    resealed: int = 0  # values opened where they came from and sealed again for their own row
    unreadable: dict[str, list[str]] = field(default_factory=dict)  # order id / contact -> fields


def repair_book(sessions: sessionmaker[Session], privacy: Privacy) -> RepairReport:
    report = RepairReport()
    models: tuple[Any, ...] = (SalesOrder, Contact)
    for model in models:
        last = 0
        while True:
            with sessions.begin() as session:
                records = session.scalars(
                    select(model)
                    .where(model.id > last, model.pii_redacted_at.is_(None), model.pii_key.is_not(None))
                    .order_by(model.id)
                    .limit(BATCH)
                ).all()
                for record in records:
                    _repair(session, privacy, record, report)
            if len(records) < BATCH:
                break
            last = records[-1].id
    return report


def _repair(session: Session, privacy: Privacy, record: Any, report: RepairReport) -> None:
    table = type(record).__table__.name
    source = session.get(Contact, record.contact_id) if isinstance(record, SalesOrder) else None
    names = [name for name in pii.pii_fields(type(record).__table__) if is_sealed(getattr(record, name))]
    opened: dict[str, str] = {}
    moved = 0
    for name in names:
        report.checked += 1
        value = getattr(record, name)
        plain = _open(privacy, value, table, record.pii_ref, name)
        if plain is None:
            plain = _from_source(privacy, value, source, name)
            if plain is None:
                label = record.external_ref if isinstance(record, SalesOrder) else f"contact {record.id}"
                report.unreadable.setdefault(label, []).append(name)
                continue
            moved += 1
        opened[name] = plain
    if not moved:
        return
    # Every value of the record again under one key, the one the record should be under now.
    key = record_key(privacy, session, record)
    for name, plain in opened.items():
        if plain != pii.REDACTED:
            setattr(record, name, seal(privacy, plain, table=table, ref=record.pii_ref, name=name, key=key))
    record.pii_key = str(key.key_id)
    report.resealed += moved


def _open(privacy: Privacy, value: str, table: str, ref: str, name: str) -> str | None:
    try:
        return open_sealed(privacy, value, table=table, ref=ref, name=name)
    except DecryptionError:
        return None


def _from_source(privacy: Privacy, value: str, source: Contact | None, name: str) -> str | None:
    if source is None or not name.startswith("billing_"):
        return None
    try:
        plain = open_sealed(privacy, value, table="contacts", ref=source.pii_ref, name=name)
    except DecryptionError:
        return None
    return plain if plain != pii.REDACTED else None
