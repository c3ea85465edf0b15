"""The API's page envelope and paging parameters (keyset cursors from book/queries/paging.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

from orderbridge.book.errors import InvalidValueError
from orderbridge.book.queries.paging import MAX_SIZE, Page
from orderbridge.web.problems import ApiError

T = TypeVar("T")
U = TypeVar("U")

CursorParam = Annotated[
    str | None, Query(max_length=400, description="`next_cursor` or `prev_cursor` of the page before.")
]
SizeParam = Annotated[int, Query(ge=1, le=MAX_SIZE, description="Items per page.")]


class ApiPage(BaseModel, Generic[T]):
    """One page of items and the cursors of the pages either side (null: there is none)."""

    items: list[T]
    next_cursor: str | None
    prev_cursor: str | None


def page_of(page: Page[U], convert: Callable[[U], T]) -> ApiPage[T]:
    return ApiPage[T](
        items=[convert(item) for item in page.items],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )


@contextmanager
def cursor_checked() -> Iterator[None]:
    """A damaged cursor is the `cursor` parameter's fault (422 naming it), not a conflict."""
    try:
        yield
    except InvalidValueError as error:
        if "cursor" in str(error):
            raise ApiError(422, str(error), field="query.cursor") from None
        raise
