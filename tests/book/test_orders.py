"""Booking, allocating, shipping and cancelling sales orders, on both stores."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from orderbridge.book.errors import InvalidValueError
from orderbridge.book.inventory import StockLevel, available_quantity
from orderbridge.book.orders.booking import book_order
from orderbridge.book.orders.cancel import cancel_order, cancel_row_quantity
from orderbridge.book.orders.commands import NewRow
from orderbridge.book.orders.model import OrderRow, RowKind
from orderbridge.book.orders.shipping import ship_order
from orderbridge.book.orders.statuses import set_carrier, shipping_method
from tests.book.builders import NOW, Book, make_bundle


def level(book: Book, sku: str) -> StockLevel:
    found = book.session.get(StockLevel, (book.product(sku).id, book.warehouse.id))
    assert found is not None
    return found


def test_c1_every_order_has_a_contact_and_o5_product_rows_allocate(book: Book) -> None:
    book.receive("A", 5)
    order = book.order("202-0000001-0000001", [("A", 2), ("B", 1)])
    assert order.contact_id == book.contact.id
    rows = {row.sku: row for row in order.rows}
    assert rows["A"].allocated == 2
    assert rows["B"].allocated == 0  # no stock of B: booked, not allocated
    assert level(book, "A").allocated == 2
    assert available_quantity(book.session, book.product("A"), book.warehouse) == 3


def test_partial_allocation_where_stock_is_short(book: Book) -> None:
    book.receive("A", 1)
    order = book.order("o-short", [("A", 3)])
    assert order.rows[0].allocated == 1
    assert level(book, "A").allocated == 1


def test_booking_the_same_reference_twice_books_once(book: Book) -> None:
    book.receive("A", 5)
    first = book.order("o-1", [("A", 2)])
    second = book.order("o-1", [("A", 2)])
    assert first.id == second.id
    assert level(book, "A").allocated == 2


def test_o6_free_text_rows_never_allocate_or_ship(book: Book) -> None:
    order = book.order("o-free", [("UNKNOWN-SKU", 2)])
    row = order.rows[0]
    assert row.kind == RowKind.FREE_TEXT and row.product_id is None and row.allocated == 0
    with pytest.raises(InvalidValueError, match="free_text row cannot be shipped"):
        ship_order(
            book.session,
            order,
            reference="s1",
            now=NOW,
            quantities={row.id: 1},
            carrier="UPS",
            tracking_number="T1",
        )


def test_o7_bundle_books_components_multiplied_and_allocates_each(book: Book) -> None:
    make_bundle(book, "KIT", {"A": 2, "B": 1})
    book.receive("A", 10)
    book.receive("B", 3)
    assert available_quantity(book.session, book.product("KIT"), book.warehouse) == 3
    order = book.order("o-kit", [("KIT", 2)], price=Decimal("25.00"))
    kinds = [(row.kind, row.sku, row.quantity, row.allocated) for row in order.rows]
    assert kinds == [
        (RowKind.BUNDLE, "KIT", 2, 0),
        (RowKind.PRODUCT, "A", 4, 4),
        (RowKind.PRODUCT, "B", 2, 2),
    ]
    assert order.rows[1].parent is order.rows[0]
    assert order.total_net == Decimal("50.00")  # the money sits on the bundle row only
    assert available_quantity(book.session, book.product("KIT"), book.warehouse) == 1


def test_o10_gift_wrap_sits_directly_under_its_product_row(book: Book) -> None:
    rows = (
        NewRow(
            kind=RowKind.PRODUCT, name="A", product_id=book.product("A").id, quantity=1, net=Decimal("10")
        ),
        NewRow(kind=RowKind.GIFT_WRAP, name="Gift wrap", quantity=1, net=Decimal("2.50")),
        NewRow(kind=RowKind.SHIPPING, name="Standard", quantity=1, net=Decimal("3.99")),
    )
    order = book_order(
        book.session,
        book.new_order("o-gift", rows),
        now=NOW,
    )
    assert [row.kind for row in order.rows] == [RowKind.PRODUCT, RowKind.GIFT_WRAP, RowKind.SHIPPING]
    assert order.rows[1].parent is order.rows[0]
    assert order.total_net == Decimal("16.49")


def test_gift_wrap_without_a_product_row_is_refused(book: Book) -> None:
    rows = (NewRow(kind=RowKind.GIFT_WRAP, name="Gift wrap", quantity=1, net=Decimal("2.50")),)
    new = book.new_order("o-bad", rows)
    with pytest.raises(InvalidValueError, match="o-bad: row 1: gift wrap"):
        book_order(book.session, new, now=NOW)


def test_unrounded_amounts_are_refused_naming_the_row(book: Book) -> None:
    with pytest.raises(InvalidValueError, match=r"row 1: net 10\.001 is not rounded to GBP"):
        book.order("o-round", [("A", 1)], price=Decimal("10.001"))


def test_order_totals_equal_the_sum_of_rows(book: Book) -> None:
    order = book.order("o-tot", [("A", 2), ("B", 3)], price=Decimal("3.33"), shipping=Decimal("4.99"))
    assert order.total_net == sum(row.net for row in order.rows)
    assert order.total_tax == sum(row.tax for row in order.rows)
    assert order.total_gross == order.total_net + order.total_tax


def test_o8_o23_shipping_uses_the_methods_carrier_and_moves_stock_once(book: Book) -> None:
    book.receive("A", 5)
    method = shipping_method(book.session, "Std UK Dom_1")
    set_carrier(book.session, "Std UK Dom_1", "Royal Mail")
    order = book.order("o-ship", [("A", 2)])
    order.shipping_method_id = method.id
    book.session.flush()
    book.session.expire(order, ["shipping_method"])
    shipment = ship_order(book.session, order, reference="box-1", now=NOW, tracking_number="RM1")
    again = ship_order(book.session, order, reference="box-1", now=NOW, tracking_number="RM1")
    assert again.id == shipment.id
    assert shipment.carrier == "Royal Mail"
    assert order.rows[0].shipped == 2 and order.rows[0].allocated == 0
    assert level(book, "A").on_hand == 3 and level(book, "A").allocated == 0
    assert order.shipped_at == NOW


def test_partial_shipment_and_shipped_never_exceeds_ordered(book: Book) -> None:
    book.receive("A", 5)
    order = book.order("o-part", [("A", 3)])
    row = order.rows[0]
    ship_order(
        book.session,
        order,
        reference="p1",
        now=NOW,
        quantities={row.id: 1},
        carrier="UPS",
        tracking_number="T1",
    )
    assert row.shipped == 1 and order.shipped_at is None
    with pytest.raises(InvalidValueError, match="cannot ship 3; 2 left to ship"):
        ship_order(
            book.session,
            order,
            reference="p2",
            now=NOW,
            quantities={row.id: 3},
            carrier="UPS",
            tracking_number="T1",
        )


def test_shipping_unallocated_stock_is_refused(book: Book) -> None:
    order = book.order("o-noalloc", [("A", 1)])
    with pytest.raises(InvalidValueError, match="only 0 allocated"):
        ship_order(book.session, order, reference="s", now=NOW, carrier="UPS", tracking_number="T1")


def test_o21_cancelling_an_order_frees_its_allocation(book: Book) -> None:
    book.receive("A", 5)
    order = book.order("o-cancel", [("A", 4)])
    cancel_order(book.session, order, now=NOW)
    book.session.flush()
    assert order.is_cancelled
    assert order.rows[0].allocated == 0
    assert level(book, "A").allocated == 0


def test_o21_partial_cancellation_zeroes_cancelled_rows_and_frees_their_allocation(book: Book) -> None:
    book.receive("A", 5)
    book.receive("B", 5)
    order = book.order("o-pc", [("A", 2), ("B", 3)])
    row_a, row_b = order.rows
    cancel_row_quantity(book.session, order, row_a, 2, now=NOW)
    cancel_row_quantity(book.session, order, row_b, 1, now=NOW)
    assert (row_a.quantity, row_a.net, row_a.tax, row_a.allocated) == (0, Decimal(0), Decimal(0), 0)
    assert (row_b.quantity, row_b.net, row_b.allocated) == (2, Decimal("20.00"), 2)
    assert level(book, "A").allocated == 0 and level(book, "B").allocated == 2
    assert order.total_net == Decimal("20.00")


def test_stock_loss_below_allocation_releases_the_newest_allocations(book: Book) -> None:
    from orderbridge.book.inventory import MovementReason, move_stock

    book.receive("A", 4)
    older = book.order("o-old", [("A", 2)])
    newer = book.order("o-new", [("A", 2)])
    move_stock(
        book.session,
        book.product("A"),
        book.warehouse,
        -1,
        reason=MovementReason.LOST,
        reference="lost-1",
        now=NOW,
    )
    book.session.flush()
    assert older.rows[0].allocated == 2 and newer.rows[0].allocated == 1
    assert level(book, "A").allocated == 3 == level(book, "A").on_hand


def test_rows_are_read_back_in_position_order(book: Book) -> None:
    order = book.order("o-pos", [("C", 1), ("A", 1), ("B", 1)])
    book.session.expire_all()
    stored = book.session.scalars(
        select(OrderRow.sku).where(OrderRow.order_id == order.id).order_by(OrderRow.position)
    )
    assert list(stored) == ["C", "A", "B"]


def test_o10_gift_wrap_on_a_bundle_sits_directly_under_the_bundle_row(book: Book) -> None:
    make_bundle(book, "KIT", {"A": 1, "B": 2})
    rows = (
        NewRow(
            kind=RowKind.PRODUCT, name="Kit", product_id=book.product("KIT").id, quantity=1, net=Decimal("20")
        ),
        NewRow(kind=RowKind.GIFT_WRAP, name="Gift wrap", quantity=1, net=Decimal("2.50")),
        NewRow(kind=RowKind.SHIPPING, name="Standard", quantity=1, net=Decimal("3.99")),
    )
    order = book_order(
        book.session,
        book.new_order("o-kit-gift", rows),
        now=NOW,
    )
    kinds = [(row.kind, row.sku) for row in order.rows]
    assert kinds == [
        (RowKind.BUNDLE, "KIT"),
        (RowKind.GIFT_WRAP, None),
        (RowKind.PRODUCT, "A"),
        (RowKind.PRODUCT, "B"),
        (RowKind.SHIPPING, None),
    ]
    assert order.rows[1].parent is order.rows[0]
    assert order.rows[2].parent is order.rows[0] and order.rows[3].parent is order.rows[0]


def test_rows_short_of_stock_allocate_when_stock_arrives(book: Book) -> None:
    from orderbridge.book.orders.booking import allocate_order

    book.receive("A", 1)
    order = book.order("o-later", [("A", 3)])
    assert order.rows[0].allocated == 1
    book.receive("A", 5, ref="receipt-2")
    assert allocate_order(book.session, order) == 2
    assert order.rows[0].allocated == 3 and level(book, "A").allocated == 3
    assert allocate_order(book.session, order) == 0
