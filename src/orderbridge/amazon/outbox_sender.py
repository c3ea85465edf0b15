"""The outbox sender: delivers the book's outbox messages to Amazon, exactly once in effect.

One sender runs at a time (the `outbox` lease). A pass first settles what a dead sender left behind,
then reads back submitted stock feeds, pushes stock for every product that changed, coalesced into
one update per listing, and sends shipment confirmations one by one in message order per order.

Exactly once. A message is claimed (status `sending`, committed) before its call and finished
(`sent`, committed) after Amazon answered. A sender killed between the two leaves the message
`sending`, and the next holder of the lease checks at Amazon instead of sending blindly: a
confirmation is looked up by its package reference (the book shipment id) in getOrder's PACKAGES and
only sent again when Amazon does not have it. Stock pushes carry absolute quantities, read from the
book when sent, so sending one again sets the same number: no check is needed. Only one
confirmation is ever in flight, so recovery costs at most one getOrder.

Failures. The client already retries 429 / 5xx with jittered backoff; when a call still fails
transiently the message goes back to `pending`, due again after an exponential backoff, and later
messages of the same order wait behind it. Amazon's refusal (400 with its reason, 404, an INVALID
listing submission, an ERROR in a feed's processing report) fails the message and raises an alert on
the order or product; `orderbridge outbox retry ID` sends it again once the cause is fixed.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon import leases
from orderbridge.amazon.accounts import SellerAccount, list_accounts
from orderbridge.amazon.client import SpApiClient
from orderbridge.amazon.errors import AmazonError, AuthFailed
from orderbridge.amazon.shipment_confirmations import (
    Confirmation,
    ConfirmationError,
    NotSent,
    confirmation_for,
)
from orderbridge.amazon.stock_push import (
    FEED_CONTENT_TYPE,
    FEED_TYPE,
    PRODUCT_TYPE,
    FeedState,
    StockFeed,
    Wanted,
    affected_listings,
    feed_document,
    forget_pushed,
    quantity_patch,
    record_pushed,
    use_feed,
    wanted_quantities,
)
from orderbridge.book.alerts import Subject, clear_alert, open_alerts, raise_alert
from orderbridge.clock import Clock
from orderbridge.errors import OrderbridgeError
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxAttempt, OutboxMessage

LEASE = "outbox"
ALERT_KIND = "amazon_refused"
STOCK_KINDS = (MessageKind.STOCK_CHANGED, MessageKind.STOCK_RECOUNT)


class OutboxError(OrderbridgeError):
    """An outbox command cannot be done: the message names the outbox message and why."""


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


class _Pass:
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


def send_outbox(deps: SenderDeps) -> SendReport:
    """One pass over the outbox (LeaseHeld if another sender is running)."""
    ttl = deps.options.lease_ttl
    with leases.held(deps.sessions, LEASE, clock=deps.clock, ttl=ttl) as holder, ExitStack() as stack:
        run = _Pass(deps, holder, stack)
        _recover(run)
        _read_feeds(run)
        _push_stock(run)  # first: a feed is processed at Amazon while the confirmations go out
        _send_shipments(run)
        return run.report


# -- bookkeeping ------------------------------------------------------------------------------------


def _attempt(message: OutboxMessage, at: datetime, outcome: str, status: int = 0, detail: str = "") -> None:
    message.attempts_log.append(
        OutboxAttempt(at=at, outcome=outcome, http_status=status, detail=detail[:1000])
    )


def _finish(message: OutboxMessage, status: MessageStatus, at: datetime, result: dict[str, Any]) -> None:
    message.status, message.finished_at, message.result = status, at, result


def _retry_later(run: _Pass, message: OutboxMessage, error: AmazonError) -> None:
    now = run.now()
    message.status, message.due_at, message.last_error = (
        MessageStatus.PENDING,
        now + run.backoff(message.attempts),
        str(error)[:1000],
    )
    _attempt(message, now, "retry", error.status, str(error))
    run.report.retrying += 1


def _refuse(session: Session, run: _Pass, message: OutboxMessage, reason: str, *, status: int = 0) -> None:
    """A permanent failure: the message fails and a person sees an alert on its order or product."""
    now = run.now()
    _finish(message, MessageStatus.FAILED, now, {"refused": reason[:500]})
    message.last_error = reason[:1000]
    _attempt(message, now, "refused", status, reason)
    subject = Subject.ORDER if message.kind == MessageKind.ORDER_SHIPPED else Subject.PRODUCT
    what = "shipment confirmation" if message.kind == MessageKind.ORDER_SHIPPED else "stock update"
    text = (
        f"Amazon refused the {what} (outbox message {message.id}): {reason}. "
        f"Fix it, then run `orderbridge outbox retry {message.id}`."
    )
    raise_alert(session, subject, message.subject_id, ALERT_KIND, text[:1000], now=now)
    run.report.failed += 1


# -- recovery ---------------------------------------------------------------------------------------


def _recover(run: _Pass) -> None:
    """Messages a dead sender left `sending`: stock goes again; a confirmation is looked up first."""
    with run.deps.sessions() as session:
        left = list(
            session.scalars(select(OutboxMessage.id).where(OutboxMessage.status == MessageStatus.SENDING))
        )
    for message_id in left:
        with run.deps.sessions.begin() as session:
            message = session.get(OutboxMessage, message_id)
            assert message is not None
            if message.kind != MessageKind.ORDER_SHIPPED:
                message.status = MessageStatus.PENDING
                detail = "the sender stopped mid-push; quantities are absolute"
                _attempt(message, run.now(), "resend", detail=detail)
                continue
            try:
                found = confirmation_for(session, int(message.payload["shipment_id"]))
            except ConfirmationError:
                found = NotSent("")
            if not isinstance(found, Confirmation) or found.marketplace_id not in run.by_marketplace:
                message.status = MessageStatus.PENDING  # the send decides again (skipped or refused)
                continue
        # No transaction is open while Amazon is asked (the quota bucket writes to the store meanwhile).
        _recover_confirmation(run, message_id, found)


def _recover_confirmation(run: _Pass, message_id: int, found: Confirmation) -> None:
    account_id = run.by_marketplace[found.marketplace_id]
    reference = found.package.package_reference_id
    try:
        order = run.client(account_id).get_order(found.amazon_order_id, included_data=("PACKAGES",))
    except AmazonError as error:
        with run.deps.sessions.begin() as session:
            message = session.get(OutboxMessage, message_id)
            assert message is not None
            _attempt(message, run.now(), "check_failed", error.status, str(error))
        return  # still `sending`: checked again next pass, never sent blindly
    packages = order.get("packages") or []
    confirmed = any(isinstance(p, dict) and str(p.get("packageReferenceId")) == reference for p in packages)
    with run.deps.sessions.begin() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        if confirmed:
            _finish(message, MessageStatus.SENT, run.now(), {**_sent_result(found), "verified": True})
            detail = f"package {reference} found at Amazon: not sent again"
            _attempt(message, run.now(), "verified", 200, detail)
            run.report.verified += 1
        else:
            message.status = MessageStatus.PENDING
            _attempt(message, run.now(), "resend", 200, f"package {reference} not at Amazon: sending it")


# -- shipment confirmations -------------------------------------------------------------------------


def _due_confirmations(run: _Pass) -> Iterator[int]:
    """Pending confirmations in id order; a message waits while an earlier one of its order is unsent."""
    now = run.now()
    with run.deps.sessions() as session:
        rows = session.execute(
            select(OutboxMessage.id, OutboxMessage.key, OutboxMessage.status, OutboxMessage.due_at)
            .where(
                OutboxMessage.kind == MessageKind.ORDER_SHIPPED,
                OutboxMessage.status.in_(
                    [MessageStatus.PENDING, MessageStatus.SENDING, MessageStatus.FAILED]
                ),
            )
            .order_by(OutboxMessage.id)
        ).all()
    blocked: set[str] = set()
    for message_id, key, status, due_at in rows:
        if key in blocked:
            continue
        if status != MessageStatus.PENDING or (due_at is not None and due_at > now):
            blocked.add(key)
            continue
        yield message_id


def _send_shipments(run: _Pass) -> None:
    failed_keys: set[str] = set()
    for number, message_id in enumerate(_due_confirmations(run)):
        if number >= run.deps.options.shipments_per_pass:
            break
        if number % 200 == 199:
            run.renew()
        key, sent = _confirm(run, message_id, failed_keys)
        if not sent:
            failed_keys.add(key)


def _confirm(run: _Pass, message_id: int, failed_keys: set[str]) -> tuple[str, bool]:
    """Claim, send, finish one confirmation; (its key, whether later ones of the order may follow)."""
    with run.deps.sessions.begin() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        if message.key in failed_keys or message.status != MessageStatus.PENDING:
            return message.key, False
        key = message.key
        try:
            found = confirmation_for(session, int(message.payload["shipment_id"]))
        except ConfirmationError as problem:
            _refuse(session, run, message, str(problem))
            return key, False
        if isinstance(found, NotSent):
            _finish(message, MessageStatus.SKIPPED, run.now(), {"skipped": found.reason})
            _attempt(message, run.now(), "skipped", detail=found.reason)
            run.report.skipped += 1
            return key, True
        account_id = run.by_marketplace.get(found.marketplace_id)
        if account_id is None:
            _refuse(session, run, message, f"no seller account sells in marketplace {found.marketplace_id}")
            return key, False
        message.status, message.claimed_at = MessageStatus.SENDING, run.now()
        message.attempts += 1
    error = _call_confirm(run, account_id, found)
    if error is None and run.deps.options.on_confirmed is not None:
        run.deps.options.on_confirmed(message_id)
    with run.deps.sessions.begin() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        if error is None:
            _finish(message, MessageStatus.SENT, run.now(), _sent_result(found))
            _attempt(message, run.now(), "sent", 204)
            run.report.confirmed += 1
            return key, True
        if error.retryable or isinstance(error, AuthFailed):
            _retry_later(run, message, error)
        else:
            _refuse(session, run, message, str(error), status=error.status)
    return key, False


def _call_confirm(run: _Pass, account_id: int, found: Confirmation) -> AmazonError | None:
    try:
        run.client(account_id).confirm_shipment(found.amazon_order_id, found.marketplace_id, found.package)
    except AmazonError as failure:
        return failure
    return None


def _sent_result(found: Confirmation) -> dict[str, Any]:
    package = found.package
    return {
        "amazonOrderId": found.amazon_order_id,
        "packageReferenceId": package.package_reference_id,
        "carrierCode": package.carrier_code,
        "carrierName": package.carrier_name,
        "trackingNumber": package.tracking_number,
        "items": {item.order_item_id: item.quantity for item in package.items},
    }


# -- stock ------------------------------------------------------------------------------------------


@dataclass
class _Push:
    sent: list[Wanted] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # product id -> Amazon's reason
    feeds: list[StockFeed] = field(default_factory=list)
    transient: AmazonError | None = None


def _claim_stock(run: _Pass) -> tuple[list[int], set[int], bool]:
    now = run.now()
    with run.deps.sessions.begin() as session:
        messages = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind.in_(STOCK_KINDS), OutboxMessage.status == MessageStatus.PENDING)
                .order_by(OutboxMessage.id)
                .limit(run.deps.options.stock_messages_per_pass)
            )
        )
        due = [m for m in messages if m.due_at is None or m.due_at <= now]
        for message in due:
            message.status, message.claimed_at = MessageStatus.SENDING, now
            message.attempts += 1
        products = {m.subject_id for m in due if m.kind == MessageKind.STOCK_CHANGED}
        full = any(m.kind == MessageKind.STOCK_RECOUNT for m in due)
        return [m.id for m in due], products, full


def _push_stock(run: _Pass) -> None:
    with run.deps.sessions() as session:
        if session.scalar(select(StockFeed.id).where(StockFeed.state == FeedState.SUBMITTED).limit(1)):
            # A feed still being processed would overwrite any newer patch of its listings: wait for it.
            run.report.waiting_for_feed = True
            return
    message_ids, products, full = _claim_stock(run)
    if not message_ids:
        return
    run.report.stock_messages += len(message_ids)
    with run.deps.sessions() as session:
        wanted = wanted_quantities(session, affected_listings(session, None if full else products), full=full)
    groups: dict[tuple[int, str], list[Wanted]] = defaultdict(list)
    for line in wanted:
        account_id = run.by_marketplace.get(line.marketplace_id)
        if account_id is not None:
            groups[(account_id, line.marketplace_id)].append(line)
    push = _Push()
    for (account_id, marketplace_id), lines in groups.items():
        if push.transient is not None:
            break
        if use_feed(len(lines)):
            _send_feed(run, push, lines, where=(account_id, marketplace_id), message_ids=message_ids)
        else:
            _send_patches(run, push, account_id, marketplace_id, lines)
    _settle_stock(run, push, message_ids)


def _send_patches(run: _Pass, push: _Push, account_id: int, marketplace_id: str, lines: list[Wanted]) -> None:
    client = run.client(account_id)
    for line in lines:
        try:
            answer = client.patch_listings_item(
                line.sku, [marketplace_id], PRODUCT_TYPE, [quantity_patch(line.quantity)]
            )
        except AmazonError as error:
            if error.retryable or isinstance(error, AuthFailed):
                push.transient = error
                return
            push.refused[line.product_id] = f"listing {line.sku}: {error}"
            continue
        errors = [i for i in answer.issues if i.severity == "ERROR"]
        if answer.status == "INVALID" or errors:
            reasons = "; ".join(f"{i.code} {i.message}" for i in errors) or answer.status
            push.refused[line.product_id] = f"listing {line.sku}: {reasons}"
        else:
            push.sent.append(line)
            run.report.listings_patched += 1


def _send_feed(
    run: _Pass,
    push: _Push,
    lines: list[Wanted],
    *,
    where: tuple[int, str],
    message_ids: list[int],
) -> None:
    account_id, marketplace_id = where
    client = run.client(account_id)
    try:
        link = client.create_feed_document(FEED_CONTENT_TYPE)
        client.upload_feed_document(link, feed_document(run.accounts[account_id], lines), FEED_CONTENT_TYPE)
        feed_id = client.create_feed(FEED_TYPE, [marketplace_id], link.document_id)
    except AmazonError as error:
        push.transient = error  # a refused feed is our bug, not the seller's: retried, and visible
        return
    push.sent.extend(lines)
    push.feeds.append(
        StockFeed(
            account_id=account_id,
            marketplace_id=marketplace_id,
            feed_id=feed_id,
            state=FeedState.SUBMITTED,
            submitted_at=run.now(),
            lines={line.sku: [line.listing_id, line.product_id, line.quantity] for line in lines},
            message_ids=message_ids,
        )
    )
    run.report.feeds += 1
    run.report.listings_in_feeds += len(lines)


def _settle_stock(run: _Pass, push: _Push, message_ids: list[int]) -> None:
    now = run.now()
    with run.deps.sessions.begin() as session:
        record_pushed(session, push.sent, now=now)
        session.add_all(push.feeds)
        for message_id in message_ids:
            message = session.get(OutboxMessage, message_id)
            assert message is not None
            if message.kind == MessageKind.STOCK_CHANGED and message.subject_id in push.refused:
                _refuse(session, run, message, push.refused[message.subject_id])
            elif push.transient is not None:
                _retry_later(run, message, push.transient)
            else:
                detail = f"{len(push.sent)} listings sent in this push" + (
                    f", {len(push.feeds)} feeds" if push.feeds else ""
                )
                _finish(
                    message,
                    MessageStatus.SENT,
                    now,
                    {"listings": len(push.sent), "feeds": [f.feed_id for f in push.feeds]},
                )
                _attempt(message, now, "sent", 200, detail)


def _read_feeds(run: _Pass) -> None:
    """Read back submitted feeds: errors per SKU fail their product's message; a failed feed is resent."""
    with run.deps.sessions() as session:
        submitted = [
            (row.id, row.account_id, row.feed_id)
            for row in session.scalars(select(StockFeed).where(StockFeed.state == FeedState.SUBMITTED))
        ]
    for row_id, account_id, feed_id in submitted:
        if account_id not in run.accounts:
            outcome: dict[str, str] | None = None
        else:
            try:
                answer = _feed_outcome(run, account_id, feed_id)
            except AmazonError:
                continue  # asked again next pass
            if answer == "processing":
                continue
            outcome = answer if isinstance(answer, dict) else None
        with run.deps.sessions.begin() as session:
            feed_row = session.get(StockFeed, row_id)
            assert feed_row is not None
            _settle_feed(session, run, feed_row, outcome)


