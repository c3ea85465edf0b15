"""The sandbox's virtual clock: real time scaled by a speed factor, plus explicit advances."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


def iso(ts: float) -> str:
    """Format epoch seconds as Amazon's ISO 8601 UTC form (whole seconds, `Z`)."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> float:
    """Parse an ISO 8601 timestamp (with `Z` or an offset; naive means UTC) into epoch seconds."""
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace(" ", "+"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


class VirtualClock:
    """Virtual time = anchor + (real elapsed x speed) + advances; speed 0 freezes it for tests."""

    def __init__(
        self, start: float, *, speed: float = 0.0, real: Callable[[], float] = time.monotonic
    ) -> None:
        self._real = real
        self._anchor_virtual = start
        self._anchor_real = real()
        self._speed = speed

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> float:
        """Current virtual time in epoch seconds."""
        return self._anchor_virtual + (self._real() - self._anchor_real) * self._speed

    def set_speed(self, speed: float) -> None:
        """Change the speed from now on without jumping the current virtual time."""
        self._rebase()
        self._speed = speed

    def advance(self, seconds: float) -> float:
        """Move virtual time forward (never backward) and return the new time."""
        if seconds < 0:
            raise ValueError(f"the clock cannot go back ({seconds} s)")
        self._rebase()
        self._anchor_virtual += seconds
        return self._anchor_virtual

    def set(self, moment: float) -> None:
        """Jump to a given virtual time (used when a world file fixes `now`)."""
        self._rebase()
        self._anchor_virtual = moment

    def _rebase(self) -> None:
        real_now = self._real()
        self._anchor_virtual += (real_now - self._anchor_real) * self._speed
        self._anchor_real = real_now
