"""Booking a page of one channel's Amazon orders: one look-up per kind, new orders booked in one batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from orderbridge.amazon.channel import resolve, with_no_email_contact
from orderbridge.amazon.listings import SeenListing, record_seen
from orderbridge.amazon.orders.at_amazon import record_at_amazon
from orderbridge.amazon.orders.booking import Action, Applied, apply_order, new_record, set_fields
from orderbridge.amazon.orders.channel_warnings import warn_channel
from orderbridge.amazon.orders.facts import EmailKey, facts_for, lookup
from orderbridge.amazon.orders.mapping import MappedOrder, MappingError, Outcome, map_order
from orderbridge.amazon.orders.records import AmazonOrderRecord
from orderbridge.book.address import Address
from orderbridge.book.alerts import Alert, Subject
from orderbridge.book.channels import Channel
from orderbridge.book.contacts import NewContact, create_contacts
from orderbridge.book.orders.booking import book_orders
from orderbridge.book.orders.commands import NewOrder
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.orders.statuses import shipping_method
from orderbridge.db import insert_dicts


def book_amazon_orders(
    session: Session,
    docs: Sequence[object],
    channel: Channel,
    *,
    email_key: EmailKey | None,
    now: datetime,
    account_id: int | None = None,
) -> list[Applied | MappingError]:
    """A page of one channel's orders, results in the page's order.

    Orders never seen before are booked together (one batch through the book); updates, cancellations
    and skips follow one by one. A malformed order's MappingError stands in its place (quarantine it)
    and the rest flow on: mapping writes nothing, so the session is as it was for that order. FBA
    orders book to `account_id`'s FBA warehouse (each account's FBA stock is its own).
    """
    found = lookup(session, docs, resolve(session, channel, account_id=account_id), email_key=email_key)
    if found.without_email:
        found.book = with_no_email_contact(session, channel, found.book, now=now)
    book = found.book
    results: list[Applied | MappingError | None] = [None] * len(docs)
    mapped_page: list[tuple[int, MappedOrder]] = []
    for index, doc in enumerate(docs):
        try:
            mapped_page.append((index, map_order(doc, book, facts_for(session, found, doc))))
        except MappingError as error:
            results[index] = error
    known = _known(session, channel.id, [mapped.amazon_order_id for _, mapped in mapped_page])
    fresh: list[tuple[int, MappedOrder]] = []
    rest: list[tuple[int, MappedOrder]] = []
    for index, mapped in mapped_page:
        is_new = mapped.outcome == Outcome.BOOK and mapped.amazon_order_id not in known
        (fresh if is_new else rest).append((index, mapped))
        known.add(mapped.amazon_order_id)  # a second version in the same page applies after the first
    booked = _book_new_orders(session, channel, [mapped for _, mapped in fresh], now=now)
    for (index, _), applied in zip(fresh, booked, strict=True):
        results[index] = applied
    for index, mapped in rest:
        results[index] = apply_order(session, mapped, now=now)
    return [result for result in results if result is not None]


def _known(session: Session, channel_id: int, order_ids: list[str]) -> set[str]:
    """The page's orders already recorded or booked on this channel (one query each)."""
    if not order_ids:
        return set()
    recorded = session.scalars(
        select(AmazonOrderRecord.amazon_order_id).where(
            AmazonOrderRecord.channel_id == channel_id, AmazonOrderRecord.amazon_order_id.in_(order_ids)
        )
    )
    booked = session.scalars(
        select(SalesOrder.external_ref).where(
            SalesOrder.channel_id == channel_id, SalesOrder.external_ref.in_(order_ids)
        )
    )
    return set(recorded) | set(booked)


