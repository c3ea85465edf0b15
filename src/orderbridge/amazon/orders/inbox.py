"""The inbox: every order fetched from Amazon, stored raw by (AmazonOrderId, lastUpdatedTime) before booking.

Nothing fetched is lost when mapping fails or the process dies: a page of orders is stored in the
transaction that advances the sync cursor, and booking works from here. The payload is buyer data, so
it is a `PIIText` column on a table with `PIIRecordColumns`: privacy seals it (bulk inserts go through
`book.pii.seal_rows`) and the retention sweep redacts it like any other PII field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, cast

import orjson
from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

from orderbridge.amazon.api.types import parse_amazon_time
from orderbridge.book.pii import REDACTED, PIIRecordColumns, PIIText, seal_rows
from orderbridge.book.types import UtcDateTime
from orderbridge.clock import as_utc
from orderbridge.db import Base, BigId
from orderbridge.privacy.tables import register_pii_table

ORDER = "order"
TABLE = "amazon_inbox"


class InboxStatus(StrEnum):
    RECEIVED = "received"  # stored, not booked yet
    BOOKED = "booked"  # applied to the book (or found unchanged)
    QUARANTINED = "quarantined"  # mapping or booking refused it; `reason` says why
    SKIPPED = "skipped"  # nothing to book: an older version, pending and not downloaded, not a sale


class InboxItem(PIIRecordColumns, Base):
    """One version of one Amazon order as fetched; (account, kind, id, version time) is its natural key."""

    __tablename__ = TABLE
    __table_args__ = (
        UniqueConstraint("account_id", "kind", "natural_id", "version_time"),
        Index("ix_amazon_inbox_account_id_status", "account_id", "status"),
        Index("ix_amazon_inbox_status", "status", "id"),  # the dashboard's quarantine, across accounts
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("amazon_seller_accounts.id", ondelete="CASCADE"))
    marketplace_id: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20), default=ORDER)
    natural_id: Mapped[str] = mapped_column(String(60), index=True)
    version_time: Mapped[datetime] = mapped_column(UtcDateTime())
    payload: Mapped[str | None] = mapped_column(PIIText())
    status: Mapped[InboxStatus] = mapped_column(String(20), default=InboxStatus.RECEIVED)
    reason: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


# P1: the raw payload is needed until the order is in the book; once booked or skipped it falls due
# with the retention period counted from then (the booked order carries its own, usually later, due).
register_pii_table(
    InboxItem,
    due=lambda cutoff: and_(
        InboxItem.status.in_((InboxStatus.BOOKED, InboxStatus.SKIPPED)), InboxItem.processed_at < cutoff
    ),
    rule="P1: inbox payload booked or skipped + retention period",
)


def _key(doc: dict[str, Any]) -> tuple[str, datetime]:
    return str(doc["orderId"]), parse_amazon_time(str(doc["lastUpdatedTime"]))


def _marketplace(doc: dict[str, Any]) -> str:
    channel = doc.get("salesChannel")
    value = channel.get("marketplaceId") if isinstance(channel, dict) else None
    return str(value) if value else ""


def store_orders(
    session: Session, account_id: int, orders: Sequence[dict[str, Any]], *, now: datetime
) -> int:
    """Store the orders not stored yet (same id and `lastUpdatedTime` again: nothing); returns how many
    were new. The caller holds the account's sync lease, so no other writer races on the same keys."""
    fresh: dict[tuple[str, datetime], dict[str, Any]] = {}
    for doc in orders:
        fresh.setdefault(_key(doc), doc)  # a page may repeat an order (duplicate pages happen)
    if not fresh:
        return 0
    ids = sorted({order_id for order_id, _ in fresh})
    for order_id, version in session.execute(
        select(InboxItem.natural_id, InboxItem.version_time).where(
            InboxItem.account_id == account_id, InboxItem.kind == ORDER, InboxItem.natural_id.in_(ids)
        )
    ):
        fresh.pop((order_id, as_utc(version)), None)
    rows = [
        {
            "account_id": account_id,
            "marketplace_id": _marketplace(doc),
            "kind": ORDER,
            "natural_id": order_id,
            "version_time": version,
            "payload": json.dumps(doc, separators=(",", ":"), ensure_ascii=False),
            "status": InboxStatus.RECEIVED,
            "attempts": 0,
            "received_at": now,
        }
        for (order_id, version), doc in fresh.items()
    ]
    if rows:
        table = cast(Table, InboxItem.__table__)
        seal_rows(session, table, rows)  # P2: privacy seals the buyer data before the INSERT
        session.execute(insert(table), rows)
    return len(rows)


