"""The append-only, hash-chained audit log of PII reads, sweeps and key destructions (R15, AC-17, AC-22).

Each entry's hash is SHA-256 over a canonical JSON of its sequence number, time, actor, action, subject
ids, detail and the previous entry's hash, so any edited, deleted or reordered entry breaks the chain at
that point. Entries hold ids, field classes and counts, never PII or key bytes: `append` refuses values
that look like an e-mail address or a phone number. Nothing here deletes entries (kept >= 12 months).
A deleted tail is only detectable against an anchor kept elsewhere: publish `head()` (e.g. in the daily
retention report).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.clock import Clock, as_utc
from orderbridge.privacy.errors import AuditChainError, PiiInAuditError
from orderbridge.privacy.log_filter import holds_contact_details
from orderbridge.privacy.models import AuditAction, AuditEntry

GENESIS = "0" * 64
# The PostgreSQL advisory lock appenders take in turn (any number no other lock of the book uses).
APPEND_LOCK = 7_302_100_001
DetailValue = str | int | bool | None
_SUBJECT = re.compile(r"[a-z_]+:[A-Za-z0-9_.:/-]{1,120}")
_DETAIL_KEY = re.compile(r"[a-z_][a-z0-9_]{0,39}")


def _digest(entry: AuditEntry) -> str:
    canonical = {
        "seq": entry.seq,
        "at": as_utc(entry.at).isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": str(entry.action),
        "subjects": list(entry.subjects),
        "detail": entry.detail,
        "prev": entry.prev_hash,
    }
    encoded = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(encoded.encode("ascii")).hexdigest()


def _check_no_pii(actor: str, subjects: Sequence[str], detail: Mapping[str, DetailValue]) -> None:
    if holds_contact_details(actor):
        raise PiiInAuditError("audit: the actor looks like an e-mail address or phone number; use a user id")
    for subject in subjects:
        if not _SUBJECT.fullmatch(subject):
            raise PiiInAuditError(f"audit: subject {subject[:40]!r}... is not kind:id")
    for key, value in detail.items():
        if not _DETAIL_KEY.fullmatch(key):
            raise PiiInAuditError(f"audit: detail key {key[:40]!r} is not a plain name")
        if value is not None and not isinstance(value, str | int | bool):
            raise PiiInAuditError(f"audit: detail {key} must be text, a number, true/false or null")
        if isinstance(value, str) and holds_contact_details(value):
            raise PiiInAuditError(f"audit: detail {key} looks like PII; log ids and field classes only")


def append(
    session: Session,
    *,
    actor: str,
    action: AuditAction,
    subjects: Sequence[str] = (),
    detail: Mapping[str, DetailValue] | None = None,
    clock: Clock,
) -> AuditEntry:
    """Add one event at the head of the chain (flushed, not committed: the caller's transaction owns it).

    `subjects` are ``kind:id`` strings (``order:202-1234567-1234567``, ``key:SELLER/MKT/2026-12-23``).
    Appenders take turns: on SQLite a writing transaction holds the store's write lock already; on
    PostgreSQL a transaction-scoped advisory lock makes a second appender wait for the first to commit
    (both read the same head otherwise, and one failed on the unique sequence number).
    """
    detail = dict(detail or {})
    _check_no_pii(actor, subjects, detail)
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(APPEND_LOCK)))
    head = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1)).first()
    entry = AuditEntry(
        seq=1 if head is None else head.seq + 1,
        at=as_utc(clock()),
        actor=actor,
        action=str(action),
        subjects=list(subjects),
        detail=detail,
        prev_hash=GENESIS if head is None else head.hash,
    )
    entry.hash = _digest(entry)
    session.add(entry)
    session.flush()
    return entry


def head(session: Session) -> tuple[int, str] | None:
    """The newest entry's sequence number and hash: an anchor to keep outside the database."""
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def verify_chain(session: Session, *, anchor: tuple[int, str] | None = None, batch: int = 1000) -> int:
    """Check the whole chain; returns the number of entries, or raises AuditChainError at the first break.

    With `anchor` (a `head()` kept elsewhere) it also detects entries deleted from the end.
    """
    expected_seq, previous = 1, GENESIS
    query = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=batch)
    for entry in session.scalars(query):
        if entry.seq != expected_seq:
            raise AuditChainError(expected_seq, f"missing (the next entry is {entry.seq})")
        if entry.prev_hash != previous:
            raise AuditChainError(entry.seq, "its previous hash does not match the entry before it")
        if _digest(entry) != entry.hash:
            raise AuditChainError(entry.seq, "altered (its hash does not match its content)")
        previous = entry.hash
        expected_seq += 1
    count = expected_seq - 1
    if anchor is not None:
        seq, anchored_hash = anchor
        if count < seq:
            raise AuditChainError(
                count + 1, f"missing: the anchor names entry {seq} but the log ends at {count}"
            )
        found = session.scalar(select(AuditEntry.hash).where(AuditEntry.seq == seq))
        if found != anchored_hash:
            raise AuditChainError(seq, "does not match the anchor kept outside the database")
    return count


def entries(
    session: Session,
    *,
    action: AuditAction | None = None,
    subject: str | None = None,
    since: datetime | None = None,
    limit: int = 1000,
) -> list[AuditEntry]:
    """Audit entries, newest first, optionally of one action, about one subject, or since a time."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc())
    if action is not None:
        query = query.where(AuditEntry.action == str(action))
    if since is not None:
        query = query.where(AuditEntry.at >= since)
    if subject is None:
        return list(session.scalars(query.limit(limit)))
    found: list[AuditEntry] = []
    for entry in session.scalars(query.execution_options(yield_per=500)):
        if subject in entry.subjects:
            found.append(entry)
            if len(found) == limit:
                break
    return found


def count_reads(session: Session, *, actor: str, since: datetime) -> int:
    """PII reads by one actor since a time: compare with a threshold to alert on bulk reads (AC-22)."""
    query = select(func.count()).where(
        AuditEntry.actor == actor, AuditEntry.action == str(AuditAction.PII_READ), AuditEntry.at >= since
    )
    return int(session.scalar(query) or 0)
