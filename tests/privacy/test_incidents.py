"""The security incident register and its 24-hour clock to notify Amazon (P9, AC-27)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from orderbridge.privacy import audit
from orderbridge.privacy.errors import IncidentError
from orderbridge.privacy.incidents import (
    AMAZON_SECURITY_CONTACT,
    NOTIFY_WITHIN,
    add_note,
    close_incident,
    list_incidents,
    open_incident,
    overdue_incidents,
    record_amazon_notified,
)
from orderbridge.privacy.models import AuditAction
from tests.privacy.fakes import FakeClock


def open_one(session: Session, clock: FakeClock, *, hours_ago: float = 2) -> int:
    incident = open_incident(
        session,
        summary="Unexpected login to the admin UI from an unknown IP range",
        detected_at=clock() - timedelta(hours=hours_ago),
        actor="user:7",
        clock=clock,
    )
    return incident.id


def test_p9_ac27_recording_an_incident_starts_a_24_hour_clock_from_detection(
    session: Session, clock: FakeClock
) -> None:
    detected = clock() - timedelta(hours=2)
    incident_id = open_one(session, clock)

    (shown,) = list_incidents(session, clock=clock)

    assert shown.id == incident_id
    assert shown.notify_to == AMAZON_SECURITY_CONTACT == "security@amazon.com"
    assert shown.notify_by == detected + NOTIFY_WITHIN
    assert shown.time_left == timedelta(hours=22)
    assert not shown.overdue
    assert [e.action for e in audit.entries(session)] == [AuditAction.INCIDENT_OPENED]


def test_p9_ac27_an_incident_not_notified_within_24_hours_is_overdue(
    session: Session, clock: FakeClock
) -> None:
    incident_id = open_one(session, clock)
    clock.advance(hours=22, minutes=1)

    (overdue,) = overdue_incidents(session, clock=clock)

    assert overdue.id == incident_id
    assert overdue.time_left == timedelta(0)


def test_p9_ac27_notifying_amazon_stops_the_clock(session: Session, clock: FakeClock) -> None:
    incident_id = open_one(session, clock)
    record_amazon_notified(session, incident_id, actor="user:7", clock=clock)
    clock.advance(days=3)

    assert overdue_incidents(session, clock=clock) == []
    (shown,) = list_incidents(session, clock=clock)
    assert shown.amazon_notified_at is not None
    assert audit.entries(session, action=AuditAction.INCIDENT_NOTIFIED)[0].detail["late"] is False


def test_a_late_notification_is_recorded_as_late(session: Session, clock: FakeClock) -> None:
    incident_id = open_one(session, clock, hours_ago=30)
    record_amazon_notified(session, incident_id, actor="user:7", clock=clock)

    assert audit.entries(session, action=AuditAction.INCIDENT_NOTIFIED)[0].detail["late"] is True


def test_closing_needs_a_notification_or_a_reason(session: Session, clock: FakeClock) -> None:
    incident_id = open_one(session, clock)

    with pytest.raises(IncidentError, match=r"security@amazon\.com was notified"):
        close_incident(session, incident_id, actor="user:7", clock=clock, resolution="contained")

    closed = close_incident(
        session,
        incident_id,
        actor="user:7",
        clock=clock,
        resolution="false alarm: the login was the operator's own VPN",
        not_notified_reason="not a security incident after investigation",
    )
    assert closed.status == "closed"
    assert list_incidents(session, clock=clock, open_only=True) == []
    assert overdue_incidents(session, clock=clock) == []
    with pytest.raises(IncidentError, match="already closed"):
        close_incident(session, incident_id, actor="user:7", clock=clock, resolution="again")


def test_ac27_investigation_notes_are_dated_and_exported_with_the_register(
    session: Session, clock: FakeClock
) -> None:
    incident_id = open_one(session, clock)
    add_note(session, incident_id, "rotated the LWA client secret", actor="user:7", clock=clock)
    clock.advance(hours=1)
    add_note(session, incident_id, "reviewed access logs for 7 days", actor="user:9", clock=clock)

    (shown,) = list_incidents(session, clock=clock)

    assert shown.notes.splitlines() == [
        "2026-11-23T09:30:00+00:00 user:7: rotated the LWA client secret",
        "2026-11-23T10:30:00+00:00 user:9: reviewed access logs for 7 days",
    ]
    assert audit.verify_chain(session) == 3


def test_the_register_lists_newest_detection_first(session: Session, clock: FakeClock) -> None:
    older = open_one(session, clock, hours_ago=5)
    newer = open_one(session, clock, hours_ago=1)

    assert [i.id for i in list_incidents(session, clock=clock)] == [newer, older]


@pytest.mark.parametrize(
    "summary", ["buyer qz@marketplace.amazon.co.uk complained", "call back +44 7700 900123", "   "]
)
def test_the_register_refuses_pii_and_empty_summaries(
    session: Session, clock: FakeClock, summary: str
) -> None:
    with pytest.raises(IncidentError):
        open_incident(session, summary=summary, detected_at=clock(), actor="user:7", clock=clock)


def test_detection_cannot_be_in_the_future_or_naive(session: Session, clock: FakeClock) -> None:
    with pytest.raises(IncidentError, match="after now"):
        open_incident(
            session, summary="x", detected_at=clock() + timedelta(minutes=5), actor="u", clock=clock
        )
    with pytest.raises(IncidentError, match="timezone"):
        open_incident(session, summary="x", detected_at=datetime(2026, 11, 23), actor="u", clock=clock)


def test_unknown_incident_is_a_clear_error(session: Session, clock: FakeClock) -> None:
    with pytest.raises(IncidentError, match="incident 99 does not exist"):
        record_amazon_notified(session, 99, actor="u", clock=clock)