def payload(session: Session, item: InboxItem) -> dict[str, Any] | None:
    """The stored order document; None once the retention sweep redacted it."""
    return payloads(session, [item])[0]


def payloads(session: Session, items: Sequence[InboxItem]) -> list[dict[str, Any] | None]:
    """The stored order documents of a batch of items, in order (None where the sweep redacted one);
    sealed ones are opened with the installation's keys, each key set up once for the batch."""
    opener = None
    found: list[dict[str, Any] | None] = []
    for item in items:
        text = item.payload
        if text is not None and text.startswith("ob1:"):  # sealed by privacy
            if opener is None:
                from orderbridge.privacy import sealing

                privacy = sealing.privacy_of(session)
                opener = sealing.batch_opener(privacy) if privacy is not None else _unopenable
            text = opener(text, TABLE, item.pii_ref, "payload")
        if text is None or text == REDACTED or text.startswith("ob1:"):
            found.append(None)
            continue
        loaded = orjson.loads(text)
        found.append(loaded if isinstance(loaded, dict) else None)
    return found


def _unopenable(_value: str | None, _table: str, _ref: str, _name: str) -> str | None:
    return None  # sealed, and this session has no keys to open it


def pending_items(session: Session, account_id: int, *, limit: int = 500) -> list[InboxItem]:
    """Received items of an account, oldest version first.

    The ids are picked first, then their items loaded: sorting only (version time, id) keeps the
    payloads out of the sort of every received item of the account.
    """
    wanted = list(
        session.scalars(
            select(InboxItem.id)
            .where(InboxItem.account_id == account_id, InboxItem.status == InboxStatus.RECEIVED)
            .order_by(InboxItem.version_time, InboxItem.id)
            .limit(limit)
        )
    )
    if not wanted:
        return []
    found = {item.id: item for item in session.scalars(select(InboxItem).where(InboxItem.id.in_(wanted)))}
    return [found[item_id] for item_id in wanted if item_id in found]


def quarantined_items(session: Session, account_id: int | None = None) -> list[InboxItem]:
    query = select(InboxItem).where(InboxItem.status == InboxStatus.QUARANTINED)
    if account_id is not None:
        query = query.where(InboxItem.account_id == account_id)
    return list(session.scalars(query.order_by(InboxItem.version_time, InboxItem.id)))


def quarantine(item: InboxItem, reason: str, *, now: datetime) -> None:
    """Set an item aside with a readable reason (names fields and values, never buyer data)."""
    item.status = InboxStatus.QUARANTINED
    item.reason = reason[:500]
    item.attempts += 1
    item.processed_at = now


def mark_booked(session: Session, items: Sequence[InboxItem], *, now: datetime) -> None:
    """Items applied to the book (or found unchanged), in one UPDATE; the session's copies follow."""
    if not items:
        return
    session.execute(
        update(InboxItem)
        .where(InboxItem.id.in_([item.id for item in items]))
        .values(status=InboxStatus.BOOKED, reason=None, attempts=InboxItem.attempts + 1, processed_at=now),
        execution_options={"synchronize_session": False},
    )
    for item in items:  # cheaper than letting the session evaluate the UPDATE over every object it holds
        for name, value in (("status", InboxStatus.BOOKED), ("reason", None), ("processed_at", now)):
            set_committed_value(item, name, value)
        set_committed_value(item, "attempts", item.attempts + 1)


def mark_skipped(item: InboxItem, reason: str, *, now: datetime) -> None:
    item.status = InboxStatus.SKIPPED
    item.reason = reason[:500]
    item.processed_at = now


def requeue(items: Iterable[InboxItem]) -> int:
    """Quarantined items back to received, for `orders retry` after a fix; returns how many."""
    count = 0
    for item in items:
        item.status = InboxStatus.RECEIVED
        count += 1
    return count


def known_order_ids(session: Session, account_id: int, order_ids: Sequence[str]) -> set[str]:
    """Which of these order ids the inbox holds in any version."""
    found: set[str] = set()
    for start in range(0, len(order_ids), 500):
        chunk = list(order_ids[start : start + 500])
        found.update(
            session.scalars(
                select(InboxItem.natural_id).where(
                    InboxItem.account_id == account_id,
                    InboxItem.kind == ORDER,
                    InboxItem.natural_id.in_(chunk),
                )
            )
        )
    return found


def counts(session: Session, account_id: int | None = None) -> dict[str, int]:
    """Items per status (for the summary after a sync)."""
    query = select(InboxItem.status, func.count()).group_by(InboxItem.status)
    if account_id is not None:
        query = query.where(InboxItem.account_id == account_id)
    return {str(status): int(n) for status, n in session.execute(query)}
