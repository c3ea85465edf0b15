"""Buyer data in pages and the API (AC-21): revealed, and audited, only for `pii:read`; masked otherwise.

Book rows hold PII sealed ("ob1:..."); nothing here ever renders a sealed value. With the permission,
`show_pii` opens the fields through privacy.sealing.reveal, which writes one PII_READ audit event
(actor, record, field classes, purpose, channel) with no values. Without it, every field reads MASKED
and nothing is decrypted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from orderbridge.book.pii import REDACTED, pii_fields
from orderbridge.clock import Clock
from orderbridge.db import writes_beside
from orderbridge.privacy.sealing import is_sealed, reveal
from orderbridge.web.deps import Principal
from orderbridge.web.roles import Permission

MASKED = "hidden"  # what a user without pii:read sees in place of buyer data (never "[Redacted]")


def fields_of(record: Any) -> list[str]:
    return pii_fields(record.__table__)


def show_pii(
    session: Session,
    principal: Principal,
    record: Any,
    fields: Sequence[str] | None = None,
    *,
    purpose: str,
    clock: Clock,
) -> dict[str, str | None]:
    """The record's PII fields for this principal: plaintext (audited) with pii:read, MASKED without.

    Empty fields stay None; redacted fields read "[Redacted]" (P3) for everyone.
    """
    names = list(fields) if fields is not None else fields_of(record)
    if record.pii_redacted_at is not None:
        return {name: REDACTED if getattr(record, name) is not None else None for name in names}
    present = [name for name in names if getattr(record, name) is not None]
    if not principal.can(Permission.PII_READ):
        return {name: (MASKED if name in present else None) for name in names}
    shown: dict[str, str | None] = dict.fromkeys(names)
    if present:
        # The audit entry is written beside a reading request, and kept even if the page then fails.
        with writes_beside(session) as writing:
            opened = reveal(
                writing,
                record,
                present,
                actor=principal.actor,
                purpose=purpose,
                clock=clock,
                channel=principal.channel,
            )
        shown.update({name: (REDACTED if is_sealed(value) else value) for name, value in opened.items()})
    return shown
