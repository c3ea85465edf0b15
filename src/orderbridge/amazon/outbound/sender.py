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

The pass's state and shared bookkeeping are in sender_pass.py, confirmations in
confirmations.py, stock and feeds in stock_updates.py; this module runs the pass and holds the
commands.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon import leases
from orderbridge.amazon.outbound.confirmations import check_at_amazon, send_shipments
from orderbridge.amazon.outbound.sender_pass import (
    ALERT_KIND,
    LEASE,
    SenderDeps,
    SenderOptions,
    SenderPass,
    SendReport,
    record_attempt,
)
from orderbridge.amazon.outbound.shipment_packages import (
    Confirmation,
    ConfirmationError,
    NotSent,
    confirmation_for,
)
from orderbridge.amazon.outbound.stock_updates import push_stock, read_feeds
from orderbridge.book.alerts import Subject, clear_alert, open_alerts
from orderbridge.errors import OrderbridgeError
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage

__all__ = [
    "ALERT_KIND",
    "OutboxError",
    "SendReport",
    "SenderDeps",
    "SenderOptions",
    "request_full_stock_push",
    "retry_message",
    "send_outbox",
]


class OutboxError(OrderbridgeError):
    """An outbox command cannot be done: the message names the outbox message and why."""


def send_outbox(deps: SenderDeps) -> SendReport:
    """One pass over the outbox (LeaseHeld if another sender is running)."""
    ttl = deps.options.lease_ttl
    with leases.held(deps.sessions, LEASE, clock=deps.clock, ttl=ttl) as holder, ExitStack() as stack:
        run = SenderPass(deps, holder, stack)
        _recover(run)
        read_feeds(run)
        push_stock(run)  # first: a feed is processed at Amazon while the confirmations go out
        send_shipments(run)
        return run.report


def _recover(run: SenderPass) -> None:
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
                record_attempt(message, run.now(), "resend", detail=detail)
                continue
            try:
                found = confirmation_for(session, int(message.payload["shipment_id"]))
            except ConfirmationError:
                found = NotSent("")
            if not isinstance(found, Confirmation) or found.marketplace_id not in run.by_marketplace:
                message.status = MessageStatus.PENDING  # the send decides again (skipped or refused)
                continue
        # No transaction is open while Amazon is asked (the quota bucket writes to the store meanwhile).
        check_at_amazon(run, message_id, found)


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
    record_attempt(message, now, "requeued", detail=f"retry asked by {by}")
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
