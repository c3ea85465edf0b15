"""Keyset pagination: a page is read after (or before) the sort key of a row, never by OFFSET.

OFFSET reads and throws away every row before the page, so page 20,000 of a million orders would cost
what the whole table costs; a keyset page costs the same wherever it is. A cursor is the sort key of the
row it continues from, with the direction, as an opaque URL-safe token.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Select, literal, tuple_

from orderbridge.book.errors import InvalidValueError
from orderbridge.clock import as_utc

T = TypeVar("T")
AnySelect = Select[*tuple[Any, ...]]
Key = tuple[Any, ...]
DEFAULT_SIZE = 50
MAX_SIZE = 200


class Direction(StrEnum):
    AFTER = "a"
    BEFORE = "b"


@dataclass(frozen=True)
class Cursor:
    direction: Direction
    key: Key


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of rows with the cursors of the pages either side (None: there is none)."""

    items: list[T]
    next_cursor: str | None
    prev_cursor: str | None
    size: int

    @property
    def is_first(self) -> bool:
        return self.prev_cursor is None


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"t": as_utc(value).isoformat()}
    return value


def _typed(value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"t"}:
        return as_utc(datetime.fromisoformat(str(value["t"])))
    return value


def encode(direction: Direction, key: Key) -> str:
    text = json.dumps([direction.value, [_plain(part) for part in key]], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode(token: str | None, *, parts: int) -> Cursor | None:
    """The cursor of a token from `encode`; a damaged token names itself and is refused."""
    if not token:
        return None
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        direction, key = json.loads(raw)
        cursor = Cursor(Direction(direction), tuple(_typed(part) for part in key))
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidValueError(
            f"page cursor {token[:40]!r} is not valid; start from the first page"
        ) from None
    if len(cursor.key) != parts or not all(isinstance(p, str | int | datetime) for p in cursor.key):
        raise InvalidValueError(f"page cursor {token[:40]!r} is not valid; start from the first page")
    return cursor


def page_size(size: int | None) -> int:
    if size is None:
        return DEFAULT_SIZE
    if size < 1 or size > MAX_SIZE:
        raise InvalidValueError(f"page size {size}: must be between 1 and {MAX_SIZE}")
    return size


def _beyond(columns: Sequence[Any], key: Key, *, descending: bool, forward: bool) -> ColumnElement[bool]:
    """Rows past `key` in reading direction. Row-value comparison keeps the index range scan on both stores;
    a single column compares plainly."""
    later = descending != forward  # descending + forward means smaller keys
    values = [literal(value, type_=column.type) for column, value in zip(columns, key, strict=True)]
    if len(columns) == 1:
        found: ColumnElement[bool] = columns[0] > values[0] if later else columns[0] < values[0]
        return found
    left, right = tuple_(*columns), tuple_(*values)
    found = left > right if later else left < right
    return found


def keyset_page(
    session: Any,
    query: AnySelect,
    *,
    columns: Sequence[Any],
    key_of: Callable[[Any], Key],
    cursor: Cursor | None,
    size: int,
    descending: bool = True,
    convert: Callable[[Any], T],
) -> Page[T]:
    """Run `query` (filtered, unordered, unlimited) for one page ordered by `columns`."""
    forward = cursor is None or cursor.direction == Direction.AFTER
    if cursor is not None:
        query = query.where(_beyond(columns, cursor.key, descending=descending, forward=forward))
    ascending_read = descending != forward
    ordering = [column.asc() if ascending_read else column.desc() for column in columns]
    rows = list(session.execute(query.order_by(*ordering).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    items = [convert(row) for row in rows]
    has_next = more if forward else True
    has_prev = (cursor is not None) if forward else more
    next_cursor = encode(Direction.AFTER, key_of(rows[-1])) if rows and has_next else None
    prev_cursor = encode(Direction.BEFORE, key_of(rows[0])) if rows and has_prev else None
    return Page(items, next_cursor, prev_cursor, size)
