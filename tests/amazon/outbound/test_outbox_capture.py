"""O8, O23, I1: the outbox message is written with the book change; the package a shipment confirms."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.api.types import PackageItem
from orderbridge.amazon.outbound.shipment_packages import (
    Confirmation,
    ConfirmationError,
    NotSent,
    carrier_fields,
    confirmation_for,
)
from orderbridge.book.inventory import MovementReason, move_stock
from orderbridge.book.orders.model import Fulfilment, RowKind, SalesOrder, ShippingMethod
from orderbridge.book.orders.shipping import ship_order
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage
from tests.book.builders import NOW, Book, make_book
from tests.simulator.sandbox_helpers import assert_valid


def _messages(session: Session, kind: MessageKind) -> list[OutboxMessage]:
    query = select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
    return list(session.scalars(query))


def _amazon_order(book: Book, ref: str = "111-0000001-0000001") -> SalesOrder:
    book.receive("A", 10)
    book.receive("B", 10)
    order = book.order(ref, [("A", 2), ("B", 1)])
    for number, row in enumerate(r for r in order.rows if r.kind == RowKind.PRODUCT):
        row.external_ref = f"ITEM-{number}"
    method = ShippingMethod(name="Expedited", carrier="Royal Mail")
    book.session.add(method)
    book.session.flush()
    order.shipping_method_id, order.shipping_method = method.id, method
    book.session.flush()
    return order


@pytest.fixture
def book(session: Session) -> Book:
    return make_book(session)


def test_o23_shipment_message_commits_or_rolls_back_with_the_shipment(book: Book) -> None:
    order = _amazon_order(book)
    row = next(r for r in order.rows if r.external_ref == "ITEM-0")
    # when: a shipment is rolled back, then one is kept
    savepoint = book.session.begin_nested()
    ship_order(book.session, order, reference="gone", now=NOW, quantities={row.id: 1}, tracking_number="T0")
    book.session.flush()
    assert len(_messages(book.session, MessageKind.ORDER_SHIPPED)) == 1
    savepoint.rollback()
    book.session.expire_all()
    assert _messages(book.session, MessageKind.ORDER_SHIPPED) == []
    order = book.session.get(SalesOrder, order.id)  # type: ignore[assignment]
    shipment = ship_order(book.session, order, reference="S1", now=NOW, tracking_number="T1")
    book.session.flush()
    # then: exactly the kept shipment has its message
    [message] = _messages(book.session, MessageKind.ORDER_SHIPPED)
    assert (message.key, message.payload, message.status) == (
        f"order:{order.id}",
        {"shipment_id": shipment.id, "revision": 0},
        MessageStatus.PENDING,
    )


def test_i1_stock_changes_leave_one_pending_message_per_product_and_none_for_fba(book: Book) -> None:
    # when: three receipts of A in three flushes, one of B, and a receipt into the FBA warehouse
    for number in range(3):
        book.receive("A", 1, ref=f"r{number}")
    book.receive("B", 2)
    move_stock(
        book.session, book.product("C"), book.fba, 5, reason=MovementReason.RECEIPT, reference="fba", now=NOW
    )
    book.session.flush()
    # then: one waiting message per own-warehouse product; FBA stock is Amazon's to show
    messages = _messages(book.session, MessageKind.STOCK_CHANGED)
    assert sorted(m.subject_id for m in messages) == sorted([book.product("A").id, book.product("B").id])


def test_o8_o23_package_names_the_methods_carrier_and_only_what_shipped(book: Book) -> None:
    order = _amazon_order(book)
    row = next(r for r in order.rows if r.external_ref == "ITEM-0")
    shipment = ship_order(
        book.session, order, reference="S1", now=NOW, quantities={row.id: 1}, tracking_number="RM1"
    )
    book.session.flush()
    found = confirmation_for(book.session, shipment.id)
    assert isinstance(found, Confirmation)
    assert (found.amazon_order_id, found.marketplace_id) == ("111-0000001-0000001", "A1F83G8C2ARO7P")
    package = found.package
    assert (package.carrier_code, package.carrier_name, package.shipping_method) == (
        "Royal Mail",
        "Royal Mail",
        "Expedited",
    )
    assert list(package.items) == [PackageItem("ITEM-0", 1)]
    assert package.package_reference_id == str(shipment.id)
    assert_valid(
        "ordersV0.json",
        "ConfirmShipmentRequest",
        {"marketplaceId": found.marketplace_id, "packageDetail": package.body()},
    )


def test_o8_a_shipment_without_carrier_cannot_be_confirmed_and_says_what_to_set(book: Book) -> None:
    order = _amazon_order(book)
    assert order.shipping_method is not None
    shipment = ship_order(book.session, order, reference="S1", now=NOW, tracking_number="T1")
    # a shipment made before carriers were checked when shipping (the book now refuses this one)
    order.shipping_method.carrier = shipment.carrier = None
    book.session.flush()
    with pytest.raises(ConfirmationError, match="set the carrier of shipping method 'Expedited'"):
        confirmation_for(book.session, shipment.id)


def test_o23_fba_orders_leave_no_message_and_are_never_confirmed(book: Book) -> None:
    order = _amazon_order(book)
    order.fulfilment = Fulfilment.CHANNEL
    book.session.flush()
    shipment = ship_order(book.session, order, reference="S1", now=NOW, tracking_number="T1", carrier="UPS")
    book.session.flush()
    assert _messages(book.session, MessageKind.ORDER_SHIPPED) == []
    assert isinstance(confirmation_for(book.session, shipment.id), NotSent)


@pytest.mark.parametrize(
    ("carrier", "fields"),
    [
        ("UPS", ("UPS", "UPS")),
        ("royal mail", ("Royal Mail", "Royal Mail")),
        (" fedex ", ("FedEx", "FedEx")),
        ("Hermes Next Day Parcel", ("Other", "Hermes Next Day Parcel")),
    ],
)
def test_o8_carrier_goes_as_amazons_code_or_as_other_with_its_name(
    carrier: str, fields: tuple[str, str]
) -> None:
    assert carrier_fields(carrier) == fields
