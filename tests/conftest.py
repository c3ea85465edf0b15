"""Fixtures shared by every test: the book on both stores (SQLite and PostgreSQL), rolled back per test.

With CI=true a PostgreSQL that cannot be reached fails the run instead of skipping its tests.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from orderbridge import db_admin
from orderbridge.db import OUTSIDE_TRANSACTION, make_engine

PG_SERVER = os.environ.get("ORDERBRIDGE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
STORES = ("sqlite", "postgresql")
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def _worker() -> str:
    """A name unique to this test process, so that concurrent runs never share a database."""
    return f"{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_{os.getpid()}"


def _pg_admin() -> psycopg.Connection[tuple[object, ...]] | None:
    try:
        return psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_SERVER} is required with CI=true: {error}")
        return None


def pg_url(database: str) -> str:
    base = PG_SERVER.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{database}"


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """A migrated PostgreSQL database that fresh test databases are copied from."""
    admin = _pg_admin()
    if admin is None:
        yield None
        return
    name = f"ob_template_{_worker()}"
    with admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(pg_url(name))
    db_admin.upgrade(engine)
    engine.dispose()
    yield name
    with psycopg.connect(PG_SERVER, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    db_admin.upgrade(engine)
    with engine.connect().execution_options(**OUTSIDE_TRANSACTION) as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def fresh_store_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, pg_template: str | None
) -> Iterator[str]:
    """The URL of a new, migrated, empty store of the kind named by the `store` parameter."""
    kind = getattr(request, "param", "sqlite")
    if kind == "sqlite":
        path = tmp_path / "book.db"
        path.write_bytes(sqlite_template.read_bytes())
        yield f"sqlite:///{path}"
        return
    if pg_template is None:
        pytest.skip("PostgreSQL is not reachable (set CI=true to make this a failure)")
    name = f"ob_{uuid.uuid4().hex[:12]}"
    admin = _pg_admin()
    assert admin is not None
    with admin:
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"')
    yield pg_url(name)
    with psycopg.connect(PG_SERVER, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def engines(
    sqlite_template: Path, pg_template: str | None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Engine]]:
    """One long-lived engine per store; tests run inside a transaction that is rolled back."""
    path = tmp_path_factory.mktemp("shared") / "book.db"
    path.write_bytes(sqlite_template.read_bytes())
    found = {"sqlite": make_engine(f"sqlite:///{path}")}
    if pg_template is not None:
        shared = f"ob_shared_{_worker()}"
        admin = _pg_admin()
        assert admin is not None
        with admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{shared}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{shared}" TEMPLATE "{pg_template}"')
        found["postgresql"] = make_engine(pg_url(shared))
    yield found
    for engine in found.values():
        engine.dispose()
    if pg_template is not None:
        with psycopg.connect(PG_SERVER, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "ob_shared_{_worker()}" WITH (FORCE)')


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def session(store: str, engines: dict[str, Engine]) -> Iterator[Session]:
    """A session on the `store` whose every change is rolled back after the test."""
    if store not in engines:
        pytest.skip("PostgreSQL is not reachable (set CI=true to make this a failure)")
    connection = engines[store].connect()
    outer = connection.begin()
    with Session(bind=connection, join_transaction_mode="create_savepoint") as db_session:
        yield db_session
    outer.rollback()
    connection.close()
