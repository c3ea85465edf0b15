"""Task functions: plain calls with serialisable arguments (ids, strings, numbers), returning plain dicts.

The same functions serve the embedded scheduler, the CLI and, later, a distributed worker: what they need
besides their arguments (the store, the key store, clocks, how to reach Amazon) is the process's
`Runtime`, configured once at start-up with `configure()`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import httpx
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.accounts import SellerAccount, credentials
from orderbridge.amazon.api.auth import TokenCache
from orderbridge.amazon.api.calls import CallLog
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.api.quotas import QuotaLimiter, Quotas
from orderbridge.amazon.health import Change, HealthOptions, check_account
from orderbridge.amazon.leases import LeaseHeld
from orderbridge.amazon.orders.sync import (
    SyncDeps,
    SyncOptions,
    SyncReport,
    account_ids,
    book_inbox,
    check_completeness,
    fetch_order,
    retry_quarantined,
    sync_orders,
)
from orderbridge.amazon.outbound.sender import request_full_stock_push, send_outbox
from orderbridge.amazon.outbound.sender_pass import SenderDeps
from orderbridge.clock import Clock, utc_now
from orderbridge.config import Settings
from orderbridge.errors import OrderbridgeError
from orderbridge.notify.mail import MailSettings, mail_settings, send_pending
from orderbridge.privacy.keystore import KeyStore


class RuntimeMissing(OrderbridgeError):
    """A task ran before the process configured its runtime."""


@dataclass
class Endpoint:
    """How to reach the SP-API host of some accounts: its clock (a sandbox has its own), sleep, transport."""

    clock: Clock = utc_now
    sleep: Callable[[float], None] = time.sleep
    transport: httpx.BaseTransport | None = None
    speed: float = 1.0  # seconds of this clock per real second (a sandbox's speed; 0: it waits for us)


ACCOUNT_CACHE_SECONDS = 60.0  # how long a process trusts what it read of an account's host


@dataclass(frozen=True)
class AccountHost:
    """What tasks and the dispatcher ask of an account several times a pass, read once."""

    base_url: str
    selling_partner_id: str
    region: str


@dataclass
class Runtime:
    """What tasks need besides their arguments. `endpoints` maps an SP-API base URL to its Endpoint."""

    sessions: sessionmaker[Session]
    keys: KeyStore
    options: SyncOptions = field(default_factory=SyncOptions)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    calls: CallLog = field(default_factory=CallLog)
    tokens: TokenCache = field(default_factory=TokenCache)  # LWA access tokens, kept across passes
    # The quota buckets for a clock: None means the store's (`QuotaLimiter`); a distributed worker
    # gives Redis's (`RedisQuotaLimiter`). The client does not care which.
    quotas: Callable[[Clock], Quotas] | None = None
    # Finds the Endpoint of a base URL not in `endpoints` (a worker meets sandbox accounts added later).
    resolve: Callable[[str], Endpoint | None] | None = None
    # A lease lasts at least this many real seconds, however fast a sandbox's clock runs (distributed
    # workers: a lease that lapses between two renewals would let a second worker in). None: as set.
    min_real_lease: float | None = None
    # The HTTP transport of clients whose Endpoint names none: a worker keeps one for the process (one
    # TLS context, kept-alive connections) instead of a new httpx client stack for every pass.
    transport: httpx.BaseTransport | None = None
    # When an account's sync counts as failing, and where its one e-mail per episode goes (None: no mail).
    health: HealthOptions = field(default_factory=HealthOptions)
    mail: MailSettings | None = None
    _hosts: dict[int, tuple[float, AccountHost]] = field(default_factory=dict, repr=False)

    def host_of(self, account_id: int) -> AccountHost | None:
        """The account's SP-API host and selling partner, re-read from the store at most once a minute
        (a distributed pass asks for its clock four times; each ask was a query). None: no such account."""
        cached = self._hosts.get(account_id)
        if cached is not None and time.monotonic() - cached[0] < ACCOUNT_CACHE_SECONDS:
            return cached[1]
        with self.sessions() as session:
            account = session.get(SellerAccount, account_id)
            if account is None:
                self._hosts.pop(account_id, None)
                return None
            host = AccountHost(account.endpoint, account.selling_partner_id, account.region)
        self._hosts[account_id] = (time.monotonic(), host)
        return host

    def endpoint(self, account: SellerAccount) -> Endpoint:
        return self.endpoint_at(account.endpoint)

    def endpoint_at(self, base_url: str) -> Endpoint:
        url = base_url.rstrip("/")
        if url not in self.endpoints and self.resolve is not None:
            found = self.resolve(url)
            if found is not None:
                self.endpoints[url] = found
        return self.endpoints.get(url, Endpoint())

    def limiter(self, clock: Clock) -> Quotas:
        return self.quotas(clock) if self.quotas is not None else QuotaLimiter(self.sessions, clock=clock)

    def clock_of(self, account_id: int) -> Clock:
        host = self.host_of(account_id)
        return self.endpoint_at(host.base_url).clock if host is not None else utc_now

    def client(self, account: SellerAccount) -> SpApiClient:
        where = self.endpoint(account)
        return SpApiClient(
            credentials(account, self.keys),
            quotas=self.limiter(where.clock),
            clock=where.clock,
            sleep=where.sleep,
            transport=where.transport or self.transport,
            calls=self.calls,
            tokens=self.tokens,
        )

    def deps(self, account_id: int) -> SyncDeps:
        options = self.options
        if self.min_real_lease is not None:
            host = self.host_of(account_id)
            speed = self.endpoint_at(host.base_url).speed if host is not None else 1.0
            floor = timedelta(seconds=self.min_real_lease * max(speed, 1.0))
            if options.lease_ttl < floor:
                options = replace(options, lease_ttl=floor)
        return SyncDeps(self.sessions, self.client, self.clock_of(account_id), self.keys, options)


def with_settings(runtime: Runtime, settings: Settings) -> Runtime:
    """The runtime with the installation's health thresholds and mail settings."""
    runtime.health = HealthOptions(
        failing_for=timedelta(minutes=settings.sync_failing_minutes),
        quiet_for=timedelta(minutes=settings.sync_quiet_minutes),
    )
    runtime.mail = mail_settings(settings)
    return runtime


