"""The read queries behind the web pages and the API: keyset pages, filters, searches and chart series."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from orderbridge.book.errors import InvalidValueError
from orderbridge.book.orders.booking import book_orders
from orderbridge.book.orders.cancel import cancel_order
from orderbridge.book.orders.commands import NewRow
from orderbridge.book.orders.model import Fulfilment, RowKind, SalesOrder
from orderbridge.book.orders.shipping import ship_order
from orderbridge.book.orders.statuses import status_by_name
from orderbridge.book.queries.attention import orders_past_retention
from orderbridge.book.queries.orders import (
    OrderFilter,
    SearchUnavailableError,
    list_orders,
    order_detail,
    orders_per_day,
)
from orderbridge.book.queries.paging import decode
from tests.book.builders import NOW, Book


def _book_many(book: Book, count: int) -> list[int]:
    """`count` orders placed an hour apart, the newest last; every third one FBA."""
    row = NewRow(
        kind=RowKind.PRODUCT,
        name="Item A",
        sku="A",
        product_id=book.product("A").id,
        quantity=1,
        net=Decimal("10"),
    )
    new = [
        (
            replace(
                book.new_order(f"202-{n:07d}", (row,)),
                placed_at=NOW - timedelta(hours=count - n),
                fulfilment=Fulfilment.CHANNEL if n % 3 == 0 else Fulfilment.SELLER,
            ),
            None,
        )
        for n in range(count)
    ]
    return [booked.order_id for booked in book_orders(book.session, new, now=NOW)]


def test_order_list_pages_by_keyset_forward_and_back(book: Book) -> None:
    # given
    ids = _book_many(book, 23)
    newest_first = list(reversed(ids))
    # when
    first = list_orders(book.session, size=10)
    second = list_orders(book.session, cursor=first.next_cursor, size=10)
    third = list_orders(book.session, cursor=second.next_cursor, size=10)
    back = list_orders(book.session, cursor=third.prev_cursor, size=10)
    # then
    assert [line.id for line in first.items] == newest_first[:10]
    assert first.prev_cursor is None
    assert [line.id for line in second.items] == newest_first[10:20]
    assert [line.id for line in third.items] == newest_first[20:]
    assert third.next_cursor is None
    assert [line.id for line in back.items] == newest_first[10:20]
    assert back.prev_cursor is not None and back.next_cursor is not None


def test_order_list_pages_through_orders_placed_at_the_same_moment(book: Book) -> None:
    ids = _book_many(book, 5)
    book.session.execute(SalesOrder.__table__.update().values(placed_at=NOW))
    seen: list[int] = []
    cursor = None
    while True:
        page = list_orders(book.session, cursor=cursor, size=2)
        seen += [line.id for line in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == sorted(ids, reverse=True)


def test_order_list_filters_by_fulfilment_date_channel_and_status(book: Book) -> None:
    _book_many(book, 12)
    fba = list_orders(book.session, OrderFilter(fulfilment=Fulfilment.CHANNEL))
    assert fba.items and all(line.fulfilment == "channel" for line in fba.items)
    assert len(fba.items) == 4
    today = list_orders(book.session, OrderFilter(placed_from=NOW.date(), placed_to=NOW.date()))
    assert all(line.placed_at.date() == NOW.date() for line in today.items)
    assert len(today.items) == sum(1 for h in range(1, 13) if (NOW - timedelta(hours=h)).date() == NOW.date())
    status = status_by_name(book.session, "New order")
    assert (
        len(list_orders(book.session, OrderFilter(status_id=status.id, channel_id=book.channel.id)).items)
        == 12
    )
    assert list_orders(book.session, OrderFilter(channel_id=book.channel.id + 999)).items == []


def test_order_list_finds_an_order_by_its_channel_id_book_id_or_a_sku(book: Book) -> None:
    ids = _book_many(book, 3)
    other = book.order("303-0000001", [("B", 2)])
    assert [line.id for line in list_orders(book.session, OrderFilter(reference="202-0000001")).items] == [
        ids[1]
    ]
    assert [line.id for line in list_orders(book.session, OrderFilter(reference=str(ids[2]))).items] == [
        ids[2]
    ]
    assert [line.id for line in list_orders(book.session, OrderFilter(sku="B")).items] == [other.id]


def test_order_list_refuses_a_name_search_without_a_name_index(book: Book) -> None:
    with pytest.raises(SearchUnavailableError, match="name index"):
        list_orders(book.session, OrderFilter(name="Ann"))


def test_a_damaged_page_cursor_is_refused_by_name() -> None:
    with pytest.raises(InvalidValueError, match="page cursor"):
        decode("not-a-cursor", parts=2)


def test_order_detail_holds_rows_shipments_and_allocation(book: Book) -> None:
    book.receive("A", 5)
    order = book.order("404-1", [("A", 2)])
    ship_order(book.session, order, reference="parcel-1", now=NOW, carrier="UPS", tracking_number="T1")
    detail = order_detail(book.session, order.id)
    assert [(line.row.sku, line.row.shipped, line.warehouse) for line in detail.rows] == [("A", 2, "MAIN")]
    assert [shipment.reference for shipment in detail.order.shipments] == ["parcel-1"]


def test_orders_per_day_counts_each_channel_day_by_day(book: Book) -> None:
    _book_many(book, 30)
    first = (NOW - timedelta(days=3)).date()
    series = orders_per_day(book.session, first=first, last=NOW.date())
    assert series.days == [first + timedelta(days=n) for n in range(4)]
    counted = sum(series.series["amazon-uk"])
    in_range = book.session.scalar(
        select(func.count()).where(SalesOrder.placed_at >= NOW.replace(hour=0, minute=0) - timedelta(days=3))
    )
    assert counted == in_range == 30
    assert series.series["amazon-uk"][-1] == sum(
        1 for h in range(1, 31) if (NOW - timedelta(hours=h)).date() == NOW.date()
    )
    assert isinstance(series.days[0], date)


def test_orders_past_retention_counts_what_privacy_would_sweep(book: Book) -> None:
    # given: one shipped long ago, one cancelled long ago, one shipped yesterday, one open
    book.receive("A", 10)
    old_shipped = book.order("505-1", [("A", 1)])
    ship_order(
        book.session,
        old_shipped,
        reference="p",
        now=NOW - timedelta(days=40),
        carrier="UPS",
        tracking_number="T1",
    )
    old_cancelled = book.order("505-2", [("A", 1)])
    cancel_order(book.session, old_cancelled, now=NOW - timedelta(days=40))
    recent = book.order("505-3", [("A", 1)])
    ship_order(
        book.session, recent, reference="p", now=NOW - timedelta(days=1), carrier="UPS", tracking_number="T1"
    )
    book.order("505-4", [("A", 1)])
    book.session.flush()
    # when
    overdue = orders_past_retention(book.session, [book.channel.id], cutoff=NOW - timedelta(days=30))
    # then
    assert overdue == 2
    assert orders_past_retention(book.session, [], cutoff=NOW) == 0


def test_a_common_sku_is_found_along_the_newest_orders_with_the_same_answer(
    book: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _book_many(book, 6)
    rare = [line.id for line in list_orders(book.session, OrderFilter(sku="A"), size=4).items]
    monkeypatch.setattr("orderbridge.book.queries.orders.COMMON_SKU_ROWS", 1)
    common = list_orders(book.session, OrderFilter(sku="A"), size=4)
    assert [line.id for line in common.items] == rare == sorted(ids, reverse=True)[:4]
    assert common.next_cursor is not None
