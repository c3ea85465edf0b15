"""Redacting a batch: every PII column of the records set to ``[Redacted]`` in set-based UPDATEs (P3)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, case, literal, null, select, update
from sqlalchemy.orm import Session

from orderbridge.book import pii
from orderbridge.book.contacts import Contact
from orderbridge.book.custom_fields import CustomFieldDefinition, CustomFieldValue, RecordKind
from orderbridge.book.orders.model import OrderNote, SalesOrder
from orderbridge.privacy.sweep.due import among, table_of


def redacted_values(table: Table) -> dict[str, Any]:
    """Each PII column to ``[Redacted]``, or NULL where it held nothing."""
    return {
        name: case((table.c[name].is_(None), null()), else_=literal(pii.REDACTED))
        for name in pii.pii_fields(table)
    }


def redact_rows(session: Session, table: Table, ids: list[int], now: datetime, **also: Any) -> None:
    """Redact the rows of `table` with these ids that are not redacted yet."""
    session.execute(
        update(table)
        .where(among(session, table.c.id, ids), table.c.pii_redacted_at.is_(None))
        .values(**redacted_values(table), pii_key=None, pii_redacted_at=now, **also)
    )


def redact_orders(session: Session, ids: list[int], now: datetime) -> None:
    """Orders, their notes and their custom field values."""
    redact_rows(session, table_of(SalesOrder), ids, now)
    notes = table_of(OrderNote)
    session.execute(
        update(notes)
        .where(among(session, notes.c.order_id, ids), notes.c.pii_redacted_at.is_(None))
        .values(**redacted_values(notes), pii_key=None, pii_redacted_at=now)
    )
    redact_custom_values(session, RecordKind.SALES_ORDER, ids, now)


def redact_contacts(session: Session, ids: list[int], now: datetime) -> None:
    """Contacts and their custom field values; their blind indexes go with them (C5, P7)."""
    redact_rows(session, table_of(Contact), ids, now, email_key=None, name_key=None)
    redact_custom_values(session, RecordKind.CONTACT, ids, now)


def redact_custom_values(session: Session, kind: RecordKind, ids: list[int], now: datetime) -> None:
    values = table_of(CustomFieldValue)
    definitions = select(CustomFieldDefinition.id).where(CustomFieldDefinition.record_kind == kind)
    session.execute(
        update(values)
        .where(
            among(session, values.c.record_id, ids),
            values.c.definition_id.in_(definitions.scalar_subquery()),
            values.c.pii_redacted_at.is_(None),
        )
        .values(**redacted_values(values), pii_key=None, pii_redacted_at=now)
    )