_configured: list[Runtime] = []


def configure(runtime: Runtime | None) -> None:
    """Set (or, with None, clear) the runtime the tasks of this process use."""
    _configured.clear()
    if runtime is not None:
        _configured.append(runtime)


def runtime() -> Runtime:
    if not _configured:
        raise RuntimeMissing("jobs: no runtime configured; call orderbridge.jobs.tasks.configure() first")
    return _configured[0]


P = ParamSpec("P")
R = TypeVar("R")


def storing_calls(task: Callable[P, R]) -> Callable[P, R]:
    """A task that calls Amazon: its calls reach the stored call log when it ends, however it ends
    (the log batches them; the dashboard and the health watch read the store)."""

    @functools.wraps(task)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return task(*args, **kwargs)
        finally:
            if _configured:
                _configured[0].calls.flush()

    return run


def _result(report: SyncReport) -> dict[str, Any]:
    return asdict(report)


@storing_calls
def sync_account_orders(account_id: int) -> dict[str, Any]:
    """One incremental order download and booking pass for an account."""
    deps = runtime().deps(account_id)
    report = sync_orders(
        account_id,
        sessions=deps.sessions,
        client_factory=deps.client_factory,
        clock=deps.clock,
        keys=deps.keys,
        options=deps.options,
    )
    return _result(report)


def book_account_inbox(account_id: int) -> dict[str, Any]:
    return _result(book_inbox(account_id, runtime().deps(account_id)))


@storing_calls
def retry_account_quarantine(account_id: int) -> dict[str, Any]:
    return _result(retry_quarantined(account_id, runtime().deps(account_id)))


@storing_calls
def fetch_account_order(account_id: int, order_id: str) -> dict[str, Any]:
    return _result(fetch_order(account_id, order_id, runtime().deps(account_id)))


@storing_calls
def check_account_completeness(account_id: int, days: int = 3) -> dict[str, Any]:
    return _result(check_completeness(account_id, runtime().deps(account_id), days=days))


def _account(rt: Runtime, account_id: int) -> SellerAccount:
    with rt.sessions() as session:
        account = session.get(SellerAccount, account_id)
    if account is None:
        raise RuntimeMissing(f"jobs: no Amazon account with id {account_id}")
    return account


@storing_calls
def sync_account_reports(account_id: int, report_type: str | None = None) -> dict[str, Any]:
    """One pass over Amazon's reports for an account (one type, or every type a handler books)."""
    from orderbridge.amazon.reports.sync import sync_reports

    rt = runtime()
    account = _account(rt, account_id)
    with rt.client(account) as client:
        result = sync_reports(
            rt.sessions,
            client,
            account_id=account_id,
            clock=rt.clock_of(account_id),
            report_types=[report_type] if report_type else None,
            poll=rt.options.report_poll_seconds,
        )
    return {"reports": "; ".join(result.lines())}


@storing_calls
def take_fba_opening(account_id: int, *, dry_run: bool = False) -> dict[str, Any]:
    """Take (or with `dry_run` only show) the account's FBA opening balance from Amazon's count."""
    from orderbridge.amazon.fba.opening import fetch_opening

    rt = runtime()
    account = _account(rt, account_id)
    with rt.client(account) as client:
        result = fetch_opening(
            rt.sessions, client, account_id=account_id, clock=rt.clock_of(account_id), dry_run=dry_run,
            poll=rt.options.report_poll_seconds,
        )  # fmt: skip
    lines = [
        {
            "sku": line.sku,
            "centre": line.centre,
            "amazon": line.amazon,
            "book": line.book,
            "change": line.change,
        }
        for line in result.lines
    ]
    return {"opening": result.line(), "lines": lines, "refused": result.refused}


