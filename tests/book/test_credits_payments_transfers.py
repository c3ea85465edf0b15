"""Sales credits (F1, F2), payments (O4, O16) and warehouse transfers (F3, F4, F5), on both stores."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderbridge.book.credits import NewCreditRow, credit_order
from orderbridge.book.errors import DuplicateError, InsufficientStockError, InvalidValueError
from orderbridge.book.inventory import StockLevel, movements_total
from orderbridge.book.orders.model import PaymentStatus
from orderbridge.book.orders.shipping import ship_order
from orderbridge.book.payments import pay_order, refund_credit
from orderbridge.book.transfers import TransferStatus, close_transfer, create_transfer, receive_transfer
from tests.book.builders import NOW, Book


def on_hand(book: Book, sku: str, warehouse_id: int | None = None) -> StockLevel:
    level = book.session.get(StockLevel, (book.product(sku).id, warehouse_id or book.warehouse.id))
    assert level is not None
    return level


def shipped_order(book: Book, ref: str = "o-1"):  # type: ignore[no-untyped-def]
    book.receive("A", 5)
    order = book.order(ref, [("A", 2)])
    ship_order(book.session, order, reference="box", now=NOW, carrier="UPS", tracking_number="T1")
    return order


def test_f1_f2_credit_with_restock_returns_items_to_stock_once(book: Book) -> None:
    order = shipped_order(book)
    rows = [
        NewCreditRow(
            name="A", quantity=1, net=Decimal("10.00"), tax=Decimal("2.00"), order_row_id=order.rows[0].id
        )
    ]
    credit = credit_order(
        book.session, order, rows, reference="ret-1", now=NOW, restock=True, warehouse=book.warehouse
    )
    again = credit_order(
        book.session, order, rows, reference="ret-1", now=NOW, restock=True, warehouse=book.warehouse
    )
    book.session.flush()
    assert again.id == credit.id
    assert credit.total_gross == Decimal("12.00")
    assert on_hand(book, "A").on_hand == 4
    assert movements_total(book.session, book.product("A").id, book.warehouse.id) == 4


def test_f2_credit_without_restock_leaves_stock_alone(book: Book) -> None:
    order = shipped_order(book)
    rows = [NewCreditRow(name="A", quantity=2, net=Decimal("20.00"), order_row_id=order.rows[0].id)]
    credit_order(book.session, order, rows, reference="ret-2", now=NOW, restock=False)
    book.session.flush()
    assert on_hand(book, "A").on_hand == 3


def test_crediting_more_than_ordered_is_refused_naming_the_row(book: Book) -> None:
    order = shipped_order(book)
    rows = [NewCreditRow(name="A", quantity=3, net=Decimal("30.00"), order_row_id=order.rows[0].id)]
    with pytest.raises(InvalidValueError, match="row 1: crediting 3 more of 'A' exceeds the 2 ordered"):
        credit_order(book.session, order, rows, reference="ret-3", now=NOW, restock=False)


def test_o4_orders_book_unpaid_and_payments_mark_them_paid_once(book: Book) -> None:
    order = book.order("o-pay", [("A", 1)])  # 10.00 + 2.00 tax
    assert order.payment_status == PaymentStatus.UNPAID
    pay_order(book.session, order, Decimal("5.00"), method="amazon", reference="s1", paid_at=NOW)
    assert order.payment_status == PaymentStatus.PART_PAID
    pay_order(book.session, order, Decimal("7.00"), method="amazon", reference="s2", paid_at=NOW)
    pay_order(book.session, order, Decimal("7.00"), method="amazon", reference="s2", paid_at=NOW)
    assert order.payment_status == PaymentStatus.PAID
    assert order.amount_paid == Decimal("12.00")


def test_o16_withheld_tax_reduces_what_the_seller_is_owed(book: Book) -> None:
    order = book.order("o-mft", [("A", 1)])
    order.withheld_tax = Decimal("2.00")
    pay_order(book.session, order, Decimal("10.00"), method="amazon", reference="settlement-1", paid_at=NOW)
    assert order.amount_owed == Decimal("10.00")
    assert order.payment_status == PaymentStatus.PAID


def test_refund_of_a_credit_marks_it_paid(book: Book) -> None:
    order = shipped_order(book)
    credit = credit_order(
        book.session,
        order,
        [NewCreditRow(name="refund", quantity=0, net=Decimal("5.00"))],
        reference="r",
        now=NOW,
        restock=False,
    )
    book.session.flush()
    refund_credit(book.session, credit, Decimal("5.00"), method="amazon", reference="s-9", paid_at=NOW)
    assert credit.payment_status == PaymentStatus.PAID


def test_f3_transfer_takes_stock_from_source_into_transit(book: Book) -> None:
    book.receive("A", 10)
    transfer = create_transfer(
        book.session, "FBA15ABC", book.warehouse, book.fba, {book.product("A"): 6}, now=NOW
    )
    book.session.flush()
    assert on_hand(book, "A").on_hand == 4
    assert on_hand(book, "A", book.fba.id).in_transit == 6
    assert transfer.status == TransferStatus.IN_TRANSIT
    with pytest.raises(DuplicateError):
        create_transfer(book.session, "FBA15ABC", book.warehouse, book.fba, {book.product("A"): 1}, now=NOW)


def test_f5_transfer_with_too_little_stock_is_refused_whole(book: Book) -> None:
    book.receive("A", 2)
    with pytest.raises(InsufficientStockError, match="SKU 'B' in warehouse 'MAIN': wanted 1, available 0"):
        create_transfer(
            book.session,
            "FBA15X",
            book.warehouse,
            book.fba,
            {book.product("A"): 1, book.product("B"): 1},
            now=NOW,
        )
    assert on_hand(book, "A").on_hand == 2


def test_f4_f5_partial_over_and_unexpected_receipts_are_recorded(book: Book) -> None:
    book.receive("A", 10)
    book.receive("B", 10)
    transfer = create_transfer(
        book.session,
        "FBA15R",
        book.warehouse,
        book.fba,
        {book.product("A"): 5, book.product("B"): 3},
        now=NOW,
    )
    first = receive_transfer(book.session, transfer, {book.product("A"): 3}, reference="r1", now=NOW)
    again = receive_transfer(book.session, transfer, {book.product("A"): 3}, reference="r1", now=NOW)
    assert first.status == TransferStatus.PARTLY_RECEIVED and again.received == {}
    assert on_hand(book, "A", book.fba.id).on_hand == 3
    assert on_hand(book, "A", book.fba.id).in_transit == 2
    second = receive_transfer(
        book.session,
        transfer,
        {book.product("A"): 4, book.product("B"): 3, book.product("C"): 1},
        reference="r2",
        now=NOW,
    )
    book.session.flush()
    assert second.over_received == {"A": 2}
    assert second.unexpected == {"C": 1}
    assert second.status == TransferStatus.RECEIVED
    assert on_hand(book, "A", book.fba.id).on_hand == 7 and on_hand(book, "A", book.fba.id).in_transit == 0
    assert on_hand(book, "C", book.fba.id).on_hand == 1


def test_closing_a_short_transfer_writes_off_what_never_arrived(book: Book) -> None:
    book.receive("A", 10)
    transfer = create_transfer(
        book.session, "FBA15S", book.warehouse, book.fba, {book.product("A"): 5}, now=NOW
    )
    receive_transfer(book.session, transfer, {book.product("A"): 4}, reference="r1", now=NOW)
    shortfall = close_transfer(book.session, transfer, now=NOW)
    book.session.flush()
    assert shortfall == {book.product("A").id: 1}
    assert on_hand(book, "A", book.fba.id).in_transit == 0
    assert close_transfer(book.session, transfer, now=NOW) == {}
