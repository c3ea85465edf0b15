"""Fixtures for the privacy tests: a key store in a temporary directory, synthetic canary buyers."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest

from orderbridge.privacy.keystore import KeyStore, open_keystore

SELLER = "A2SELLER0001"
MARKETPLACE = "A1F83G8C2ARO7P"


@dataclass(frozen=True)
class CanaryBuyer:
    """A synthetic buyer whose every field is a unique random token (DPP §3.11)."""

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


@pytest.fixture
def canary() -> CanaryBuyer:
    return make_canary()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "kek"


@pytest.fixture
def keystore(tmp_path: Path, key_file: Path) -> KeyStore:
    return open_keystore(tmp_path / "keys", key_file=key_file, environ={})


def all_bytes_under(root: Path) -> bytes:
    """Every byte of every file under `root`, for plaintext and key-material scans."""
    return b"".join(path.read_bytes() for path in sorted(root.rglob("*")) if path.is_file())
