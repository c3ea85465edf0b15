"""The carrier list: the defaults are shown before anything is stored, and reading it never writes (a page
that shows it may run in a read-only transaction); the first change stores the defaults beside it."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.book.orders.carriers import (
    DEFAULT_CARRIERS,
    Carrier,
    find_carrier,
    list_carriers,
    save_carrier,
)


def _stored(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Carrier)) or 0)


def test_reading_the_carrier_list_shows_the_defaults_and_writes_nothing(session: Session) -> None:
    shown = list_carriers(session)
    found = find_carrier(session, "royal mail")

    assert {c.name for c in shown} == {name for name, _ in DEFAULT_CARRIERS}
    assert [c.name.lower() for c in shown] == sorted(c.name.lower() for c in shown)
    assert found is not None and found.name == "Royal Mail" and found.has_tracking
    assert _stored(session) == 0


def test_the_first_change_keeps_the_defaults_beside_it(session: Session) -> None:
    save_carrier(session, "Local courier", has_tracking=False)

    assert _stored(session) == len(DEFAULT_CARRIERS) + 1
    courier = find_carrier(session, "LOCAL COURIER")
    assert courier is not None and not courier.has_tracking
    assert find_carrier(session, "UPS") is not None
