"""The redaction ledger: per redacted record what kind of fields, when, which rule; never values (P3)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from orderbridge.privacy.models import RedactionLedger
from orderbridge.privacy.sweep.archiving import ArchivePlace
from orderbridge.privacy.sweep.due import table_of


def ledger_entries(
    kind: str,
    rows: Sequence[Any],
    *,
    field_classes: str,
    rule: str,
    now: datetime,
    archived: Mapping[int, ArchivePlace] | None = None,
) -> list[dict[str, Any]]:
    """Entries for `rows` (each with id, pii_ref and pii_key), pointing to their archive entry if any."""
    places = archived or {}
    entries = []
    for row in rows:
        place = places.get(row.id)
        entries.append(
            {
                "record_kind": kind,
                "record_id": row.id,
                "pii_ref": row.pii_ref,
                "field_classes": field_classes,
                "rule": rule,
                "key_id": row.pii_key,
                "redacted_at": now,
                "archive_file": place.file if place else None,
                "archive_entry": place.entry if place else None,
                "archive_head": place.head if place else None,
            }
        )
    return entries


def write_ledger(session: Session, ledger: list[dict[str, Any]]) -> None:
    """Insert the entries of records not in the ledger yet (AC-10: a re-run adds no duplicates)."""
    if not ledger:
        return
    kind = ledger[0]["record_kind"]
    ids = [entry["record_id"] for entry in ledger]
    known = set(
        session.scalars(
            select(RedactionLedger.record_id).where(
                RedactionLedger.record_kind == kind, RedactionLedger.record_id.in_(ids)
            )
        )
    )
    fresh = [entry for entry in ledger if entry["record_id"] not in known]
    if fresh:
        session.execute(insert(table_of(RedactionLedger)), fresh)
