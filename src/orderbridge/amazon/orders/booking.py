"""Applying mapped Amazon orders to the book, idempotently: book, make Ready, cancel, or only alert."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from orderbridge.amazon.channel import NO_EMAIL_CONTACT_TO_CREATE, resolve, with_no_email_contact
from orderbridge.amazon.listings import record_seen
from orderbridge.amazon.orders.at_amazon import record_at_amazon
from orderbridge.amazon.orders.channel_warnings import warn_channel
from orderbridge.amazon.orders.facts import EmailKey, facts_for, lookup
from orderbridge.amazon.orders.mapping import AmazonState, MappedOrder, Outcome, map_order
from orderbridge.amazon.orders.records import AmazonOrderRecord, BookedState, order_record
from orderbridge.book.address import write_address
from orderbridge.book.alerts import Subject, raise_alert
from orderbridge.book.channels import Channel
from orderbridge.book.contacts import create_contact
from orderbridge.book.custom_fields import RecordKind, field_definition, set_field
from orderbridge.book.orders.booking import book_orders, find_order, replace_rows
from orderbridge.book.orders.cancel import cancel_item, cancel_order
from orderbridge.book.orders.commands import NewOrder
from orderbridge.book.orders.model import OrderNote, OrderRow, RowKind, SalesOrder
from orderbridge.book.orders.statuses import shipping_method


class Action(StrEnum):
    BOOKED = "booked"
    MADE_READY = "made_ready"  # O2: the pending order got its customer, addresses, rows and status
    ROWS_CANCELLED = "rows_cancelled"  # O21: partial cancellation while pending
    CANCELLED = "cancelled"  # O21: cancelled while pending
    ALERTED = "alerted"  # O22: changed at Amazon after Ready; a person decides
    RECORDED = "recorded"  # O24: shipped or cancelled at Amazon outside the book, recorded
    UNCHANGED = "unchanged"
    WAITING = "waiting"  # O1: pending, not downloaded
    NOT_BOOKED = "not_booked"  # O1/O21: cancelled before it was ever booked
    SKIPPED = "skipped"  # O19


@dataclass(frozen=True)
class Applied:
    """What became of one order; `reason` says why when it was not booked (O1, O19, O21)."""

    amazon_order_id: str
    action: Action
    order_id: int | None = None
    reason: str | None = None


def book_amazon_order(
    session: Session, doc: object, channel: Channel, *, email_key: EmailKey | None, now: datetime
) -> Applied:
    """Look up facts, map and apply one order document (MappingError propagates: quarantine it)."""
    found = lookup(session, [doc], resolve(session, channel), email_key=email_key)
    if found.without_email:
        found.book = with_no_email_contact(session, channel, found.book, now=now)
    mapped = map_order(doc, found.book, facts_for(session, found, doc))
    return apply_order(session, mapped, now=now)


def preview_order(
    session: Session, doc: object, channel: Channel, *, email_key: EmailKey | None
) -> MappedOrder:
    """How an order would book under the channel's current settings, without writing anything:
    status, contact match, rows, tax and nominal codes (MappingError if it is malformed).

    An order without a buyer e-mail shows the channel's contact for such orders, or
    `NO_EMAIL_CONTACT_TO_CREATE` while it is still to be created by the first one booked.
    """
    found = lookup(session, [doc], resolve(session, channel), email_key=email_key)
    book = found.book
    if found.without_email and book.no_email_contact_id is None:
        found.book = replace(book, no_email_contact_id=NO_EMAIL_CONTACT_TO_CREATE)
    return map_order(doc, found.book, facts_for(session, found, doc))


def apply_order(session: Session, mapped: MappedOrder, *, now: datetime) -> Applied:
    """Apply one mapped order. The same or an older `lastUpdatedTime` again changes nothing."""
    applied = _apply(session, mapped, now=now)
    session.flush()
    return applied


def _apply(session: Session, mapped: MappedOrder, *, now: datetime) -> Applied:
    record = order_record(session, mapped.channel_id, mapped.amazon_order_id)
    if record is not None and record.last_updated >= mapped.last_updated:
        return Applied(mapped.amazon_order_id, Action.UNCHANGED, record.order_id)
    if mapped.outcome == Outcome.WAIT:
        return Applied(mapped.amazon_order_id, Action.WAITING, reason=mapped.reason)
    order = _booked_order(session, mapped, record)
    if mapped.outcome == Outcome.SKIP:
        record = save_record(session, mapped, record, BookedState.SKIPPED, now=now)
        return Applied(mapped.amazon_order_id, Action.SKIPPED, record.order_id, mapped.reason)
    if order is None:
        if mapped.outcome == Outcome.CANCEL:
            reason = "cancelled at Amazon before it was booked: nothing to do"
            return Applied(mapped.amazon_order_id, Action.NOT_BOOKED, reason=reason)
        applied = _book_new(session, mapped, record, now=now)
        if mapped.at_amazon.anything and applied.order_id is not None:
            booked = session.get(SalesOrder, applied.order_id)
            assert booked is not None
            record_at_amazon(session, booked, mapped, now=now)
        return applied
    state = record.state if record is not None else BookedState.READY
    if state == BookedState.PENDING:
        action = _update_pending(session, order, mapped, now=now)
    elif state == BookedState.READY:
        action = _alert_after_ready(session, order, mapped, now=now)
    else:
        action = Action.UNCHANGED
    if state != BookedState.CANCELLED:
        recorded = record_at_amazon(session, order, mapped, now=now)
        action = Action.RECORDED if recorded and action == Action.UNCHANGED else action
    new_state = {
        Action.MADE_READY: BookedState.READY,
        Action.CANCELLED: BookedState.CANCELLED,
    }.get(action, state)
    save_record(session, mapped, record, new_state, now=now, order_id=order.id)
    return Applied(mapped.amazon_order_id, action, order.id)


def _booked_order(
    session: Session, mapped: MappedOrder, record: AmazonOrderRecord | None
) -> SalesOrder | None:
    if record is not None and record.order_id is not None:
        return session.get(SalesOrder, record.order_id)
    return find_order(session, mapped.channel_id, mapped.amazon_order_id)


def save_record(
    session: Session,
    mapped: MappedOrder,
    record: AmazonOrderRecord | None,
    state: BookedState,
    *,
    now: datetime,
    order_id: int | None = None,
) -> AmazonOrderRecord:
    if record is None:
        record = AmazonOrderRecord(
            channel_id=mapped.channel_id, amazon_order_id=mapped.amazon_order_id, recorded_at=now
        )
        session.add(record)
    record.state = state
    record.last_updated = mapped.last_updated
    record.order_id = order_id if order_id is not None else record.order_id
    record.reason = mapped.reason if state == BookedState.SKIPPED else None
    if mapped.outcome == Outcome.BOOK:
        record.seller_fulfilled_prime = mapped.seller_fulfilled_prime
        record.skip_shipment_confirmation = mapped.skip_shipment_confirmation
    return record


def new_record(mapped: MappedOrder, order_id: int, *, now: datetime) -> dict[str, object]:
    """The record of an order just booked, as the values of one row (the page booking inserts in bulk)."""
    return {
        "channel_id": mapped.channel_id,
        "amazon_order_id": mapped.amazon_order_id,
        "order_id": order_id,
        "state": BookedState.PENDING if mapped.state == AmazonState.PENDING else BookedState.READY,
        "last_updated": mapped.last_updated,
        "reason": None,
        "seller_fulfilled_prime": mapped.seller_fulfilled_prime,
        "skip_shipment_confirmation": mapped.skip_shipment_confirmation,
        "recorded_at": now,
    }


def _prepared(session: Session, mapped: MappedOrder, *, now: datetime) -> NewOrder:
    assert mapped.order is not None
    channel = session.get(Channel, mapped.channel_id)
    assert channel is not None
    record_seen(session, channel, mapped.seen_listings, now=now)
    method = shipping_method(session, mapped.shipping_method) if mapped.shipping_method else None
    return replace(mapped.order, shipping_method_id=method.id if method is not None else None)


def _book_new(
    session: Session, mapped: MappedOrder, record: AmazonOrderRecord | None, *, now: datetime
) -> Applied:
    new = _prepared(session, mapped, now=now)
    contact = create_contact(session, mapped.new_contact, now=now) if mapped.new_contact else None
    booked = book_orders(session, [(new, contact)], now=now)[0]
    finish_order(session, booked.order_id, mapped, now=now)
    state = BookedState.PENDING if mapped.state == AmazonState.PENDING else BookedState.READY
    save_record(session, mapped, record, state, now=now, order_id=booked.order_id)
    return Applied(mapped.amazon_order_id, Action.BOOKED, booked.order_id)


def finish_order(session: Session, order_id: int, mapped: MappedOrder, *, now: datetime) -> None:
    """Custom field values (O12, O18, O20) and alerts (O6, O22) of a booked or updated order."""
    with session.no_autoflush:
        set_fields(session, order_id, mapped)
        for alert in mapped.alerts:
            if alert.channel_wide:
                warn_channel(session, mapped.channel_id, alert.kind, now=now)
            else:
                raise_alert(session, Subject.ORDER, order_id, alert.kind, alert.message, now=now)


def set_fields(session: Session, order_id: int, mapped: MappedOrder) -> None:
    """The order's custom field values: gift messages, Business flag, PO, VAT, prime (O12, O18, O20)."""
    with session.no_autoflush:
        for value in mapped.field_values:
            definition = field_definition(session, RecordKind.SALES_ORDER, value.code)
            set_field(session, definition, order_id, value.value)


