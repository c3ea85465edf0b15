"""The seller's cancellation, statuses that move on shipment and cancellation, and the late / due-today
lists, on both stores."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import update

from orderbridge.book.errors import InvalidValueError
from orderbridge.book.orders.cancel import CancellationRefusedError, cancel, units_by_sku
from orderbridge.book.orders.model import Fulfilment, SalesOrder
from orderbridge.book.orders.shipping import ship_order
from orderbridge.book.orders.statuses import add_status, set_channel_statuses
from orderbridge.book.queries.orders import Due, OrderFilter, due_counts, list_orders
from tests.book.builders import NOW, Book


def _row(order: SalesOrder, sku: str) -> int:
    return next(row.id for row in order.rows if row.sku == sku)


def test_o21_cancelling_a_whole_order_moves_it_to_cancelled_and_frees_its_stock(book: Book) -> None:
    book.receive("A", 5)
    order = book.order("202-0000001-0000001", [("A", 3)])

    done = cancel(book.session, order, now=NOW)

    assert done.whole_order and order.is_cancelled and order.status.name == "Cancelled"
    assert order.cancelled_at == NOW
    assert [row.allocated for row in order.rows] == [0]


def test_o21_cancelling_some_units_shrinks_the_row_and_frees_their_allocation(book: Book) -> None:
    book.receive("A", 5)
    book.receive("B", 5)
    order = book.order("202-0000002-0000002", [("A", 3), ("B", 2)])

    done = cancel(book.session, order, now=NOW, quantities=units_by_sku(order, [("A", 1), ("B", 2)]))

    a, b = order.rows
    assert not done.whole_order and not order.is_cancelled
    assert (a.quantity, a.net, a.allocated, a.cancelled_quantity) == (2, Decimal("20.00"), 2, 1)
    assert (b.quantity, b.net, b.tax, b.allocated) == (
        0,
        Decimal(0),
        Decimal(0),
        0,
    )  # O21: quantity and price 0
    assert order.total_gross == Decimal("24.00")


def test_cancelling_a_shipped_item_is_refused_and_changes_nothing(book: Book) -> None:
    book.receive("A", 5)
    book.receive("B", 5)
    order = book.order("202-0000003-0000003", [("A", 2), ("B", 1)])
    ship_order(
        book.session,
        order,
        reference="S1",
        now=NOW,
        quantities={_row(order, "A"): 2},
        carrier="DHL",
        tracking_number="TRK1",
    )

    with pytest.raises(CancellationRefusedError, match="SKU A is shipped"):
        cancel(book.session, order, now=NOW, quantities=units_by_sku(order, [("A", 1), ("B", 1)]))
    with pytest.raises(CancellationRefusedError, match="cannot cancel 2; 1 of 1"):
        cancel(book.session, order, now=NOW, quantities=units_by_sku(order, [("B", 2)]))
    with pytest.raises(InvalidValueError, match="no item has the SKU 'Z'"):
        units_by_sku(order, [("Z", 1)])

    assert [row.quantity for row in order.rows] == [2, 1]
    assert order.rows[1].allocated == 1


def test_cancelling_what_is_left_of_a_part_shipped_order_ships_it(book: Book) -> None:
    book.receive("A", 5)
    book.receive("B", 5)
    order = book.order("202-0000004-0000004", [("A", 2), ("B", 1)])
    ship_order(
        book.session,
        order,
        reference="S1",
        now=NOW,
        quantities={_row(order, "A"): 2},
        carrier="DHL",
        tracking_number="TRK1",
    )

    done = cancel(book.session, order, now=NOW + timedelta(hours=1))

    assert done.units == {"SKU B": 1} and done.now_shipped
    assert order.status.name == "Shipped" and order.shipped_at == NOW + timedelta(hours=1)
    with pytest.raises(CancellationRefusedError, match="shipped in full"):
        cancel(book.session, order, now=NOW)


def test_a_cancelled_order_cannot_be_cancelled_again(book: Book) -> None:
    order = book.order("202-0000005-0000005", [("A", 1)])
    cancel(book.session, order, now=NOW)

    with pytest.raises(CancellationRefusedError, match="202-0000005-0000005 is already cancelled"):
        cancel(book.session, order, now=NOW)


def test_shipping_in_full_moves_the_order_to_the_channel_status_for_shipped_orders(book: Book) -> None:
    book.receive("A", 5)
    first = book.order("202-0000006-0000006", [("A", 2)])
    ship_order(
        book.session,
        first,
        reference="S1",
        now=NOW,
        quantities={_row(first, "A"): 1},
        carrier="DHL",
        tracking_number="TRK1",
    )
    assert first.status.name == "New order"  # partly shipped: the status stays

    ship_order(book.session, first, reference="S2", now=NOW, carrier="DHL", tracking_number="TRK1")
    assert first.status.name == "Shipped"

    add_status(book.session, "Dispatched")
    add_status(book.session, "Void", is_cancelled=True)
    set_channel_statuses(book.session, book.channel, shipped="Dispatched", cancelled="Void")
    second = book.order("202-0000007-0000007", [("A", 1)])
    third = book.order("202-0000008-0000008", [("B", 1)])
    ship_order(book.session, second, reference="S1", now=NOW, carrier="DHL", tracking_number="TRK1")
    cancel(book.session, third, now=NOW)
    assert (second.status.name, third.status.name) == ("Dispatched", "Void")


def test_the_status_for_cancelled_orders_must_be_a_cancelled_one(book: Book) -> None:
    with pytest.raises(InvalidValueError, match="'Shipped' is not a cancelled status"):
        set_channel_statuses(book.session, book.channel, shipped=None, cancelled="Shipped")
    with pytest.raises(InvalidValueError, match="'Cancelled' is a cancelled status"):
        set_channel_statuses(book.session, book.channel, shipped="Cancelled", cancelled=None)


def test_o24_late_and_due_today_lists_follow_the_clock(book: Book) -> None:
    # given orders whose ship-by dates fall yesterday, earlier today, later today and tomorrow (UTC days)
    now = NOW  # 09:30 UTC
    dates = {
        "yesterday": now - timedelta(days=1),
        "this-morning": now - timedelta(hours=2),
        "this-evening": now + timedelta(hours=10),
        "tomorrow": now + timedelta(days=1),
        "shipped": now - timedelta(days=2),
        "cancelled": now - timedelta(days=2),
        "fba": now - timedelta(days=2),
    }
    book.receive("A", 10)
    orders = {name: book.order(name, [("A", 1)]) for name in dates}
    for name, when in dates.items():
        book.session.execute(update(SalesOrder).where(SalesOrder.id == orders[name].id).values(ship_by=when))
    book.session.expire_all()
    ship_order(
        book.session, orders["shipped"], reference="S1", now=now, carrier="DHL", tracking_number="TRK1"
    )
    cancel(book.session, orders["cancelled"], now=now)
    orders["fba"].fulfilment = Fulfilment.CHANNEL
    book.session.flush()

    # when the lists are read at 09:30 and again just before midnight
    def refs(due: Due, at: object) -> list[str]:
        return [line.reference for line in list_orders(book.session, OrderFilter(due=due), now=at).items]

    # then late is past ship-by, soonest first; due today is the rest of today; neither holds shipped,
    # cancelled or Amazon-shipped orders
    assert refs(Due.LATE, now) == ["yesterday", "this-morning"]
    assert refs(Due.TODAY, now) == ["this-evening"]
    assert due_counts(book.session, now=now).__dict__ == {"late": 2, "today": 1}
    late_evening = now.replace(hour=23, minute=59)
    assert refs(Due.LATE, late_evening) == ["yesterday", "this-morning", "this-evening"]
    assert refs(Due.TODAY, late_evening) == []
    assert refs(Due.TODAY, now + timedelta(days=1) - timedelta(hours=9, minutes=30)) == ["tomorrow"]
