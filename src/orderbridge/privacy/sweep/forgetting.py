"""Making the store forget what the sweep deleted: SQLite `secure_delete` and checkpoint, PostgreSQL VACUUM.

DPP §3.8 (verified locally): an UPDATE leaves the old plaintext in SQLite's file unless `secure_delete`
is on, and in its WAL until a checkpoint; PostgreSQL keeps dead row versions until VACUUM.
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Engine, Table
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.book.contacts import Contact
from orderbridge.book.custom_fields import CustomFieldValue
from orderbridge.book.orders.model import OrderNote, SalesOrder
from orderbridge.db import OUTSIDE_TRANSACTION
from orderbridge.privacy.tables import registered_pii_tables

# Owners before what follows their key: notes and custom field values take their order's or contact's.
PII_MODELS: tuple[Any, ...] = (SalesOrder, Contact, OrderNote, CustomFieldValue)


def swept_models() -> tuple[Any, ...]:
    """The book's PII models and the tables other packages registered."""
    return (*PII_MODELS, *(entry.model for entry in registered_pii_tables()))


class SecureTransaction:
    """A transaction whose SQLite connection overwrites what it deletes (secure_delete, DPP §3.8)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._context = sessions.begin()

    def __enter__(self) -> Session:
        session = self._context.__enter__()
        if session.get_bind().dialect.name == "sqlite":
            session.connection().exec_driver_sql("PRAGMA secure_delete=ON")
        return session

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)


def forget_store(engine: Engine) -> None:
    """Make the store drop old row versions: SQLite WAL checkpoint (TRUNCATE); PostgreSQL VACUUM."""
    if engine.dialect.name == "sqlite":
        with engine.connect().execution_options(**OUTSIDE_TRANSACTION) as connection:
            connection.exec_driver_sql("PRAGMA secure_delete=ON")
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    tables = ", ".join(cast(Table, model.__table__).name for model in swept_models())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM {tables}")
