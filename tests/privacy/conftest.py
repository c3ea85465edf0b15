"""Fixtures for the privacy tests: a key store in a temporary directory, synthetic canary buyers."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.privacy.canaries import CanaryBuyer, make_canary

from orderbridge.privacy.keystore import KeyStore, open_keystore


@pytest.fixture
def canary() -> CanaryBuyer:
    return make_canary()


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "secrets" / "kek"


@pytest.fixture
def keystore(tmp_path: Path, key_file: Path) -> KeyStore:
    return open_keystore(tmp_path / "keys", key_file=key_file, environ={})