def _feed_outcome(run: _Pass, account_id: int, feed_id: str) -> dict[str, str] | str | None:
    """ "processing", None (Amazon did not process it) or Amazon's ERROR issues by SKU (none: all taken)."""
    client = run.client(account_id)
    feed = client.get_feed(feed_id)
    if feed.processing_status in ("IN_QUEUE", "IN_PROGRESS"):
        return "processing"
    if feed.processing_status != "DONE" or not feed.result_feed_document_id:
        return None
    link = client.get_feed_document(feed.result_feed_document_id)
    try:
        report = json.loads(client.download(link.url, compression=link.compression_algorithm).text())
    except ValueError:
        report = {}
    refused: dict[str, str] = {}
    for issue in report.get("issues") or [] if isinstance(report, dict) else []:
        if isinstance(issue, dict) and issue.get("severity") == "ERROR":
            sku = str(issue.get("sku", ""))
            refused[sku] = f"listing {sku}: {issue.get('code')} {issue.get('message')}"
    return refused


def _settle_feed(
    session: Session, run: _Pass, feed_row: StockFeed, refused_by_sku: dict[str, str] | None
) -> None:
    feed_row.finished_at = run.now()
    if refused_by_sku is None:
        feed_row.state = FeedState.FAILED
        _resend_feed(session, run, feed_row)
        return
    refused = {
        int(feed_row.lines[sku][1]): reason for sku, reason in refused_by_sku.items() if sku in feed_row.lines
    }
    feed_row.state, feed_row.errors = FeedState.DONE, len(refused)
    forget_pushed(session, [int(feed_row.lines[sku][0]) for sku in refused_by_sku if sku in feed_row.lines])
    for message in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(feed_row.message_ids))):
        if message.kind == MessageKind.STOCK_CHANGED and message.subject_id in refused:
            _refuse(session, run, message, f"feed {feed_row.feed_id}: {refused[message.subject_id]}")


