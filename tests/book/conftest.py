"""Book test fixtures: a small book on each store."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.book.builders import Book, make_book


@pytest.fixture
def book(session: Session) -> Book:
    return make_book(session)
