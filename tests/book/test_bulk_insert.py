"""`db.insert_dicts`, the driver-level INSERT of the booking path, writes what SQLAlchemy's insert writes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, cast

import pytest
from sqlalchemy import Table, insert, select, text
from sqlalchemy.orm import Session

from orderbridge.book.orders.model import OrderRow, RowKind, SalesOrder
from orderbridge.db import insert_dicts
from tests.book.builders import Book

ROWS = cast(Table, OrderRow.__table__)


def _row(book: Book, order_id: int, position: int, net: Decimal) -> dict[str, Any]:
    # cancelled_quantity, allocated and shipped are left to their column defaults
    return {
        "order_id": order_id,
        "position": position,
        "kind": RowKind.PRODUCT,
        "external_ref": "item-1",
        "product_id": book.product("A").id,
        "sku": "A",
        "name": "Product A",
        "quantity": 3,
        "net": net,
        "tax": Decimal("-0.0001"),
        "tax_code": "T20",
        "nominal_code": None,
        "warehouse_id": None,
    }


def _raw(session: Session, order_id: int, position: int) -> dict[str, Any]:
    query = text("SELECT * FROM order_rows WHERE order_id = :o AND position = :p")
    found = dict(session.execute(query, {"o": order_id, "p": position}).mappings().one())
    found.pop("id")
    found.pop("position")
    return found


def test_insert_dicts_stores_exactly_what_the_orm_insert_stores(book: Book, store: str) -> None:
    session = book.session
    order = book.order("o-raw", [("A", 1)])
    net = Decimal("12.3456")

    session.execute(insert(ROWS), [_row(book, order.id, 10, net)])
    insert_dicts(session, ROWS, [_row(book, order.id, 11, net)])

    by_orm, by_driver = _raw(session, order.id, 10), _raw(session, order.id, 11)
    assert by_driver == by_orm
    # money: a scaled integer on SQLite (exact), NUMERIC on PostgreSQL; defaults filled in
    assert by_driver["net"] == (123456 if store == "sqlite" else net)
    assert (by_driver["cancelled_quantity"], by_driver["allocated"], by_driver["shipped"]) == (0, 0, 0)
    read = session.scalars(select(OrderRow).where(OrderRow.order_id == order.id, OrderRow.position == 11))
    row = read.one()
    assert (row.net, row.tax, row.kind) == (net, Decimal("-0.0001"), RowKind.PRODUCT)


def test_insert_dicts_refuses_what_the_column_types_refuse(book: Book) -> None:
    order = book.order("o-bad", [("A", 1)])
    with pytest.raises(ValueError, match="more than 4 decimal places"):
        insert_dicts(book.session, ROWS, [_row(book, order.id, 12, Decimal("0.00001"))])


def test_insert_dicts_stores_times_in_the_orm_format(book: Book) -> None:
    """SQLite compares stored times as text: keyset pages and date filters need the ORM's exact format."""
    session = book.session
    orders = cast(Table, SalesOrder.__table__)
    base = {
        "channel_id": book.channel.id,
        "contact_id": book.contact.id,
        "status_id": book.new_order("x", ()).status_id,
        "currency": "GBP",
        "placed_at": datetime(2026, 11, 2, 10, 15, 30, 123456, tzinfo=timezone(timedelta(hours=2))),
        "created_at": datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
        "updated_at": datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
        "total_net": Decimal("1.5"),
        "pii_ref": "ref",
    }
    session.execute(insert(orders), [dict(base, external_ref="by-orm")])
    insert_dicts(session, orders, [dict(base, external_ref="by-driver")])

    query = text(
        "SELECT * FROM sales_orders WHERE external_ref IN ('by-orm', 'by-driver') ORDER BY external_ref"
    )
    by_driver, by_orm = (dict(found) for found in session.execute(query).mappings())
    for found in (by_driver, by_orm):
        found.pop("id"), found.pop("external_ref"), found.pop("pii_ref")
    assert by_driver == by_orm


def test_booked_orders_keep_utc_times_and_totals_through_the_driver_path(book: Book, store: str) -> None:
    order = book.order("o-times", [("A", 2)], price=Decimal("9.99"))
    book.session.expire_all()
    stored = book.session.get(SalesOrder, order.id)
    assert stored is not None
    assert stored.total_net == Decimal("19.98") and stored.total_tax == Decimal("4.00")
    assert stored.placed_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert stored.placed_at.utcoffset() == timedelta(0)
    raw = book.session.execute(
        text("SELECT total_net FROM sales_orders WHERE id = :i"), {"i": order.id}
    ).scalar_one()
    assert raw == (199800 if store == "sqlite" else Decimal("19.98"))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 1, 1, tzinfo=UTC),
        datetime(2026, 3, 29, 1, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-7))),
        datetime(999, 12, 31, 23, 0, 1, 42, tzinfo=UTC),
    ],
)
def test_utc_times_are_stored_on_sqlite_as_sqlalchemys_own_datetime_text(moment: datetime) -> None:
    # The book's own SQLite processor must write exactly what SQLAlchemy's DATETIME writes (and reads
    # back), or times stored before and after it would not compare as equal or in order.
    from sqlalchemy.dialects import sqlite

    from orderbridge.book.types import UtcDateTime

    dialect = sqlite.dialect()
    ours = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
    theirs = sqlite.DATETIME().bind_processor(dialect)
    assert ours is not None and theirs is not None
    assert ours(moment) == theirs(moment.astimezone(UTC))
    assert ours(None) is None
    with pytest.raises(ValueError, match="naive"):
        ours(moment.replace(tzinfo=None))
