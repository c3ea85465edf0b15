"""Sync cursors: how far each account's order download got, advanced in the transaction that stores a page.

A cursor belongs to (account, marketplace set, kind). `position` is the `lastUpdatedBefore` of the last
search that finished; the next search starts `overlap` earlier, because Amazon makes some orders visible
only after their `lastUpdatedTime` (late-arriving orders) and the inbox ignores what it already holds.
While a search is under way, its window and the next page's token are kept too, so that a process that
dies between pages resumes the same search instead of skipping the pages it never fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.book.types import UtcDateTime
from orderbridge.clock import as_utc
from orderbridge.db import Base, BigId

# SPAPI.md §5: lastUpdatedBefore must be at least two minutes before the request.
TWO_MINUTES = timedelta(minutes=2)


class SyncCursor(Base):
    __tablename__ = "amazon_sync_cursors"
    __table_args__ = (UniqueConstraint("account_id", "kind", "marketplaces"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("amazon_seller_accounts.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    marketplaces: Mapped[str] = mapped_column(String(500))
    position: Mapped[datetime | None] = mapped_column(UtcDateTime())
    search_after: Mapped[datetime | None] = mapped_column(UtcDateTime())
    search_before: Mapped[datetime | None] = mapped_column(UtcDateTime())
    next_token: Mapped[str | None] = mapped_column(Text)
    pages: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class Window:
    """One incremental search: orders updated in [after, before); `token` resumes it mid-way."""

    after: datetime
    before: datetime
    token: str | None = None

    @property
    def resumed(self) -> bool:
        return self.token is not None


def marketplace_key(marketplace_ids: Sequence[str]) -> str:
    return ",".join(sorted(set(marketplace_ids)))


def cursor_for(session: Session, account_id: int, marketplace_ids: Sequence[str], kind: str) -> SyncCursor:
    """The cursor row (created, unflushed, when the account never synced these marketplaces)."""
    key = marketplace_key(marketplace_ids)
    cursor = session.scalar(
        select(SyncCursor).where(
            SyncCursor.account_id == account_id, SyncCursor.kind == kind, SyncCursor.marketplaces == key
        )
    )
    if cursor is None:
        cursor = SyncCursor(account_id=account_id, kind=kind, marketplaces=key, pages=0)
        session.add(cursor)
    return cursor


def next_window(
    cursor: SyncCursor, *, now: datetime, overlap: timedelta, first_lookback: timedelta
) -> Window | None:
    """Where the next search runs: the unfinished one, or from `position - overlap` (a first sync looks
    `first_lookback` back) to two minutes ago. None when that window would be empty."""
    if cursor.next_token and cursor.search_after is not None and cursor.search_before is not None:
        return Window(as_utc(cursor.search_after), as_utc(cursor.search_before), cursor.next_token)
    before = (now - TWO_MINUTES).replace(microsecond=0)
    start = as_utc(cursor.position) - overlap if cursor.position is not None else now - first_lookback
    start = start.replace(microsecond=0)
    return Window(start, before) if start < before else None


def advance(
    cursor: SyncCursor,
    window: Window,
    *,
    next_token: str | None,
    high_water_mark: datetime | None,
    now: datetime,
) -> None:
    """Record a stored page: mid-search, the token of the next page; at the end, the new position."""
    cursor.pages = (cursor.pages or 0) + 1
    cursor.updated_at = now
    if next_token:
        cursor.search_after, cursor.search_before, cursor.next_token = window.after, window.before, next_token
        return
    end = high_water_mark or window.before
    if cursor.position is None or end > as_utc(cursor.position):
        cursor.position = end
    cursor.search_after = cursor.search_before = cursor.next_token = None


def abandon_search(cursor: SyncCursor) -> None:
    """Forget an unfinished search whose token Amazon no longer takes; the next one starts over."""
    cursor.search_after = cursor.search_before = cursor.next_token = None
