"""Test fakes for privacy: canary buyers (from orderbridge.privacy.canary), a hand-moved clock, byte dumps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from orderbridge.privacy.canary import CanaryBuyer, make_canary_buyer

__all__ = ["MARKETPLACE", "SELLER", "CanaryBuyer", "FakeClock", "all_bytes_under", "make_canary"]

SELLER = "A2SELLER0001"
MARKETPLACE = "A1F83G8C2ARO7P"


def make_canary() -> CanaryBuyer:
    return make_canary_buyer()


def all_bytes_under(root: Path) -> bytes:
    """Every byte of every file under `root`, for plaintext and key-material scans."""
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())


class FakeClock:
    """An injected clock: aware UTC, moved by hand."""

    def __init__(self, now: datetime = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)