def _update_pending(session: Session, order: SalesOrder, mapped: MappedOrder, *, now: datetime) -> Action:
    if mapped.outcome == Outcome.CANCEL:
        cancel_order(session, order, now=now)  # O21: cancelled while pending
        return Action.CANCELLED
    if mapped.state == AmazonState.READY:
        _make_ready(session, order, mapped, now=now)
        return Action.MADE_READY
    return Action.ROWS_CANCELLED if _cancel_rows(session, order, mapped, now=now) else Action.UNCHANGED


def _make_ready(session: Session, order: SalesOrder, mapped: MappedOrder, *, now: datetime) -> None:
    """O2/O3: the same book order gets the real customer, addresses, rows and status."""
    new = _prepared(session, mapped, now=now)
    contact = create_contact(session, mapped.new_contact, now=now) if mapped.new_contact else None
    session.flush()
    order.contact_id = contact.id if contact is not None else new.contact_id
    session.expire(order, ["contact"])
    write_address(order, "billing", new.billing)
    write_address(order, "delivery", new.delivery)
    order.status_id = new.status_id
    session.expire(order, ["status"])
    order.fulfilment = new.fulfilment
    order.warehouse_id = new.warehouse_id
    order.shipping_method_id = new.shipping_method_id
    order.price_list_id = new.price_list_id
    order.currency = new.currency
    order.withheld_tax = new.withheld_tax
    order.ship_by, order.deliver_by = new.ship_by, new.deliver_by
    replace_rows(session, order, new.rows, now=now)
    existing = {note.body for note in order.notes}
    for body in new.notes:
        if body not in existing:
            order.notes.append(OrderNote(body=body, source=new.note_source, added_at=now))
    finish_order(session, order.id, mapped, now=now)