def _book_new_orders(
    session: Session, channel: Channel, page: list[MappedOrder], *, now: datetime
) -> list[Applied]:
    """Book orders never seen before in one batch: contacts, shipping methods, listings seen, orders,
    custom fields, alerts and records, each kind in one batched INSERT."""
    if not page:
        return []
    seen: dict[str, SeenListing] = {item.seller_sku: item for mapped in page for item in mapped.seen_listings}
    record_seen(session, channel, seen.values(), now=now)
    methods = {name: shipping_method(session, name).id for name in {m.shipping_method for m in page} if name}
    orders = _with_contacts(session, page, methods, now=now)
    booked = book_orders(session, [(new, None) for new in orders], now=now)
    order_ids = [result.order_id for result in booked]
    for mapped, order_id in zip(page, order_ids, strict=True):
        if mapped.field_values:
            set_fields(session, order_id, mapped)
    alerts = [
        {
            "subject": Subject.ORDER,
            "subject_id": order_id,
            "kind": alert.kind,
            "message": alert.message,
            "raised_at": now,
            "cleared_at": None,
            "cleared_by": None,
        }
        for mapped, order_id in zip(page, order_ids, strict=True)
        for alert in mapped.alerts  # a new order has no open alert to refresh yet
        if not alert.channel_wide
    ]
    for kind in sorted({alert.kind for mapped in page for alert in mapped.alerts if alert.channel_wide}):
        warn_channel(session, channel.id, kind, now=now)
    if alerts:
        insert_dicts(session, cast(Table, Alert.__table__), alerts)
    insert_dicts(
        session,
        cast(Table, AmazonOrderRecord.__table__),
        [new_record(mapped, order_id, now=now) for mapped, order_id in zip(page, order_ids, strict=True)],
    )
    session.flush()
    for mapped, order_id in zip(page, order_ids, strict=True):
        if mapped.at_amazon.anything:  # first seen already shipped (or part shipped) at Amazon
            order = session.get(SalesOrder, order_id)
            assert order is not None
            record_at_amazon(session, order, mapped, now=now)
    return [
        Applied(mapped.amazon_order_id, Action.BOOKED, order_id)
        for mapped, order_id in zip(page, order_ids, strict=True)
    ]


def _with_contacts(
    session: Session, page: list[MappedOrder], methods: dict[str, int], *, now: datetime
) -> list[NewOrder]:
    """The page's orders with their contacts; new buyers' contacts created in one batch.

    A buyer's second order in the same page books against the contact its first order creates (C4),
    with that contact's address as its billing address (C10).
    """
    contacts: list[NewContact] = []
    by_key: dict[str, int] = {}
    which: list[int | None] = []
    for mapped in page:
        wanted = mapped.new_contact
        if wanted is None:
            which.append(None)
            continue
        key = wanted.email_key
        if key is not None and key in by_key:
            which.append(by_key[key])
            continue
        which.append(len(contacts))
        if key is not None:
            by_key[key] = len(contacts)
        contacts.append(wanted)
    ids = create_contacts(session, contacts, now=now)
    orders = []
    for mapped, index in zip(page, which, strict=True):
        assert mapped.order is not None
        method = methods.get(mapped.shipping_method or "")
        if index is None:
            orders.append(_with(mapped.order, method, mapped.order.contact_id, mapped.order.billing))
        else:
            orders.append(_with(mapped.order, method, ids[index], contacts[index].billing))
    return orders


def _with(order: NewOrder, shipping_method_id: int | None, contact_id: int, billing: Address) -> NewOrder:
    """`dataclasses.replace(order, ...)` of these three fields, at a third of its cost (once per order)."""
    return NewOrder(
        order.channel_id,
        order.external_ref,
        contact_id,
        order.status_id,
        order.currency,
        order.placed_at,
        order.rows,
        billing,
        order.delivery,
        order.fulfilment,
        order.warehouse_id,
        shipping_method_id,
        order.price_list_id,
        order.withheld_tax,
        order.notes,
        order.note_source,
        order.channel_programs,
        order.confirm_shipments,
        order.ship_by,
        order.deliver_by,
    )