def all_account_ids() -> list[int]:
    return account_ids(runtime().sessions)


def now_of(account_id: int) -> datetime:
    """The time as the account's SP-API host sees it (the sandbox's virtual clock, or UTC now)."""
    return runtime().clock_of(account_id)()


def sender_clock() -> Clock:
    """The clock the outbox sender runs on: the first account's SP-API host (a sandbox's), else UTC."""
    ids = all_account_ids()
    return runtime().clock_of(ids[0]) if ids else utc_now


@storing_calls
def send_to_amazon() -> dict[str, Any]:
    """One outbox pass (O23, I1): shipment confirmations, then stock, exactly once in effect."""
    rt = runtime()
    try:
        report = send_outbox(SenderDeps(rt.sessions, rt.client, sender_clock()))
    except LeaseHeld:
        return {"outbox": "another sender is running"}
    return {"outbox": report.line()}


def push_all_stock() -> dict[str, Any]:
    """The nightly full stock push: every connected FBM listing, changed or not (corrects drift)."""
    with runtime().sessions.begin() as session:
        request_full_stock_push(session, now=utc_now())
    return send_to_amazon()


def sweep_personal_data() -> dict[str, Any]:
    """P1, P4: the retention sweep over everything stored — archive (when an archive key is set up),
    redact, shred emptied epoch keys. Run daily by `orderbridge run`; idempotent."""
    from orderbridge.config import load_settings
    from orderbridge.privacy import archive, retention
    from orderbridge.privacy.sealing import privacy_of

    sessions = runtime().sessions
    with sessions() as session:
        privacy = privacy_of(session)
    if privacy is None:
        return {"sweep": "skipped: these sessions do not seal buyer data"}
    config = load_settings()
    writer = None
    if config.archive_public_key_file.exists():
        writer = archive.ArchiveWriter(
            config.archive_dir, archive.load_public_key(config.archive_public_key_file)
        )
    report = retention.sweep(
        sessions, privacy, writer, clock=utc_now, non_pii_legal_basis=config.non_pii_legal_basis
    )
    return {
        "sweep": f"{report.orders} orders and {report.contacts} contacts redacted, "
        f"{report.archived} archived, {len(report.keys_destroyed)} keys destroyed, "
        f"{report.old_orders_deleted} orders past 18 months deleted"
        + ("" if writer is not None else " (no archive key: run `orderbridge archive keygen`)")
    }


@storing_calls
def sync_account_inbound(account_id: int) -> dict[str, Any]:
    """F3-F5: poll the account's inbound shipments; transfers made and received, notices queued."""
    from orderbridge.amazon.fba.inbound import sync_inbound

    rt = runtime()
    report = sync_inbound(
        account_id, sessions=rt.sessions, client_factory=rt.client, clock=rt.clock_of(account_id)
    )
    if report.waiting is not None:
        return {"inbound": report.waiting}
    text = (
        f"{report.shipments_seen} shipments seen, {report.transfers_created} transfers created, "
        f"{report.units_received} units received, {report.closed} closed"
    )
    if report.problems:
        text += f"; {len(report.problems)} waiting: " + "; ".join(report.problems[:3])
    return {"inbound": text}


def send_notices() -> dict[str, Any]:
    """F5: send the notices the book queued, over the SMTP server in the settings (none: they wait)."""
    from orderbridge.config import load_settings
    from orderbridge.notify.mail import mail_settings, send_pending

    mail = mail_settings(load_settings())
    if mail is None:
        return {"notices": "not sent: no smtp_host in the settings (they wait in the book)"}
    report = send_pending(runtime().sessions, mail, clock=utc_now)
    text = f"{report.sent} sent"
    if report.failed:
        text += f", {report.failed} failed: {report.errors[0]}"
    return {"notices": text}


def watch_sync_health() -> dict[str, Any]:
    """Every account's sync health on its own clock: a failing account's alert opened (with one e-mail,
    sent at once when mail is set up) or refreshed; a recovered one's closed."""
    rt = runtime()
    rt.calls.flush()  # this process's calls count too
    changes: dict[str, Change] = {}
    for account_id in all_account_ids():
        now = rt.clock_of(account_id)()
        with rt.sessions.begin() as session:
            account = session.get(SellerAccount, account_id)
            if account is not None:
                changes[account.label] = check_account(session, account, now=now, options=rt.health)
    text = ", ".join(f"{label} {change.value}" for label, change in changes.items()) or "no accounts"
    if Change.OPENED in changes.values():
        if rt.mail is None:
            text += " (no smtp_host: the e-mail waits in the book)"
        else:
            report = send_pending(rt.sessions, rt.mail, clock=utc_now)
            text += f"; {report.sent} e-mail sent" + (
                f", failed: {report.errors[0]}" if report.failed else ""
            )
    return {"health": text}
