"""Calendar days: the UTC day of a stored timestamp as SQL on either store (for per-day charts), and the
bounds of the day around a moment (for "due today")."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
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


def day_bounds(moment: datetime) -> tuple[datetime, datetime]:
    """The start and end (exclusive) of the day `moment` falls in, as aware datetimes.

    Days are UTC days for now. This is the one place that decides where a day starts: an installation
    time zone replaces UTC here.
    """
    day = moment.astimezone(UTC).date()
    start = datetime.combine(day, time(0), UTC)
    return start, start + timedelta(days=1)