def _cancel_rows(session: Session, order: SalesOrder, mapped: MappedOrder, *, now: datetime) -> bool:
    """O21: units cancelled while pending: the rows shrink (to quantity and price 0), allocation is freed."""
    changed = False
    for row in list(order.rows):
        wanted = mapped.item_quantities.get(row.external_ref or "")
        if row.parent_row_id is not None or wanted is None or wanted >= row.quantity:
            continue
        cancel_item(session, order, row, row.quantity - wanted, now=now)
        changed = True
    return changed


def _alert_after_ready(session: Session, order: SalesOrder, mapped: MappedOrder, *, now: datetime) -> Action:
    """O22: a cancellation (or a request for one) after Ready never changes the book order by itself."""
    shrunk = [
        row.sku or row.name
        for row in order.rows
        if _is_goods(row) and mapped.item_quantities.get(row.external_ref or "", row.quantity) < row.quantity
    ]
    if mapped.outcome == Outcome.CANCEL:
        when = mapped.at_amazon.cancelled_at or mapped.last_updated
        message = (
            f"Amazon cancelled Amazon order {mapped.amazon_order_id} on {when:%Y-%m-%d %H:%M} UTC, after it "
            "was ready to ship. If it has not left the warehouse, cancel it in the book; if it has, stop "
            "the parcel or expect a return"
        )
    elif shrunk:
        message = (
            f"Amazon order {mapped.amazon_order_id}: units of SKU {', '.join(shrunk)} were cancelled at "
            "Amazon after it was ready to ship. Cancel those units in the book before shipping"
        )
    elif mapped.cancellation_requested:
        # Only asked: filed with the buyers' requests (their tab and tile), not Amazon's cancellations.
        message = (
            f"The buyer asked Amazon to cancel Amazon order {mapped.amazon_order_id}. Cancel the order "
            "in the book if it has not shipped yet, or ship it and clear this alert"
        )
        raise_alert(session, Subject.ORDER, order.id, "cancellation_requested", message, now=now)
        return Action.ALERTED
    else:
        return Action.UNCHANGED
    raise_alert(session, Subject.ORDER, order.id, "cancelled_after_ready", message[:1000], now=now)
    return Action.ALERTED


def _is_goods(row: OrderRow) -> bool:
    return row.parent_row_id is None and row.kind in (RowKind.PRODUCT, RowKind.BUNDLE, RowKind.FREE_TEXT)
