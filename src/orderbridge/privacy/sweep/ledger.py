"""The redaction ledger: per redacted record what kind of fields, when, which rule; never values (P3)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table, exists, insert, literal, null, select
from sqlalchemy.orm import Session

from orderbridge.privacy.models import RedactionLedger
from orderbridge.privacy.sweep.archiving import ArchiveGroup, ArchivePlace
from orderbridge.privacy.sweep.due import among, table_of


def record_redactions(
    session: Session,
    table: Table,
    ids: Sequence[int],
    *,
    kind: str,
    field_classes: str,
    rule: str,
    now: datetime,
    archived: Sequence[ArchiveGroup] = (),
) -> None:
    """Ledger entries for the rows of `table` with these ids about to be redacted, in the same transaction.

    Set-based (INSERT ... SELECT), before the redaction clears the rows' key ids; each entry points to
    the archive entry its record was sealed in (AC-13). Rows already redacted or already in the ledger
    get no entry (AC-10: a re-run adds no duplicates).
    """
    columns = table_of(RedactionLedger).c
    entry = [
        literal(kind, columns.record_kind.type),
        table.c.id,
        table.c.pii_ref,
        literal(field_classes, columns.field_classes.type),
        literal(rule, columns.rule.type),
        table.c.pii_key,
        literal(now, columns.redacted_at.type),
    ]
    unarchived = set(ids)
    for group in archived:
        _insert(session, table, group.order_ids, entry, group.place)
        unarchived.difference_update(group.order_ids)
    if unarchived:
        _insert(session, table, sorted(unarchived), entry, None)


def _insert(
    session: Session, table: Table, ids: Sequence[int], entry: list[Any], place: ArchivePlace | None
) -> None:
    ledger = table_of(RedactionLedger)
    columns = ledger.c
    pointer = [
        literal(place.file, columns.archive_file.type) if place else null(),
        literal(place.entry, columns.archive_entry.type) if place else null(),
        literal(place.head, columns.archive_head.type) if place else null(),
    ]
    kind = entry[0]
    entries = select(*entry, *pointer).where(
        among(session, table.c.id, ids),
        table.c.pii_redacted_at.is_(None),
        ~exists().where(columns.record_kind == kind, columns.record_id == table.c.id),
    )
    names = ["record_kind", "record_id", "pii_ref", "field_classes", "rule", "key_id", "redacted_at"]
    names += ["archive_file", "archive_entry", "archive_head"]
    session.execute(insert(ledger).from_select(names, entries))
