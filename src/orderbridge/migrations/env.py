"""Alembic environment: runs migrations on the connection or URL handed over by orderbridge.db_admin."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from orderbridge import schema
from orderbridge.db import make_engine

config = context.config
target_metadata = schema.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.connect() as fresh:
        _run(fresh)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("orderbridge runs migrations online only")
run_migrations_online()
