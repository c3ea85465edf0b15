"""Fixtures for the privacy tests: a key store in a temporary directory, a clock, synthetic canary buyers."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.orm import Session

from orderbridge.db import Base, make_engine
from orderbridge.privacy.keystore import KeyStore, open_keystore
from orderbridge.privacy.models import AuditEntry, SecurityIncident
from tests.privacy.fakes import CanaryBuyer, FakeClock, make_canary

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


@pytest.fixture(scope="session")
def privacy_pg_url() -> Iterator[str | None]:
    """A scratch PostgreSQL database holding only the privacy tables, or None when none is reachable."""
    server = os.environ.get("ORDERBRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
    try:
        admin = psycopg.connect(server, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {server} is required with CI=true: {error}")
        yield None
        return
    name = f"ob_privacy_{uuid.uuid4().hex[:10]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    engine = make_engine(url)
    Base.metadata.create_all(engine, tables=PRIVACY_TABLES)
    engine.dispose()
    yield url
    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def session(request: pytest.FixtureRequest, privacy_pg_url: str | None) -> Iterator[Session]:
    """Overrides the shared `session` until the lead's migrations carry the privacy tables.

    SQLite in memory, or a scratch PostgreSQL database, each holding only the privacy tables and emptied
    after each test. Delete this fixture (and `privacy_pg_url`) to run on the shared migrated stores.
    """
    if request.param == "sqlite":
        engine = make_engine("sqlite://")
        Base.metadata.create_all(engine, tables=PRIVACY_TABLES)
    elif privacy_pg_url is None:
        pytest.skip("PostgreSQL is not reachable (set CI=true to make this a failure)")
    else:
        engine = make_engine(privacy_pg_url)
    with Session(engine) as db_session:
        yield db_session
    with engine.begin() as connection:
        for table in reversed(PRIVACY_TABLES):
            connection.execute(table.delete())
    engine.dispose()
