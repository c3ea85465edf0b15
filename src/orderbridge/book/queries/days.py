"""The UTC calendar day of a stored timestamp, as SQL on either store (for per-day charts)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Date, String, cast, func
from sqlalchemy.orm import Session


def day_of(session: Session, column: Any) -> Any:
    """SQL for the UTC day of `column`: SQLite stores UTC text ('YYYY-MM-DD hh:mm:ss'), PostgreSQL a
    timestamptz that is converted to UTC before its date is taken (the session's zone must not matter)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.substr(cast(column, String), 1, 10)
    return cast(func.timezone("UTC", column), Date)


def as_day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
