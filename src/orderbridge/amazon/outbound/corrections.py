"""Correcting a shipment's carrier or tracking number, and sending its confirmation to Amazon again.

O23 sends a shipment's confirmation once; a correction is a deliberate resend. The book raises the
shipment's revision and the outbox capture queues one new confirmation for it (payload: the shipment
and its revision), sent with the same package reference: SPAPI.md §4.4 reads that confirmShipment can
also edit the shipment details of an already-shipped order. That Amazon matches the edited package by
its packageReferenceId is UNCONFIRMED in Amazon's text.

A confirmation of the same shipment that has not reached Amazon yet (waiting, or failed) would send
the old details, and a failed one would hold up the correction behind it (messages of an order go in
order): it is skipped as replaced, and its alert cleared. One in flight is left to finish first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.outbound.sender_pass import ALERT_KIND, finish, record_attempt
from orderbridge.book.alerts import Subject, clear_alert, open_alerts
from orderbridge.book.orders.model import SalesOrder, Shipment
from orderbridge.book.orders.shipping import correct_shipment, shipment_by_reference
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage


@dataclass(frozen=True)
class Correction:
    """A corrected shipment, the confirmation queued for it (None: Amazon is not told of this order)
    and the earlier unsent confirmations it replaced."""

    shipment: Shipment
    message_id: int | None
    replaced: tuple[int, ...]


def correct_tracking(
    session: Session,
    order: SalesOrder,
    *,
    reference: str | None,
    tracking_number: str | None,
    carrier: str | None = None,
    now: datetime,
    by: str = "operator",
) -> Correction:
    """Correct the tracking (and carrier) of the order's shipment `reference` (default: its latest)
    and queue its confirmation again; InvalidValueError when the details are refused."""
    shipment = shipment_by_reference(order, reference)
    correct_shipment(session, shipment, tracking_number=tracking_number, carrier=carrier, now=now)
    session.flush()  # the outbox capture queues the corrected confirmation
    messages = _confirmations_of(session, shipment)
    queued = next((m for m in messages if m.payload.get("revision") == shipment.revision), None)
    replaced: list[int] = []
    for message in messages:
        if message is queued or message.status not in (MessageStatus.PENDING, MessageStatus.FAILED):
            continue
        _replace(session, message, by_message=queued, now=now, by=by)
        replaced.append(message.id)
    return Correction(shipment, queued.id if queued is not None else None, tuple(replaced))


def _confirmations_of(session: Session, shipment: Shipment) -> list[OutboxMessage]:
    query = (
        select(OutboxMessage)
        .where(
            OutboxMessage.key == f"order:{shipment.order_id}",
            OutboxMessage.kind == MessageKind.ORDER_SHIPPED,
        )
        .order_by(OutboxMessage.id)
    )
    return [m for m in session.scalars(query) if int(m.payload.get("shipment_id", 0)) == shipment.id]


def _replace(
    session: Session, message: OutboxMessage, *, by_message: OutboxMessage | None, now: datetime, by: str
) -> None:
    reason = "replaced by the corrected confirmation" + (
        f" (outbox message {by_message.id})" if by_message is not None else ""
    )
    finish(message, MessageStatus.SKIPPED, now, {"skipped": reason})
    record_attempt(message, now, "replaced", detail=f"{reason}; corrected by {by}")
    for alert in open_alerts(session, Subject.ORDER, message.subject_id):
        if alert.kind == ALERT_KIND and f"outbox message {message.id})" in alert.message:
            clear_alert(alert, by=by, now=now)
