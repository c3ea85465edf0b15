"""Test fakes for privacy: synthetic canary buyers (DPP §3.11), a hand-moved clock, byte scans."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SELLER = "A2SELLER0001"
MARKETPLACE = "A1F83G8C2ARO7P"


@dataclass(frozen=True)
class CanaryBuyer:
    """A synthetic buyer whose every field is a unique random token."""

    name: str
    email: str
    phone: str
    address_line1: str

    @property
    def values(self) -> tuple[str, ...]:
        return (self.name, self.email, self.phone, self.address_line1)


def make_canary() -> CanaryBuyer:
    token = secrets.token_hex(5)
    return CanaryBuyer(
        name=f"Qz{token.title()} Canarysson",
        email=f"qz{token}@marketplace.amazon.co.uk",
        phone=f"+44 7700 9{secrets.randbelow(10**5):05d}",
        address_line1=f"{secrets.randbelow(900) + 100} Qz{token} Lane",
    )


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
