"""Catalog (bundles, prices), contacts (merge, C7, C11), custom fields and tax rules, on both stores."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from orderbridge.book.catalog import ProductPrice, add_price_list, define_bundle, save_product, set_price
from orderbridge.book.contacts import NewContact, change_email, create_contact, merge_contacts
from orderbridge.book.credits import SalesCredit
from orderbridge.book.custom_fields import FieldKind, RecordKind, define_field, field_value, set_field
from orderbridge.book.errors import DuplicateError, InvalidValueError
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.payments import Payment, pay_order
from orderbridge.book.pii import PIIText
from orderbridge.book.tax import add_tax_code, add_tax_rule, company, pick_tax_code
from orderbridge.db import Base
from tests.book.builders import NOW, Book, make_bundle


def test_price_per_price_list_and_import_twice_updates(book: Book) -> None:
    retail = add_price_list(book.session, "UK", "UK retail", "gbp")
    book.session.flush()
    set_price(book.session, book.product("A"), retail, Decimal("12.50"))
    set_price(book.session, book.product("A"), retail, Decimal("13.00"))
    book.session.flush()
    prices = book.session.scalars(
        select(ProductPrice.price).where(ProductPrice.product_id == book.product("A").id)
    )
    assert list(prices) == [Decimal("13.0000")]
    assert retail.currency == "GBP"
    assert save_product(book.session, "A", "Renamed").id == book.product("A").id


def test_bundle_cannot_contain_a_bundle_or_itself(book: Book) -> None:
    kit = make_bundle(book, "KIT", {"A": 1})
    outer = save_product(book.session, "OUTER", "Outer")
    book.session.flush()
    with pytest.raises(InvalidValueError, match="is a bundle"):
        define_bundle(book.session, outer, {kit: 1})
    with pytest.raises(InvalidValueError, match="quantity 0"):
        define_bundle(book.session, outer, {book.product("A"): 0})


def test_c7_merge_moves_orders_credits_and_payments_and_warns_for_amazon(book: Book) -> None:
    from orderbridge.book.credits import NewCreditRow, credit_order

    other = create_contact(
        book.session,
        NewContact(first_name="Ann", marketplace_id="A1F83G8C2ARO7P", tags=frozenset({"vip"})),
        now=NOW,
    )
    book.session.flush()
    book.contact = other
    order = book.order("o-merge", [("A", 1)])
    pay_order(book.session, order, Decimal("12.00"), method="amazon", reference="p1", paid_at=NOW)
    credit_order(
        book.session,
        order,
        [NewCreditRow(name="refund", quantity=0, net=Decimal("1.00"))],
        reference="c1",
        now=NOW,
        restock=False,
    )
    survivor = create_contact(book.session, NewContact(first_name="Ann", last_name="B"), now=NOW)
    book.session.flush()
    result = merge_contacts(book.session, survivor, other)
    book.session.flush()
    assert book.session.scalar(select(SalesOrder.contact_id).where(SalesOrder.id == order.id)) == survivor.id
    assert set(book.session.scalars(select(SalesCredit.contact_id))) == {survivor.id}
    assert set(book.session.scalars(select(Payment.contact_id))) == {survivor.id}
    assert survivor.tag_names == {"vip"}
    assert other.merged_into_id == survivor.id
    assert any("Amazon contact" in warning for warning in result.warnings)
    with pytest.raises(InvalidValueError, match="already merged"):
        merge_contacts(book.session, survivor, other)


def test_c11_editing_the_email_drops_the_matching_key(book: Book) -> None:
    contact = create_contact(
        book.session, NewContact(email="x@marketplace.amazon.co.uk", email_key="k1"), now=NOW
    )
    change_email(contact, "other@example.com")
    assert contact.email_key is None


def test_o12_custom_fields_are_typed(book: Book) -> None:
    gift = define_field(book.session, RecordKind.SALES_ORDER, "gift", "Gift message", FieldKind.TEXT_AREA)
    business = define_field(book.session, RecordKind.SALES_ORDER, "b2b", "Amazon Business", FieldKind.YES_NO)
    channel = define_field(
        book.session, RecordKind.SALES_ORDER, "ch", "Channel", FieldKind.SELECT, options=["web", "amazon"]
    )
    set_field(book.session, gift, 1, "SKU-A: Happy birthday " * 30)
    set_field(book.session, business, 1, True)
    book.session.flush()
    assert field_value(book.session, business, 1) is True
    assert str(field_value(book.session, gift, 1)).startswith("SKU-A:")
    with pytest.raises(InvalidValueError, match="expects yes/no"):
        set_field(book.session, business, 2, "maybe")
    with pytest.raises(InvalidValueError, match="'shop' is not one of"):
        set_field(book.session, channel, 2, "shop")
    with pytest.raises(DuplicateError):
        define_field(book.session, RecordKind.SALES_ORDER, "gift", "again", FieldKind.TEXT)


def test_o13_the_most_specific_tax_rule_wins_else_company_default(book: Book) -> None:
    add_tax_code(book.session, "T0", "Zero", Decimal("0"))
    add_tax_code(book.session, "T5", "Reduced", Decimal("0.05"))
    book.session.flush()
    add_tax_rule(book.session, "T20", marketplace="UK")
    add_tax_rule(book.session, "T5", marketplace="UK", tax_class="child-car-seat")
    add_tax_rule(book.session, "T0", ship_to_country="JE")
    company(book.session).default_tax_code = "T20"
    book.session.flush()
    assert (
        pick_tax_code(book.session, marketplace="UK", ship_to_country="GB", tax_class="child-car-seat")
        == "T5"
    )
    assert pick_tax_code(book.session, marketplace="UK", ship_to_country="GB", tax_class=None) == "T20"
    assert pick_tax_code(book.session, marketplace="DE", ship_to_country="JE", tax_class=None) == "T0"
    assert pick_tax_code(book.session, marketplace="DE", ship_to_country="DE", tax_class=None) == "T20"


def test_p2_buyer_data_lives_only_in_pii_columns() -> None:
    pii = {
        f"{table.name}.{column.name}"
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, PIIText)
    }
    for expected in (
        "contacts.first_name",
        "contacts.email",
        "contacts.phone",
        "contacts.billing_line1",
        "sales_orders.delivery_name",
        "sales_orders.delivery_line1",
        "sales_orders.delivery_phone",
        "order_notes.body",
        "custom_field_values.value",
    ):
        assert expected in pii
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if any(
                word in column.name for word in ("email", "phone", "line1", "line2", "first_name", "body")
            ):
                assert isinstance(column.type, PIIText) or column.name.endswith("_key"), (
                    f"{table.name}.{column.name}"
                )
