"""Fixtures for the privacy tests: a key store in a temporary directory, a clock, synthetic canary buyers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session
from tests.privacy.fakes import CanaryBuyer, FakeClock, make_canary

from orderbridge.db import Base, make_engine
from orderbridge.privacy.keystore import KeyStore, open_keystore
from orderbridge.privacy.models import AuditEntry, SecurityIncident

PRIVACY_TABLES = [Base.metadata.tables[model.__tablename__] for model in (AuditEntry, SecurityIncident)]


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


@pytest.fixture
def session() -> Iterator[Session]:
    """Overrides the shared both-stores `session` until the lead's migrations carry the privacy tables.

    An in-memory SQLite store holding only the privacy tables; delete this fixture to run the same tests
    on both stores through tests/conftest.py.
    """
    engine = make_engine("sqlite://")
    Base.metadata.create_all(engine, tables=PRIVACY_TABLES)
    with Session(engine) as db_session:
        yield db_session
    engine.dispose()
