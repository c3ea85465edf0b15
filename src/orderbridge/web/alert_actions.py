"""Clearing alerts from the web and the API: one at a time, a selection, or every open one of a kind;
who cleared how many of which kind goes to the audit log."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from orderbridge.book.alerts import clear_alerts
from orderbridge.clock import Clock
from orderbridge.privacy import audit
from orderbridge.privacy.models import AuditAction

AUDITED_IDS = 200  # an audit entry names at most this many alert ids (and counts them all)


def clear_and_record(
    session: Session, *, ids: Sequence[int] = (), kind: str | None = None, actor: str, clock: Clock
) -> int:
    """Clear the chosen open alerts and record who did; returns how many were cleared."""
    cleared = clear_alerts(session, ids=ids, kind=kind, by=actor, now=clock())
    if cleared:
        kinds = sorted({alert.kind for alert in cleared})
        audit.append(
            session,
            actor=actor,
            action=AuditAction.ALERTS_CLEARED,
            subjects=[f"alert:{alert.id}" for alert in cleared[:AUDITED_IDS]],
            detail={"count": len(cleared), "kinds": ", ".join(kinds)[:200], "all_of_kind": kind is not None},
            clock=clock,
        )
    return len(cleared)
