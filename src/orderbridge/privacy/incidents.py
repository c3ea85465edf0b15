"""The security incident register: record, notify Amazon within 24 hours of detection, close (P9, AC-27).

DPP §1.6: notify ``security@amazon.com`` within 24 hours of detecting any actual or suspected incident.
Each change writes an audit entry. Summaries and notes are refused when they look like PII.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.clock import Clock, as_utc
from orderbridge.privacy import audit
from orderbridge.privacy.errors import IncidentError
from orderbridge.privacy.log_filter import holds_contact_details
from orderbridge.privacy.models import AuditAction, IncidentStatus, SecurityIncident

AMAZON_SECURITY_CONTACT = "security@amazon.com"
NOTIFY_WITHIN = timedelta(hours=24)


@dataclass(frozen=True)
class IncidentView:
    """An incident as the register shows it at `now`: the deadline, time left, and whether it is overdue."""

    id: int
    summary: str
    status: str
    detected_at: datetime
    notify_by: datetime
    notify_to: str
    amazon_notified_at: datetime | None
    time_left: timedelta
    overdue: bool
    notes: str


def _plain(text: str, what: str) -> str:
    text = text.strip()
    if not text:
        raise IncidentError(f"incident: the {what} is empty")
    if holds_contact_details(text):
        raise IncidentError(f"incident: the {what} looks like it holds PII (an e-mail or phone); use ids")
    return text


def _get(session: Session, incident_id: int) -> SecurityIncident:
    incident = session.get(SecurityIncident, incident_id)
    if incident is None:
        raise IncidentError(f"incident {incident_id} does not exist")
    return incident


def open_incident(
    session: Session, *, summary: str, detected_at: datetime, actor: str, clock: Clock, notes: str = ""
) -> SecurityIncident:
    """Record an incident; the deadline to notify Amazon is detection + 24 hours."""
    now = as_utc(clock())
    if detected_at.tzinfo is None:
        raise IncidentError("incident: the detection time must carry a timezone")
    if detected_at > now:
        raise IncidentError(f"incident: detected at {detected_at.isoformat()}, which is after now")
    incident = SecurityIncident(
        summary=_plain(summary, "summary"),
        status=IncidentStatus.OPEN.value,
        detected_at=as_utc(detected_at),
        recorded_at=now,
        recorded_by=actor,
        notify_by=as_utc(detected_at) + NOTIFY_WITHIN,
        notes=_plain(notes, "note") if notes.strip() else "",
    )
    session.add(incident)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action=AuditAction.INCIDENT_OPENED,
        subjects=[f"incident:{incident.id}"],
        detail={"notify_by": incident.notify_by.isoformat()},
        clock=clock,
    )
    return incident


def record_amazon_notified(
    session: Session, incident_id: int, *, actor: str, clock: Clock, at: datetime | None = None
) -> SecurityIncident:
    """Record that Amazon was told (by e-mail to security@amazon.com), at `at` or now."""
    incident = _get(session, incident_id)
    notified = as_utc(at or clock())
    incident.amazon_notified_at = notified
    late = notified > as_utc(incident.notify_by)
    audit.append(
        session,
        actor=actor,
        action=AuditAction.INCIDENT_NOTIFIED,
        subjects=[f"incident:{incident.id}"],
        detail={"notified_at": notified.isoformat(), "late": late},
        clock=clock,
    )
    return incident


def add_note(session: Session, incident_id: int, note: str, *, actor: str, clock: Clock) -> SecurityIncident:
    """Append a dated investigation note (chain of custody)."""
    incident = _get(session, incident_id)
    line = f"{as_utc(clock()).isoformat(timespec='seconds')} {actor}: {_plain(note, 'note')}"
    incident.notes = f"{incident.notes}\n{line}" if incident.notes else line
    audit.append(
        session,
        actor=actor,
        action=AuditAction.INCIDENT_NOTE,
        subjects=[f"incident:{incident.id}"],
        clock=clock,
    )
    return incident


def close_incident(
    session: Session,
    incident_id: int,
    *,
    actor: str,
    clock: Clock,
    resolution: str,
    not_notified_reason: str | None = None,
) -> SecurityIncident:
    """Close an incident. Amazon must have been notified, or a reason why not must be given."""
    incident = _get(session, incident_id)
    if incident.status == IncidentStatus.CLOSED:
        raise IncidentError(f"incident {incident_id} is already closed")
    if incident.amazon_notified_at is None and not (not_notified_reason or "").strip():
        raise IncidentError(
            f"incident {incident_id}: record that {AMAZON_SECURITY_CONTACT} was notified, "
            "or give the reason it was not, before closing"
        )
    incident.status = IncidentStatus.CLOSED.value
    incident.closed_at = as_utc(clock())
    incident.closed_by = actor
    incident.resolution = _plain(resolution, "resolution")
    if incident.amazon_notified_at is None:
        incident.not_notified_reason = _plain(not_notified_reason or "", "reason")
    audit.append(
        session,
        actor=actor,
        action=AuditAction.INCIDENT_CLOSED,
        subjects=[f"incident:{incident.id}"],
        detail={"amazon_notified": incident.amazon_notified_at is not None},
        clock=clock,
    )
    return incident


def view(incident: SecurityIncident, now: datetime) -> IncidentView:
    """The register's view of one incident at `now`."""
    notify_by = as_utc(incident.notify_by)
    notified = incident.amazon_notified_at
    return IncidentView(
        id=incident.id,
        summary=incident.summary,
        status=incident.status,
        detected_at=as_utc(incident.detected_at),
        notify_by=notify_by,
        notify_to=AMAZON_SECURITY_CONTACT,
        amazon_notified_at=None if notified is None else as_utc(notified),
        time_left=max(notify_by - as_utc(now), timedelta(0)) if notified is None else timedelta(0),
        overdue=notified is None and incident.status == IncidentStatus.OPEN and as_utc(now) > notify_by,
        notes=incident.notes,
    )


def list_incidents(session: Session, *, clock: Clock, open_only: bool = False) -> list[IncidentView]:
    """The register, newest first, with each incident's deadline state at the clock's now."""
    query = select(SecurityIncident).order_by(SecurityIncident.detected_at.desc(), SecurityIncident.id.desc())
    if open_only:
        query = query.where(SecurityIncident.status == IncidentStatus.OPEN.value)
    now = clock()
    return [view(incident, now) for incident in session.scalars(query)]


def overdue_incidents(session: Session, *, clock: Clock) -> list[IncidentView]:
    """Open incidents past their deadline with no notification recorded: raise an alert for each."""
    return [incident for incident in list_incidents(session, clock=clock, open_only=True) if incident.overdue]
