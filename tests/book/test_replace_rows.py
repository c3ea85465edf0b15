"""Replacing an unshipped order's rows (a pending Amazon order made Ready): allocation follows the rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy.orm import Session

from orderbridge.book.errors import InvalidValueError
from orderbridge.book.inventory import stock_level
from orderbridge.book.orders.booking import replace_rows
from orderbridge.book.orders.commands import NewRow
from orderbridge.book.orders.model import RowKind
from orderbridge.book.orders.shipping import ship_order
from tests.book.builders import NOW, make_book, make_bundle


def test_replaced_rows_are_booked_and_allocated_as_new_ones(session: Session) -> None:
    book = make_book(session)
    book.receive("A", 10)
    book.receive("B", 10)
    make_bundle(book, "SET", {"B": 2})
    order = book.order("R-1", [("A", 3)])
    rows = (
        NewRow(
            kind=RowKind.PRODUCT,
            name="A",
            quantity=1,
            net=Decimal("8.33"),
            tax=Decimal("1.67"),
            product_id=book.product("A").id,
        ),
        NewRow(
            kind=RowKind.GIFT_WRAP, name="Gift wrap", quantity=1, net=Decimal("2.50"), tax=Decimal("0.50")
        ),
        NewRow(
            kind=RowKind.BUNDLE,
            name="Set",
            quantity=2,
            net=Decimal("20.00"),
            product_id=book.product("SET").id,
        ),
        NewRow(kind=RowKind.SHIPPING, name="Standard", quantity=1, net=Decimal("4.16"), tax=Decimal("0.83")),
    )

    replace_rows(session, order, rows, now=NOW)
    session.expire_all()

    assert [(row.kind, row.sku, row.quantity, row.allocated) for row in order.rows] == [
        (RowKind.PRODUCT, "A", 1, 1),
        (RowKind.GIFT_WRAP, None, 1, 0),
        (RowKind.BUNDLE, "SET", 2, 0),
        (RowKind.PRODUCT, "B", 4, 4),
        (RowKind.SHIPPING, None, 1, 0),
    ]
    assert order.rows[1].parent_row_id == order.rows[0].id and order.rows[3].parent_row_id == order.rows[2].id
    assert stock_level(session, book.product("A").id, book.warehouse.id).allocated == 1
    assert stock_level(session, book.product("B").id, book.warehouse.id).allocated == 4
    assert order.total_gross == Decimal("10.00") + Decimal("3.00") + Decimal("20.00") + Decimal("4.99")


def test_rows_of_a_shipped_order_are_not_replaced(session: Session) -> None:
    book = make_book(session)
    book.receive("A", 5)
    order = book.order("R-2", [("A", 1)])
    ship_order(session, order, reference="S-1", now=NOW, carrier="UPS", tracking_number="T1")

    with pytest.raises(InvalidValueError, match="has shipped rows"):
        replace_rows(session, order, (), now=NOW)
