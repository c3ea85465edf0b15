"""Fixtures for the privacy tests: a key store in a temporary directory, a clock, synthetic canary buyers.

Database tests use the shared `session` of tests/conftest.py (both stores, migrated, rolled back).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from orderbridge.privacy.keystore import KeyStore, open_keystore
from tests.privacy.fakes import CanaryBuyer, FakeClock, make_canary


@pytest.fixture
def canary() -> CanaryBuyer:
    return make_canary()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "kek"


@pytest.fixture
def keystore(tmp_path: Path, key_file: Path) -> KeyStore:
    return open_keystore(tmp_path / "keys", key_file=key_file, environ={})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
