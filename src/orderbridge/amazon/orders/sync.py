"""Order download: searchOrders pages -> inbox + cursor (one transaction a page) -> book the inbox.

`sync_orders` is the incremental pass a scheduler runs per account; `fetch_order` re-imports one order
by id (getOrder); `check_completeness` compares the inbox with Amazon's all-orders report for the past
days and fetches whatever never arrived. Each holds the account's lease, so two runners never download
the same account at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon import leases
from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.api.types import OrdersQuery
from orderbridge.amazon.errors import AccountError, BadRequest
from orderbridge.amazon.orders.backfill import (
    Backfill,
    pending_order_ids,
    report_orders,
    search_wait,
    spend,
    start_backfill,
    watch_pending,
)
from orderbridge.amazon.orders.channel_warnings import review_channel_warnings
from orderbridge.amazon.orders.cursors import Window, abandon_search, advance, cursor_for, next_window
from orderbridge.amazon.orders.facts import EmailKey, blind_email_key
from orderbridge.amazon.orders.first_use import ensure_first_use_rows
from orderbridge.amazon.orders.inbox import ORDER, known_order_ids, store_orders
from orderbridge.amazon.orders.inbox_booking import (
    WAITING_REASON,
    BookHook,
    BookingTally,
    alert_long_pending,
    book_pending,
    requeue_quarantined,
)
from orderbridge.clock import Clock
from orderbridge.privacy.blind_index import BlindIndexer
from orderbridge.privacy.keystore import KeyStore

MIN_SPEND = 5.0  # seconds of searchOrders wait worth filling with getOrder calls
ClientFactory = Callable[[SellerAccount], SpApiClient]
StoreHook = Callable[[int], None]


@dataclass(frozen=True)
class SyncOptions:
    """How a sync runs. `overlap` re-reads the end of the last window (late-arriving orders)."""

    overlap: timedelta = timedelta(minutes=10)
    first_lookback: timedelta = timedelta(days=30)
    page_size: int = 100  # searchOrders maxResultsPerPage (1-100)
    # A search over at least `backfill_after` is a backlog: getOrder fills the searchOrders waits.
    backfill: bool = True
    backfill_after: timedelta = timedelta(hours=6)
    # getOrder for orders last seen Pending (at most this many a pass; 0: off), seen in the last 2 days.
    pending_watch: int = 60
    pending_alert_days: int = 3
    booking_batch: int = 500
    lease_ttl: timedelta = leases.DEFAULT_TTL
    report_poll_seconds: float = 30.0
    # Distributed workers share themselves among many accounts: a pass fetches at most `max_pages`
    # searchOrders pages and stops rather than sleep longer than `patience` seconds for a searchOrders
    # token (the cursor keeps the search's token, so the next pass resumes it). None: no bound (embedded).
    max_pages: int | None = None
    patience: float | None = None
    # Test hooks, called inside the transaction that stores a page / books a batch (kill-mid-page tests).
    on_stored: StoreHook | None = None
    on_booked: BookHook | None = None


@dataclass
class SyncReport:
    """What one pass did for one account (counts only: nothing here is buyer data)."""

    account: str
    pages: int = 0
    fetched: int = 0
    stored: int = 0
    booked: int = 0
    unchanged: int = 0
    skipped: int = 0
    quarantined: int = 0
    alerts: int = 0
    missing: int = 0
    by_get_order: int = 0  # fetched one by one (getOrder) rather than in searchOrders pages
    resumed: bool = False
    more: bool = False  # the pass stopped at `max_pages` with the search unfinished
    wait: float = 0.0  # the pass stopped early: seconds (account clock) until searchOrders has a token
    actions: dict[str, int] = field(default_factory=dict)

    def add(self, tally: BookingTally) -> None:
        self.booked += tally.booked
        self.unchanged += tally.unchanged
        self.skipped += tally.skipped
        self.quarantined += tally.quarantined
        for action, n in tally.actions.items():
            self.actions[action] = self.actions.get(action, 0) + n

    def line(self) -> str:
        return (
            f"{self.account}: {self.pages} page(s), {self.fetched} fetched, {self.stored} new in the inbox, "
            f"{self.booked} booked, {self.unchanged} unchanged, {self.skipped} skipped, "
            f"{self.quarantined} quarantined, {self.alerts} alert(s)"
        )


@dataclass(frozen=True)
class SyncDeps:
    """What every pass needs besides the account: the store, a client maker, the clock and the keys."""

    sessions: sessionmaker[Session]
    client_factory: ClientFactory
    clock: Clock
    keys: KeyStore | None = None
    options: SyncOptions = SyncOptions()


@dataclass
class _Held:
    """The account's lease as this pass holds it."""

    name: str
    holder: str
    renewed: datetime

    def keep(self, deps: SyncDeps) -> None:
        """Renew the lease once half its time has run: a pass of many pages keeps it, a pass of a page or
        two does not write it once more (LeaseHeld if it was lost, as `leases.renew`)."""
        now = deps.clock()
        if now - self.renewed >= deps.options.lease_ttl / 2:
            leases.renew(deps.sessions, self.name, self.holder, clock=deps.clock, ttl=deps.options.lease_ttl)
            self.renewed = now


