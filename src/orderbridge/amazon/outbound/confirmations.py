"""Shipment confirmations to Amazon (v0 `confirmShipment`), one at a time in message order per order,
and the check at Amazon (getOrder PACKAGES) for a confirmation a dead sender left in flight."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import select

from orderbridge.amazon.errors import AmazonError, AuthFailed
from orderbridge.amazon.outbound.sender_pass import SenderPass, finish, record_attempt, refuse, retry_later
from orderbridge.amazon.outbound.shipment_packages import (
    Confirmation,
    ConfirmationError,
    NotSent,
    confirmation_for,
)
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage


def check_at_amazon(run: SenderPass, message_id: int, found: Confirmation) -> None:
    account_id = run.by_marketplace[found.marketplace_id]
    reference = found.package.package_reference_id
    try:
        order = run.client(account_id).get_order(found.amazon_order_id, included_data=("PACKAGES",))
    except AmazonError as error:
        with run.deps.sessions.begin() as session:
            message = session.get(OutboxMessage, message_id)
            assert message is not None
            record_attempt(message, run.now(), "check_failed", error.status, str(error))
        return  # still `sending`: checked again next pass, never sent blindly
    packages = order.get("packages") or []
    # A corrected shipment is already at Amazon under its reference with the old tracking: only the
    # package with this tracking number is this message's confirmation.
    tracking = found.package.tracking_number
    confirmed = any(
        isinstance(p, dict)
        and str(p.get("packageReferenceId")) == reference
        and str(p.get("trackingNumber") or "") == tracking
        for p in packages
    )
    with run.deps.sessions.begin() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        if confirmed:
            finish(message, MessageStatus.SENT, run.now(), {**_sent_result(found), "verified": True})
            detail = f"package {reference} with tracking {tracking} found at Amazon: not sent again"
            record_attempt(message, run.now(), "verified", 200, detail)
            run.report.verified += 1
        else:
            message.status = MessageStatus.PENDING
            detail = f"package {reference} ({tracking}) not at Amazon: sending it"
            record_attempt(message, run.now(), "resend", 200, detail)


def _due_confirmations(run: SenderPass) -> Iterator[int]:
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


def send_shipments(run: SenderPass) -> None:
    failed_keys: set[str] = set()
    for number, message_id in enumerate(_due_confirmations(run)):
        if number >= run.deps.options.shipments_per_pass:
            break
        if number % 200 == 199:
            run.renew()
        key, sent = _confirm(run, message_id, failed_keys)
        if not sent:
            failed_keys.add(key)


def _confirm(run: SenderPass, message_id: int, failed_keys: set[str]) -> tuple[str, bool]:
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
            refuse(session, run, message, str(problem), at_amazon=False)
            return key, False
        if isinstance(found, NotSent):
            finish(message, MessageStatus.SKIPPED, run.now(), {"skipped": found.reason})
            record_attempt(message, run.now(), "skipped", detail=found.reason)
            run.report.skipped += 1
            return key, True
        account_id = run.by_marketplace.get(found.marketplace_id)
        if account_id is None:
            reason = f"no seller account sells in marketplace {found.marketplace_id}"
            refuse(session, run, message, reason, at_amazon=False)
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
            finish(message, MessageStatus.SENT, run.now(), _sent_result(found))
            record_attempt(message, run.now(), "sent", 204)
            run.report.confirmed += 1
            return key, True
        if error.retryable or isinstance(error, AuthFailed):
            retry_later(run, message, error)
        else:
            refuse(session, run, message, str(error), status=error.status)
    return key, False


def _call_confirm(run: SenderPass, account_id: int, found: Confirmation) -> AmazonError | None:
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
