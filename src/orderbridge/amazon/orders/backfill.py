"""getOrder beside searchOrders: the backlog catch-up and the watch on orders still Pending.

With default usage plans searchOrders refills one call every ~179 s (100 orders a page) and getOrder
0.5 calls a second, each in its own bucket (SPAPI.md §3.3). A new account with a backlog therefore
learns its order ids from the all-orders report (cheap, no PII; SPAPI.md §8.7), searches pages from the
oldest end, and spends every wait for the next searchOrders token on getOrder calls from the newest end.
When every order the report named is in the inbox, the search ends early: the report covered the
search's whole window, and the overlap of the next pass re-reads its end as always.

searchOrders cannot see changes younger than two minutes (lastUpdatedBefore, SPAPI.md §5); getOrder
can. Each pass therefore asks getOrder about the orders last seen Pending, so that an order turning Ready
reaches the book within one sync interval instead of two minutes plus one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.api.types import parse_amazon_time
from orderbridge.amazon.errors import NotFound
from orderbridge.amazon.orders.inbox import ORDER, InboxItem, InboxStatus, known_order_ids, store_orders
from orderbridge.amazon.orders.records import AmazonOrderRecord, BookedState
from orderbridge.clock import Clock

ALL_ORDERS_REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"  # SPAPI.md §8.7
STORE_EVERY = 25  # getOrder answers stored per transaction


def report_orders(
    client: SpApiClient, markets: Sequence[str], start: datetime, end: datetime, *, poll: float
) -> list[str]:
    """Order ids of the all-orders report for [start, end], oldest last update first (one row per item)."""
    report_id = client.create_report(ALL_ORDERS_REPORT, markets, start=start, end=end)
    done = client.wait_for_report(report_id, poll=poll)
    if done.processing_status != "DONE" or not done.report_document_id:
        return []  # CANCELLED: Amazon had no data for the window (SPAPI.md §7)
    text = client.download_report(done.report_document_id).text()
    latest: dict[str, str] = {}
    for row in csv.DictReader(io.StringIO(text), delimiter="\t"):
        order_id = row.get("amazon-order-id")
        if order_id:
            latest[order_id] = max(latest.get(order_id, ""), row.get("last-updated-date") or "")
    return sorted(latest, key=lambda order_id: (_when(latest[order_id]), order_id))


def _when(text: str) -> datetime:
    try:
        return parse_amazon_time(text)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


@dataclass
class Backfill:
    """Order ids still to fetch by getOrder, newest last (taken from the end)."""

    account_id: int
    ids: list[str]
    named: int = 0
    fetched: int = 0
    stored: int = 0
    docs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.named > 0 and not self.ids


def start_backfill(
    sessions: sessionmaker[Session],
    client: SpApiClient,
    account_id: int,
    markets: Sequence[str],
    window: tuple[datetime, datetime],
    *,
    poll: float,
) -> Backfill:
    """The report's ids for the search's window that the inbox does not hold yet."""
    ids = report_orders(client, markets, window[0], window[1], poll=poll)
    with sessions.begin() as session:
        known = known_order_ids(session, account_id, ids)
    missing = [order_id for order_id in ids if order_id not in known]
    return Backfill(account_id, missing, named=len(ids))


def spend(
    backfill: Backfill,
    client: SpApiClient,
    sessions: sessionmaker[Session],
    *,
    seconds: float,
    clock: Clock,
    stored: Callable[[int], None] | None = None,
) -> None:
    """getOrder from the newest end for about `seconds` of (virtual) time; answers stored in batches."""
    deadline = clock().timestamp() + seconds
    with sessions.begin() as session:  # the search may have stored some since (it works from the other end)
        known = known_order_ids(session, backfill.account_id, backfill.ids)
    backfill.ids = [order_id for order_id in backfill.ids if order_id not in known]
    while backfill.ids and clock().timestamp() < deadline:
        order_id = backfill.ids.pop()
        try:
            backfill.docs.append(client.get_order(order_id))
        except NotFound:
            continue  # gone at Amazon since the report: nothing to book
        backfill.fetched += 1
        if len(backfill.docs) >= STORE_EVERY:
            flush(backfill, sessions, clock=clock, stored=stored)
    flush(backfill, sessions, clock=clock, stored=stored)


def flush(
    backfill: Backfill,
    sessions: sessionmaker[Session],
    *,
    clock: Clock,
    stored: Callable[[int], None] | None = None,
) -> None:
    if not backfill.docs:
        return
    with sessions.begin() as session:
        backfill.stored += store_orders(session, backfill.account_id, backfill.docs, now=clock())
    backfill.docs.clear()
    if stored is not None:
        stored(backfill.stored)


def search_wait(client: SpApiClient) -> float:
    """Seconds until the searchOrders bucket holds a token again (0 when it does)."""
    creds = client.creds
    state = client.quotas.state(creds.selling_partner_id, creds.region, "searchOrders")
    return 0.0 if state.tokens >= 1.0 else (1.0 - state.tokens) / state.rate


def pending_order_ids(
    session: Session, account_id: int, channel_ids: Sequence[int], *, since: datetime, reason: str
) -> list[str]:
    """Orders whose newest version in the inbox is Pending: held back (`reason`) or booked Pending."""
    held = select(InboxItem.natural_id).where(
        InboxItem.account_id == account_id,
        InboxItem.kind == ORDER,
        InboxItem.status == InboxStatus.SKIPPED,
        InboxItem.reason == reason,
        InboxItem.version_time >= since,
    )
    booked = select(AmazonOrderRecord.amazon_order_id).where(
        AmazonOrderRecord.channel_id.in_(list(channel_ids)),
        AmazonOrderRecord.state == BookedState.PENDING,
        AmazonOrderRecord.last_updated >= since,
    )
    held_ids = set(session.scalars(held))
    booked_pending = set(session.scalars(booked))  # booked while Pending (download_pending, O2)
    if not held_ids:
        return sorted(booked_pending)
    newest: dict[str, tuple[datetime, str, str | None]] = {}
    versions = select(InboxItem.natural_id, InboxItem.version_time, InboxItem.status, InboxItem.reason).where(
        InboxItem.account_id == account_id, InboxItem.natural_id.in_(sorted(held_ids))
    )
    for order_id, version, status, why in session.execute(versions):
        if order_id not in newest or version > newest[order_id][0]:
            newest[order_id] = (version, status, why)
    still = {
        order_id
        for order_id, (_, status, why) in newest.items()
        if status == InboxStatus.SKIPPED and why == reason
    }
    return sorted(still | booked_pending)


def watch_pending(
    client: SpApiClient,
    sessions: sessionmaker[Session],
    account_id: int,
    order_ids: Sequence[str],
    *,
    clock: Clock,
) -> tuple[int, int]:
    """getOrder for each order last seen Pending; new versions go to the inbox. (fetched, stored)."""
    watch = Backfill(account_id, list(reversed(order_ids)), named=len(order_ids))
    while watch.ids:
        order_id = watch.ids.pop()
        try:
            watch.docs.append(client.get_order(order_id))
        except NotFound:
            continue
        watch.fetched += 1
    flush(watch, sessions, clock=clock)
    return watch.fetched, watch.stored