def lease_name(account_id: int) -> str:
    return f"amazon-orders:{account_id}"


def _account(session: Session, account_id: int) -> tuple[SellerAccount, list[int]]:
    """The account and the ids of its marketplaces' channels, with the statuses and channels its orders
    book to (made on first use, race-free)."""
    account = session.get(SellerAccount, account_id)
    if account is None:
        raise AccountError(f"no seller account with id {account_id}")
    return account, ensure_first_use_rows(session, account.marketplace_ids)


def _email_key(deps: SyncDeps, account: SellerAccount) -> EmailKey | None:
    if deps.keys is None:
        return None
    return blind_email_key(BlindIndexer(deps.keys), account.selling_partner_id)


def sync_orders(
    account_id: int,
    *,
    sessions: sessionmaker[Session],
    client_factory: ClientFactory,
    clock: Clock,
    keys: KeyStore | None = None,
    options: SyncOptions = SyncOptions(),
) -> SyncReport:
    """Fetch orders changed since the cursor into the inbox, then book what the inbox holds."""
    deps = SyncDeps(sessions, client_factory, clock, keys, options)
    with leases.held(sessions, lease_name(account_id), clock=clock, ttl=options.lease_ttl) as holder:
        held = _Held(lease_name(account_id), holder, clock())
        with sessions.begin() as session:
            account, channels = _account(session, account_id)
            report = SyncReport(account.label)
        with client_factory(account) as client:
            _download(deps, account, client, report, held)
            if options.pending_watch:
                _watch(deps, account, channels, client, report)
        _book(deps, account, channels, report)
    return report


def _watch(
    deps: SyncDeps, account: SellerAccount, channels: list[int], client: SpApiClient, report: SyncReport
) -> None:
    since = deps.clock() - timedelta(days=2)
    with deps.sessions.begin() as session:
        ids = pending_order_ids(session, account.id, channels, since=since, reason=WAITING_REASON)
    fetched, stored = watch_pending(
        client, deps.sessions, account.id, ids[: deps.options.pending_watch], clock=deps.clock
    )
    report.fetched += fetched
    report.by_get_order += fetched
    report.stored += stored


def _download(
    deps: SyncDeps, account: SellerAccount, client: SpApiClient, report: SyncReport, held: _Held
) -> None:
    options, markets = deps.options, list(account.marketplace_ids)
    with deps.sessions.begin() as session:
        window = next_window(
            cursor_for(session, account.id, markets, ORDER),
            now=deps.clock(),
            overlap=options.overlap,
            first_lookback=options.first_lookback,
        )
    if window is None:
        return
    report.resumed = window.resumed
    token = window.token
    backlog = (
        options.backfill and not window.resumed and window.before - window.after >= options.backfill_after
    )
    backfill: Backfill | None = None
    while True:
        if _yields(deps, client, report):
            return
        query = OrdersQuery(
            marketplace_ids=markets,
            last_updated_after=window.after,
            last_updated_before=window.before,
            max_results_per_page=options.page_size,
        )
        try:
            page = client.search_orders(query, pagination_token=token)
        except BadRequest:
            if token is None:
                raise
            window, token = _restart(deps, account, markets), None  # the token expired (24 h) or is foreign
            if window is None:
                return
            continue
        with deps.sessions.begin() as session:
            stored = store_orders(session, account.id, page.orders, now=deps.clock())
            if options.on_stored is not None:
                options.on_stored(report.stored + stored)
            mark = page.high_water_mark
            advance(
                cursor_for(session, account.id, markets, ORDER),
                window,
                next_token=page.next_token,
                high_water_mark=min(mark, window.before) if mark is not None else None,
                now=deps.clock(),
            )
        report.pages += 1
        report.fetched += len(page.orders)
        report.stored += stored
        held.keep(deps)
        if not page.next_token:
            return
        token = page.next_token
        if backlog and search_wait(client) > MIN_SPEND:
            backfill = backfill or _start_backfill(deps, account, client, window)
            _fill(deps, client, backfill, report)
            if backfill.done:  # every order the report named is in the inbox: the window is complete
                _finish(deps, account, markets, window)
                return


def _yields(deps: SyncDeps, client: SpApiClient, report: SyncReport) -> bool:
    """Whether a bounded pass stops before its next page (page budget spent or a long quota wait)."""
    options = deps.options
    if options.max_pages is not None and report.pages >= options.max_pages:
        report.more = True
        return True
    if options.patience is not None:
        wait = search_wait(client)
        if wait > options.patience:
            report.more, report.wait = True, wait
            return True
    return False


