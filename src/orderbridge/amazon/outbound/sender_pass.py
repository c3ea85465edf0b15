"""One outbox sender pass: its options, clients per account, lease and report, and the bookkeeping that
every kind of message shares (attempts, finishing, backing off, refusing with an alert)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon import leases
from orderbridge.amazon.accounts import SellerAccount, list_accounts
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.errors import AmazonError
from orderbridge.book.alerts import Subject, raise_alert
from orderbridge.book.catalog import Product
from orderbridge.book.orders.model import SalesOrder
from orderbridge.clock import Clock
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxAttempt, OutboxMessage

LEASE = "outbox"
ALERT_KIND = "amazon_refused"


@dataclass
class SenderOptions:
    shipments_per_pass: int = 2000
    stock_messages_per_pass: int = 20000
    backoff: float = 60.0  # seconds before the first resend; doubles per attempt up to `backoff_cap`
    backoff_cap: float = 3600.0
    lease_ttl: timedelta = leases.DEFAULT_TTL
    on_confirmed: Callable[[int], None] | None = None  # after Amazon answered, before the commit (tests)


@dataclass
class SenderDeps:
    sessions: sessionmaker[Session]
    client_factory: Callable[[SellerAccount], SpApiClient]
    clock: Clock
    options: SenderOptions = field(default_factory=SenderOptions)


@dataclass
class SendReport:
    confirmed: int = 0
    verified: int = 0  # found confirmed at Amazon after a sender died mid-call: not sent again
    skipped: int = 0
    failed: int = 0
    retrying: int = 0
    listings_patched: int = 0
    listings_in_feeds: int = 0
    feeds: int = 0
    stock_messages: int = 0
    waiting_for_feed: bool = False

    def line(self) -> str:
        return (
            f"{self.confirmed} shipments confirmed ({self.verified} found already confirmed), "
            f"{self.skipped} skipped, {self.failed} failed, {self.retrying} to retry; "
            f"{self.listings_patched} listings patched, {self.listings_in_feeds} in {self.feeds} feeds"
        )


class SenderPass:
    """One sender pass: its clients (one per account), the report, the lease."""

    def __init__(self, deps: SenderDeps, holder: str, stack: ExitStack) -> None:
        self.deps = deps
        self.holder = holder
        self.stack = stack
        self.report = SendReport()
        self._clients: dict[int, SpApiClient] = {}
        with deps.sessions() as session:
            self.accounts = {a.id: a for a in list_accounts(session)}
        self.by_marketplace = {m: a.id for a in self.accounts.values() for m in a.marketplace_ids}

    def client(self, account_id: int) -> SpApiClient:
        if account_id not in self._clients:
            client = self.deps.client_factory(self.accounts[account_id])
            self._clients[account_id] = self.stack.enter_context(client)
        return self._clients[account_id]

    def now(self) -> datetime:
        return self.deps.clock()

    def renew(self) -> None:
        leases.renew(
            self.deps.sessions, LEASE, self.holder, clock=self.deps.clock, ttl=self.deps.options.lease_ttl
        )

    def backoff(self, attempts: int) -> timedelta:
        seconds = self.deps.options.backoff * 2 ** max(attempts - 1, 0)
        return timedelta(seconds=min(seconds, self.deps.options.backoff_cap))


def record_attempt(
    message: OutboxMessage, at: datetime, outcome: str, status: int = 0, detail: str = ""
) -> None:
    message.attempts_log.append(
        OutboxAttempt(at=at, outcome=outcome, http_status=status, detail=detail[:1000])
    )


def finish(message: OutboxMessage, status: MessageStatus, at: datetime, result: dict[str, Any]) -> None:
    message.status, message.finished_at, message.result = status, at, result


def retry_later(run: SenderPass, message: OutboxMessage, error: AmazonError) -> None:
    now = run.now()
    message.status, message.due_at, message.last_error = (
        MessageStatus.PENDING,
        now + run.backoff(message.attempts),
        str(error)[:1000],
    )
    record_attempt(message, now, "retry", error.status, str(error))
    run.report.retrying += 1


def refuse(
    session: Session,
    run: SenderPass,
    message: OutboxMessage,
    reason: str,
    *,
    status: int = 0,
    at_amazon: bool = True,
) -> None:
    """A permanent failure: the message fails and a person sees an alert on its order or product.

    `at_amazon` False: the message was never sent (the book cannot make a valid call of it), and the
    alert says so rather than blaming Amazon."""
    now = run.now()
    finish(message, MessageStatus.FAILED, now, {"refused" if at_amazon else "not_sent": reason[:500]})
    message.last_error = reason[:1000]
    record_attempt(message, now, "refused" if at_amazon else "not_sent", status, reason)
    subject = Subject.ORDER if message.kind == MessageKind.ORDER_SHIPPED else Subject.PRODUCT
    what = "shipment confirmation" if message.kind == MessageKind.ORDER_SHIPPED else "stock update"
    if at_amazon:
        text = (
            f"Amazon refused the {what} of {_about(session, message)} "
            f"(outbox message {message.id}): {reason}. "
            f"Fix it, then run `orderbridge outbox retry {message.id}`."
        )
    else:
        text = (
            f"The {what} of {_about(session, message)} was not sent to Amazon "
            f"(outbox message {message.id}): {reason}. "
            f"Amazon has not seen it. Fix it, then run `orderbridge outbox retry {message.id}`"
            + (" or correct the shipment's tracking on the order." if subject == Subject.ORDER else ".")
        )
    raise_alert(session, subject, message.subject_id, ALERT_KIND, text[:1000], now=now)
    run.report.failed += 1


def _about(session: Session, message: OutboxMessage) -> str:
    """What the message was about, as the seller knows it: the Amazon order id or the SKU."""
    if message.kind == MessageKind.ORDER_SHIPPED:
        ref = session.scalar(select(SalesOrder.external_ref).where(SalesOrder.id == message.subject_id))
        return f"Amazon order {ref}" if ref else "an order no longer in the book"
    if message.kind == MessageKind.STOCK_CHANGED:
        sku = session.scalar(select(Product.sku).where(Product.id == message.subject_id))
        return f"SKU {sku}" if sku else "a product no longer in the book"
    return "every connected listing"
