"""Booking a page of one channel's Amazon orders: one look-up per kind, new orders booked in one batch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.booking import Action, Applied, apply_order, finish_order, save_record
from orderbridge.amazon.booking_facts import EmailKey, facts_for, lookup
from orderbridge.amazon.booking_records import AmazonOrderRecord, BookedState
from orderbridge.amazon.channel import resolve
from orderbridge.amazon.listings import SeenListing, record_seen
from orderbridge.amazon.mapping import AmazonState, MappedOrder, MappingError, Outcome, map_order
from orderbridge.book.channels import Channel
from orderbridge.book.contacts import Contact, create_contact
from orderbridge.book.orders.booking import book_orders
from orderbridge.book.orders.commands import NewOrder
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.orders.statuses import shipping_method


def book_amazon_orders(
    session: Session, docs: Sequence[object], channel: Channel, *, email_key: EmailKey | None, now: datetime
) -> list[Applied | MappingError]:
    """A page of one channel's orders, results in the page's order.

    Orders never seen before are booked together (one batch through the book); updates, cancellations
    and skips follow one by one. A malformed order's MappingError stands in its place (quarantine it)
    and the rest flow on: mapping writes nothing, so the session is as it was for that order.
    """
    book = resolve(session, channel)
    found = lookup(session, docs, book, email_key=email_key)
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
    """Book orders never seen before in one batch: contacts, shipping methods, listings seen, records."""
    if not page:
        return []
    seen: dict[str, SeenListing] = {item.seller_sku: item for mapped in page for item in mapped.seen_listings}
    record_seen(session, channel, seen.values(), now=now)
    methods = {name: shipping_method(session, name).id for name in {m.shipping_method for m in page} if name}
    new_contacts: dict[str, Contact] = {}
    orders: list[tuple[NewOrder, Contact | None]] = []
    for mapped in page:
        assert mapped.order is not None
        new = replace(mapped.order, shipping_method_id=methods.get(mapped.shipping_method or ""))
        orders.append(_with_contact(session, new, mapped, new_contacts, now=now))
    booked = book_orders(session, orders, now=now)
    applied = []
    for mapped, result in zip(page, booked, strict=True):
        finish_order(session, result.order_id, mapped, now=now, new=True)
        state = BookedState.PENDING if mapped.state == AmazonState.PENDING else BookedState.READY
        save_record(session, mapped, None, state, now=now, order_id=result.order_id)
        applied.append(Applied(mapped.amazon_order_id, Action.BOOKED, result.order_id))
    session.flush()
    return applied


def _with_contact(
    session: Session, new: NewOrder, mapped: MappedOrder, made: dict[str, Contact], *, now: datetime
) -> tuple[NewOrder, Contact | None]:
    """The contact to create with the order; a buyer's second order in the same page matches it (C4, C10)."""
    if mapped.new_contact is None:
        return new, None
    key = mapped.new_contact.email_key
    if key is not None and key in made:
        contact = made[key]
        return replace(new, billing=contact.billing_address), contact
    contact = create_contact(session, mapped.new_contact, now=now)
    if key is not None:
        made[key] = contact
    return new, contact
