"""The stores: migrations produce exactly the models' schema; SQLite runs with WAL and foreign keys."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, text

from orderbridge import db_admin
from orderbridge.db import make_engine
from tests.conftest import STORES


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_migrations_produce_exactly_the_models_schema(fresh_store_url: str) -> None:
    engine = make_engine(fresh_store_url)
    try:
        assert db_admin.schema_differences(engine) == []
        db_admin.upgrade(engine)  # a second upgrade is a no-op
        assert db_admin.schema_differences(engine) == []
    finally:
        engine.dispose()


def test_an_empty_store_differs_from_the_models(tmp_path: pytest.TempPathFactory) -> None:
    engine = make_engine(f"sqlite:///{tmp_path}/empty.db")
    assert db_admin.schema_differences(engine)  # the check above can fail
    engine.dispose()


def test_sqlite_runs_with_wal_and_foreign_keys(engines: dict[str, Engine]) -> None:
    with engines["sqlite"].connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
