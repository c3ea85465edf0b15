"""Booking the inbox: received order versions -> the newest per order -> a page booking per channel.

Each batch of items is one transaction: the book changes and the items' new statuses commit together,
so a process that dies mid-batch leaves the items received and the next run books them once. A malformed
order is quarantined with its MappingError's reason and the rest of the page flows on. An error the
booking did not expect fails the batch; its items are then booked one by one, so only the culprit is
quarantined.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.channel import channel_for
from orderbridge.amazon.orders.booking import Action, Applied
from orderbridge.amazon.orders.facts import EmailKey
from orderbridge.amazon.orders.inbox import (
    InboxItem,
    mark_booked,
    mark_skipped,
    payloads,
    pending_items,
    quarantine,
    quarantined_items,
    requeue,
)
from orderbridge.amazon.orders.mapping import MappingError
from orderbridge.amazon.orders.page_booking import book_amazon_orders
from orderbridge.amazon.orders.records import AmazonOrderRecord, BookedState
from orderbridge.book.alerts import Subject, raise_alert
from orderbridge.book.orders.model import SalesOrder
from orderbridge.clock import Clock, as_utc
from orderbridge.errors import OrderbridgeError

WAITING_REASON = "pending at Amazon (payment not yet confirmed): it is booked once Amazon releases it"
_NOT_BOOKED = {
    Action.NOT_BOOKED: "cancelled at Amazon before it was booked: nothing to do",
    Action.SKIPPED: "not a sale the book takes: nothing to do",
}
BookHook = Callable[[int], None]


@dataclass
class BookingTally:
    """What booking the inbox did, item by item."""

    booked: int = 0
    unchanged: int = 0
    skipped: int = 0
    quarantined: int = 0
    actions: dict[str, int] = field(default_factory=dict)

    def count(self, action: str) -> None:
        self.actions[action] = self.actions.get(action, 0) + 1


def book_items(
    session: Session,
    items: Sequence[InboxItem],
    *,
    email_key: EmailKey | None,
    now: datetime,
    tally: BookingTally,
) -> None:
    """Book a batch of received items: per order the newest version, per channel one page booking."""
    newest: dict[str, tuple[InboxItem, dict[str, Any]]] = {}
    ordered = sorted(items, key=lambda i: (as_utc(i.version_time), i.id))
    for item, doc in zip(ordered, payloads(session, ordered), strict=True):
        if doc is None:
            mark_skipped(item, "the payload was redacted by the retention sweep", now=now)
            tally.skipped += 1
            continue
        older = newest.get(item.natural_id)
        if older is not None:
            mark_skipped(older[0], f"superseded by the version of {_stamp(item.version_time)}", now=now)
            tally.skipped += 1
        newest[item.natural_id] = (item, doc)
    by_market: dict[tuple[int, str], list[tuple[InboxItem, dict[str, Any]]]] = {}
    for item, doc in newest.values():
        if not item.marketplace_id:
            quarantine(
                item,
                (
                    f"Amazon order {item.natural_id}: Amazon sent it without its marketplace "
                    "(salesChannel.marketplaceId); retry it later, and report it if it stays"
                ),
                now=now,
            )
            tally.quarantined += 1
            continue
        by_market.setdefault((item.account_id, item.marketplace_id), []).append((item, doc))
    booked: list[InboxItem] = []
    for (account_id, marketplace_id), page in sorted(by_market.items()):
        channel = channel_for(session, marketplace_id)
        docs = [doc for _, doc in page]
        results = book_amazon_orders(
            session, docs, channel, email_key=email_key, now=now, account_id=account_id
        )
        for (item, _), result in zip(page, results, strict=True):
            if _settle(item, result, now=now, tally=tally):
                booked.append(item)
    session.flush()
    mark_booked(session, booked, now=now)


def _settle(item: InboxItem, result: Applied | MappingError, *, now: datetime, tally: BookingTally) -> bool:
    """Count the result and set the item aside when it was not booked; True when it was booked."""
    if isinstance(result, MappingError):
        quarantine(item, str(result), now=now)
        tally.quarantined += 1
        return False
    tally.count(result.action.value)
    if result.action == Action.WAITING:  # the fixed text marks it for the pending watch
        mark_skipped(item, WAITING_REASON, now=now)
        tally.skipped += 1
        return False
    if result.action in (Action.NOT_BOOKED, Action.SKIPPED):
        mark_skipped(item, result.reason or _NOT_BOOKED[result.action], now=now)
        tally.skipped += 1
        return False
    if result.action == Action.UNCHANGED:
        tally.unchanged += 1
    else:
        tally.booked += 1
    return True


def _stamp(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def book_pending(
    sessions: sessionmaker[Session],
    account_id: int,
    *,
    clock: Clock,
    email_key: EmailKey | None = None,
    batch: int = 500,
    on_batch: BookHook | None = None,
) -> BookingTally:
    """Book every received item of an account, a batch per transaction."""
    tally = BookingTally()
    while True:
        try:
            with sessions.begin() as session:
                items = pending_items(session, account_id, limit=batch)
                if not items:
                    return tally
                trial = BookingTally()
                book_items(session, items, email_key=email_key, now=clock(), tally=trial)
                if on_batch is not None:
                    on_batch(len(items))  # inside the transaction: tests kill the process here
        except OrderbridgeError:
            _book_one_by_one(sessions, account_id, clock=clock, email_key=email_key, batch=batch, tally=tally)
            continue
        _add(tally, trial)


def _book_one_by_one(
    sessions: sessionmaker[Session],
    account_id: int,
    *,
    clock: Clock,
    email_key: EmailKey | None,
    batch: int,
    tally: BookingTally,
) -> None:
    with sessions.begin() as session:
        ids = [item.id for item in pending_items(session, account_id, limit=batch)]
    for item_id in ids:
        trial = BookingTally()
        try:
            with sessions.begin() as session:
                item = session.get(InboxItem, item_id)
                if item is None:
                    continue
                book_items(session, [item], email_key=email_key, now=clock(), tally=trial)
        except OrderbridgeError as error:
            with sessions.begin() as session:
                item = session.get(InboxItem, item_id)
                if item is not None:
                    reason = (
                        f"Amazon order {item.natural_id} could not be booked: {error}. Fix what it names, "
                        "then retry the quarantine"
                    )
                    quarantine(item, reason, now=clock())
            tally.quarantined += 1
            continue
        _add(tally, trial)


def _add(total: BookingTally, part: BookingTally) -> None:
    total.booked += part.booked
    total.unchanged += part.unchanged
    total.skipped += part.skipped
    total.quarantined += part.quarantined
    for action, n in part.actions.items():
        total.actions[action] = total.actions.get(action, 0) + n


def requeue_quarantined(sessions: sessionmaker[Session], account_id: int | None = None) -> int:
    """Quarantined items back to received (after a fix of settings or listings)."""
    with sessions.begin() as session:
        return requeue(quarantined_items(session, account_id))


def alert_long_pending(session: Session, channel_ids: Sequence[int], *, days: int, now: datetime) -> int:
    """Orders booked Pending (they hold stock, O2/O3) and still Pending after `days` become alerts."""
    if not channel_ids:
        return 0
    cutoff = now - timedelta(days=days)
    query = (
        select(SalesOrder.id, AmazonOrderRecord.amazon_order_id, SalesOrder.placed_at)
        .join(SalesOrder, SalesOrder.id == AmazonOrderRecord.order_id)
        .where(
            AmazonOrderRecord.state == BookedState.PENDING,
            AmazonOrderRecord.channel_id.in_(list(channel_ids)),
            SalesOrder.placed_at < cutoff,
        )
    )
    raised = 0
    for order_id, amazon_order_id, placed in session.execute(query):
        age = (now - as_utc(placed)).days
        message = f"Amazon order {amazon_order_id} has been Pending for {age} days and holds stock"
        raise_alert(session, Subject.ORDER, order_id, "pending_too_long", message, now=now)
        raised += 1
    return raised