def _start_backfill(deps: SyncDeps, account: SellerAccount, client: SpApiClient, window: Window) -> Backfill:
    markets = list(account.marketplace_ids)
    span = (window.after, window.before)
    return start_backfill(
        deps.sessions, client, account.id, markets, span, poll=deps.options.report_poll_seconds
    )


def _fill(deps: SyncDeps, client: SpApiClient, backfill: Backfill, report: SyncReport) -> None:
    """Spend the wait for the next searchOrders token on getOrder calls (`patience` at most)."""
    fetched, stored = backfill.fetched, backfill.stored
    hook = deps.options.on_stored
    seconds = search_wait(client)
    if deps.options.patience is not None:
        seconds = min(seconds, deps.options.patience)
    spend(
        backfill,
        client,
        deps.sessions,
        seconds=seconds,
        clock=deps.clock,
        stored=(lambda n: hook(report.stored + n - stored)) if hook is not None else None,
    )
    report.fetched += backfill.fetched - fetched
    report.by_get_order += backfill.fetched - fetched
    report.stored += backfill.stored - stored


def _finish(deps: SyncDeps, account: SellerAccount, markets: list[str], window: Window) -> None:
    with deps.sessions.begin() as session:
        cursor = cursor_for(session, account.id, markets, ORDER)
        advance(cursor, window, next_token=None, high_water_mark=window.before, now=deps.clock())


def _restart(deps: SyncDeps, account: SellerAccount, markets: list[str]) -> Window | None:
    with deps.sessions.begin() as session:
        cursor = cursor_for(session, account.id, markets, ORDER)
        abandon_search(cursor)
        return next_window(
            cursor, now=deps.clock(), overlap=deps.options.overlap, first_lookback=deps.options.first_lookback
        )


def _book(deps: SyncDeps, account: SellerAccount, channels: list[int], report: SyncReport) -> None:
    tally = book_pending(
        deps.sessions,
        account.id,
        clock=deps.clock,
        email_key=_email_key(deps, account),
        batch=deps.options.booking_batch,
        on_batch=deps.options.on_booked,
    )
    report.add(tally)
    with deps.sessions.begin() as session:
        report.alerts += alert_long_pending(
            session, channels, days=deps.options.pending_alert_days, now=deps.clock()
        )
        review_channel_warnings(session, channels, now=deps.clock())


def book_inbox(account_id: int, deps: SyncDeps) -> SyncReport:
    """Book what the inbox holds for an account, without calling Amazon (`orders retry`, benchmarks)."""
    with leases.held(deps.sessions, lease_name(account_id), clock=deps.clock, ttl=deps.options.lease_ttl):
        with deps.sessions.begin() as session:
            account, channels = _account(session, account_id)
            report = SyncReport(account.label)
        _book(deps, account, channels, report)
    return report


def retry_quarantined(account_id: int, deps: SyncDeps) -> SyncReport:
    """Map and book the account's quarantined orders again (after settings or listings were fixed)."""
    requeue_quarantined(deps.sessions, account_id)
    return book_inbox(account_id, deps)


def fetch_order(account_id: int, order_id: str, deps: SyncDeps) -> SyncReport:
    """Re-import one order by id (getOrder) into the inbox and book it."""
    with leases.held(deps.sessions, lease_name(account_id), clock=deps.clock, ttl=deps.options.lease_ttl):
        with deps.sessions.begin() as session:
            account, channels = _account(session, account_id)
            report = SyncReport(account.label)
        with deps.client_factory(account) as client:
            doc = client.get_order(order_id)
        with deps.sessions.begin() as session:
            report.stored += store_orders(session, account.id, [doc], now=deps.clock())
        report.fetched += 1
        _book(deps, account, channels, report)
    return report


def check_completeness(account_id: int, deps: SyncDeps, *, days: int = 3) -> SyncReport:
    """Compare the inbox with the all-orders report of the past `days` and fetch what is missing."""
    with leases.held(deps.sessions, lease_name(account_id), clock=deps.clock, ttl=deps.options.lease_ttl):
        with deps.sessions.begin() as session:
            account, channels = _account(session, account_id)
            report = SyncReport(account.label)
        now = deps.clock()
        with deps.client_factory(account) as client:
            markets, start = list(account.marketplace_ids), now - timedelta(days=days)
            ids = report_orders(client, markets, start, now, poll=deps.options.report_poll_seconds)
            with deps.sessions.begin() as session:
                missing = sorted(set(ids) - known_order_ids(session, account.id, ids))
            report.missing = len(missing)
            for order_id in missing:
                doc = client.get_order(order_id)
                with deps.sessions.begin() as session:
                    report.stored += store_orders(session, account.id, [doc], now=deps.clock())
                report.fetched += 1
        _book(deps, account, channels, report)
    return report


def account_ids(sessions: sessionmaker[Session]) -> list[int]:
    with sessions.begin() as session:
        return list(session.scalars(select(SellerAccount.id).order_by(SellerAccount.id)))
