"""Column types of the book: exact money on both stores and timezone-aware UTC timestamps."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Numeric
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

AMOUNT_PLACES = 4
_SCALE = Decimal(10) ** AMOUNT_PLACES
_SQLITE_TIME = "%04d-%02d-%02d %02d:%02d:%02d.%06d"


class Amount(TypeDecorator[Decimal]):
    """A Decimal amount with 4 places: NUMERIC(18,4) on PostgreSQL, scaled INTEGER on SQLite.

    SQLite has no exact decimal type (NUMERIC there is a float), so the amount is stored as an
    integer count of 1/10,000ths, which keeps it exact and lets SQL still SUM it.
    """

    impl = Numeric(18, AMOUNT_PLACES)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(18, AMOUNT_PLACES, asdecimal=True))

    def process_bind_param(self, value: Decimal | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        if value != value.quantize(Decimal(1).scaleb(-AMOUNT_PLACES)):
            raise ValueError(f"amount {value} has more than {AMOUNT_PLACES} decimal places")
        if dialect.name == "sqlite":
            return int(value * _SCALE)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / _SCALE).quantize(Decimal(1).scaleb(-AMOUNT_PLACES))
        return Decimal(value)


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: the book stores only timezone-aware times")
        return value.astimezone(UTC)

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite: straight to the text SQLAlchemy's own processor stores ("YYYY-MM-DD HH:MM:SS.ffffff",
        # UTC), at half its cost (it formats through a dict per value): bulk imports write millions.
        def process(value: datetime | None) -> str | None:
            u = self.process_bind_param(value, dialect)
            if u is None:
                return None
            return _SQLITE_TIME % (u.year, u.month, u.day, u.hour, u.minute, u.second, u.microsecond)

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
