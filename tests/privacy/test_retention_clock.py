"""The retention clock: the right due time for every kind of order, never later than Amazon allows (AC-12)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderbridge.privacy.errors import RetentionSettingError
from orderbridge.privacy.retention_clock import (
    AMAZON_LIMIT,
    FulfilmentFacts,
    contact_due,
    epoch_of,
    retention_anchor,
    retention_due,
    retention_period,
    sweepable,
)

T0 = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.mark.parametrize(
    "case, facts, due",
    [
        ("shipped", FulfilmentFacts((T0,), fully_shipped=True), T0 + 30 * DAY),
        ("partially shipped", FulfilmentFacts((T0,)), None),
        ("partially shipped, rest cancelled", FulfilmentFacts((T0,), T0 + 2 * DAY), T0 + 32 * DAY),
        ("cancelled", FulfilmentFacts(cancelled_at=T0), T0 + 30 * DAY),
        ("pending, never shipped", FulfilmentFacts(), None),
        ("shipped in two parts", FulfilmentFacts((T0, T0 + 3 * DAY), fully_shipped=True), T0 + 33 * DAY),
        ("re-shipped (replacement)", FulfilmentFacts((T0, T0 + 9 * DAY), fully_shipped=True), T0 + 39 * DAY),
    ],
)
def test_ac12_p1_due_time_for_every_kind_of_order(
    case: str, facts: FulfilmentFacts, due: datetime | None
) -> None:
    assert retention_due(facts) == due, case


def test_p1_the_period_can_be_shortened_but_never_lengthened() -> None:
    assert retention_due(FulfilmentFacts((T0,), fully_shipped=True), retention_period(7)) == T0 + 7 * DAY
    for days in (31, 0, -1):
        with pytest.raises(RetentionSettingError):
            retention_period(days)


def test_due_times_are_utc_whatever_zone_came_in() -> None:
    tokyo = T0.astimezone(timezone(timedelta(hours=9)))
    due = retention_due(FulfilmentFacts((tokyo,), fully_shipped=True))
    assert due == T0 + 30 * DAY
    assert due is not None and due.tzinfo == UTC


def test_naive_times_are_refused() -> None:
    with pytest.raises(RetentionSettingError, match="timezone"):
        retention_anchor(FulfilmentFacts((datetime(2026, 11, 1),), fully_shipped=True))


def test_p1_a_contact_falls_due_with_its_last_amazon_order() -> None:
    assert contact_due([T0, T0 + 5 * DAY]) == T0 + 5 * DAY
    assert contact_due([T0, None]) is None
    assert contact_due([]) is None


def test_epochs_are_utc_days_and_shred_no_later_than_their_day() -> None:
    due = datetime(2026, 12, 23, 23, 30, tzinfo=timezone(timedelta(hours=-5)))  # 04:30 UTC on the 24th
    assert epoch_of(due) == date(2026, 12, 24)
    assert not sweepable(date(2026, 12, 24), datetime(2026, 12, 23, 23, 59, tzinfo=UTC))
    assert sweepable(date(2026, 12, 24), datetime(2026, 12, 24, 0, 5, tzinfo=UTC))
    assert sweepable(date(2026, 12, 24), due)


times = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC))


@given(
    shipments=st.lists(times, max_size=4),
    cancelled=st.none() | times,
    fully=st.booleans(),
    transit=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)),
    days=st.integers(1, 30),
)
def test_ac12_due_is_never_later_than_delivery_plus_30_days(
    shipments: list[datetime], cancelled: datetime | None, fully: bool, transit: timedelta, days: int
) -> None:
    facts = FulfilmentFacts(tuple(shipments), cancelled, fully)
    due = retention_due(facts, retention_period(days))
    if due is None:
        return
    anchor = retention_anchor(facts)
    assert anchor is not None
    delivered = anchor + transit  # delivery never precedes the last shipment or the cancellation
    assert due <= delivered + AMAZON_LIMIT
    assert sweepable(epoch_of(due), due)  # the epoch is shreddable by the time the record falls due
