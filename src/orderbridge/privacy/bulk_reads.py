"""The bulk-read alarm (DPP R15 "unexpected … data-retrieval volume", §3.9, AC-22).

Every PII read is an audit entry. When one caller reads PII of more than `threshold` records within a
sliding `window`, that is an alert: a ``bulk_read_alert`` audit entry and a security incident (which
starts the 24-hour clock to tell Amazon, P9) for the operator to investigate, or close with a reason.
One alert per caller per window: a scraper reading thousands of orders raises one incident, not
thousands. The defaults follow ShipStream Data Border's limit of 50 reads a day, scaled to an hour of
a busy warehouse's label printing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.clock import Clock, as_utc
from orderbridge.privacy import audit, incidents
from orderbridge.privacy.models import AuditAction, AuditEntry


@dataclass(frozen=True)
class BulkReadPolicy:
    """More than `threshold` PII reads by one caller within `window` raise an alert."""

    threshold: int = 200
    window: timedelta = timedelta(hours=1)


DEFAULT_POLICY = BulkReadPolicy()


def check_bulk_reads(
    session: Session, actor: str, *, clock: Clock, policy: BulkReadPolicy = DEFAULT_POLICY
) -> int | None:
    """After a PII read by `actor`: raise the alert if the window holds too many; returns the incident id.

    Returns None when under the threshold or already alerted within this window.
    """
    now = as_utc(clock())
    since = now - policy.window
    reads = audit.count_reads(session, actor=actor, since=since)
    if reads <= policy.threshold:
        return None
    alerted = session.scalar(
        select(func.count()).where(
            AuditEntry.actor == actor,
            AuditEntry.action == str(AuditAction.BULK_READ_ALERT),
            AuditEntry.at >= since,
        )
    )
    if alerted:
        return None
    minutes = int(policy.window.total_seconds() // 60)
    incident = incidents.open_incident(
        session,
        summary=(
            f"bulk read of buyer data: {actor} read PII of {reads} records within {minutes} minutes "
            f"(threshold {policy.threshold}); check the audit log for what was read and why"
        ),
        detected_at=now,
        actor="job:bulk-read-alarm",
        clock=clock,
    )
    audit.append(
        session,
        actor=actor,
        action=AuditAction.BULK_READ_ALERT,
        subjects=[f"incident:{incident.id}"],
        detail={"reads": reads, "threshold": policy.threshold, "window_minutes": minutes},
        clock=clock,
    )
    return incident.id