def _resend_feed(session: Session, run: _Pass, feed_row: StockFeed) -> None:
    """Amazon did not process the feed: forget what it carried and queue its products again."""
    forget_pushed(session, [int(line[0]) for line in feed_row.lines.values()])
    now = run.now()
    for product_id in sorted({int(line[1]) for line in feed_row.lines.values()}):
        session.add(
            OutboxMessage(
                kind=MessageKind.STOCK_CHANGED,
                key=f"product:{product_id}",
                subject_id=product_id,
                payload={"resent_feed": feed_row.feed_id},
                status=MessageStatus.PENDING,
                attempts=0,
                created_at=now,
            )
        )


# -- commands ---------------------------------------------------------------------------------------


def retry_message(session: Session, message_id: int, *, now: datetime, by: str = "operator") -> OutboxMessage:
    """Send a failed (or skipped) message again, and clear the alert it raised."""
    message = session.get(OutboxMessage, message_id)
    if message is None:
        raise OutboxError(f"outbox message {message_id} does not exist")
    if message.status not in (MessageStatus.FAILED, MessageStatus.SKIPPED):
        raise OutboxError(
            f"outbox message {message_id} is {message.status}; only failed or skipped ones are retried"
        )
    message.status, message.due_at, message.finished_at = MessageStatus.PENDING, None, None
    _attempt(message, now, "requeued", detail=f"retry asked by {by}")
    subject = Subject.ORDER if message.kind == MessageKind.ORDER_SHIPPED else Subject.PRODUCT
    for alert in open_alerts(session, subject, message.subject_id):
        if alert.kind == ALERT_KIND and f"outbox message {message.id})" in alert.message:
            clear_alert(alert, by=by, now=now)
    return message


def request_full_stock_push(session: Session, *, now: datetime) -> OutboxMessage:
    """Queue the nightly full push (every connected FBM listing, changed or not): corrects drift."""
    message = OutboxMessage(
        kind=MessageKind.STOCK_RECOUNT,
        key="stock:all",
        subject_id=0,
        payload={},
        status=MessageStatus.PENDING,
        attempts=0,
        created_at=now,
    )
    session.add(message)
    return message
