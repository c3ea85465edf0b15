"""The virtual clock: speed scales real time, advances jump, nothing goes back (issue 4 §3)."""

from __future__ import annotations

import pytest

from orderbridge.simulator.clock import VirtualClock, iso, parse_iso
from tests.simulator.sandbox_helpers import Api


class FakeReal:
    """A hand-driven stand-in for time.monotonic."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_speed_600_turns_one_real_minute_into_ten_hours() -> None:
    real = FakeReal()
    clock = VirtualClock(parse_iso("2026-01-01T00:00:00Z"), speed=600, real=real)
    real.t += 60
    assert iso(clock.now()) == "2026-01-01T10:00:00Z"


def test_speed_change_does_not_jump_and_advance_adds_virtual_time() -> None:
    real = FakeReal()
    clock = VirtualClock(0.0, speed=2, real=real)
    real.t += 10
    clock.set_speed(0)
    assert clock.now() == 20
    real.t += 100
    assert clock.now() == 20
    assert clock.advance(5) == 25
    with pytest.raises(ValueError, match="cannot go back"):
        clock.advance(-1)


def test_iso_round_trip_accepts_offsets_and_naive_times() -> None:
    assert parse_iso("2026-03-02T13:00:00+01:00") == parse_iso("2026-03-02T12:00:00Z")
    assert parse_iso("2026-03-02T12:00:00") == parse_iso("2026-03-02T12:00:00Z")
    assert iso(parse_iso("2026-03-02T12:00:00.900Z")) == "2026-03-02T12:00:00Z"


def test_admin_clock_advances_runs_due_events_and_sets_speed(na: Api) -> None:
    pending = [o for o in na.sandbox.world.orders.values() if o.status == "PENDING"]
    state = na.admin("POST", "/clock", {"advance": 3600}).json()
    assert state["now"] == "2026-03-02T13:00:00Z"
    assert all(o.status != "PENDING" for o in pending)
    assert na.admin("POST", "/clock", {"speed": 60}).json()["speed"] == 60
    na.sandbox.clock.set_speed(0)
    moved = na.admin("POST", "/clock", {"to": "2026-03-03T00:00:00Z"}).json()
    assert moved["now"] >= "2026-03-03T00:00:00Z"
