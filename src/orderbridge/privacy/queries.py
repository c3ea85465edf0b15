"""Read queries of the privacy registers for the web pages and the API: the redaction ledger and the audit
log, keyset-paged newest first. Neither holds PII (their writers refuse it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.book.queries.paging import AnySelect, Page, decode, keyset_page, page_size
from orderbridge.privacy.models import AuditEntry, RedactionLedger


def ledger_page(
    session: Session, *, record_kind: str | None = None, cursor: str | None = None, size: int | None = None
) -> Page[RedactionLedger]:
    query: AnySelect = select(RedactionLedger)
    if record_kind:
        query = query.where(RedactionLedger.record_kind == record_kind)
    return keyset_page(
        session,
        query,
        columns=(RedactionLedger.id,),
        key_of=lambda row: (row[0].id,),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        convert=lambda row: row[0],
    )


def audit_page(
    session: Session,
    *,
    action: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    size: int | None = None,
) -> Page[AuditEntry]:
    query: AnySelect = select(AuditEntry)
    if action:
        query = query.where(AuditEntry.action == action)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    return keyset_page(
        session,
        query,
        columns=(AuditEntry.seq,),
        key_of=lambda row: (row[0].seq,),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        convert=lambda row: row[0],
    )
