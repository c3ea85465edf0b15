"""Mapping money: tax codes (O13), NA net + tax as sent (O14), EU gross split exactly (O15), O16-O18."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest

from orderbridge.amazon.channel import TaxBehaviour
from orderbridge.amazon.orders.mapping import ListingFact, MappingError, TaxChoice, map_order
from orderbridge.book.orders.model import RowKind
from tests.amazon.orders.test_mapping_orders import T20, booked, channel_book, facts, mapped
from tests.amazon.orders.test_mapping_payloads import Line, order, set_proceeds, strict_errors

SALES_TAX = TaxChoice("US-TX", Decimal("0.0825"))


def test_o13_each_row_gets_the_tax_code_its_tax_class_picks() -> None:
    known = facts(
        listings={
            "MUG-1": ListingFact(100, "Blue mug", tax_class="standard"),
            "BOOK-1": ListingFact(101, "A book", tax_class="zero"),
        },
        tax={"standard": T20, "zero": TaxChoice("T0", Decimal(0)), None: T20},
    )

    rows = booked(order(lines=[Line(), Line(sku="BOOK-1", price=Decimal("8.00"))]), known=known).rows

    assert [(row.sku, row.tax_code) for row in rows] == [("MUG-1", "T20"), ("BOOK-1", "T0"), (None, "T20")]
    assert rows[1].tax == Decimal(0) and rows[1].net == Decimal("8.00")


def test_o14_north_america_books_net_prices_and_tax_as_amazon_sent_it() -> None:
    known = facts(tax={"standard": SALES_TAX, None: SALES_TAX})
    doc = order(marketplace="US", lines=[Line(quantity=3, price=Decimal("10.00"))])
    sent = next(b for b in doc["orderItems"][0]["proceeds"]["breakdowns"] if b["type"] == "TAX")
    details = {d["subtype"]: d["value"] for d in sent["detailedBreakdowns"]}
    details["ITEM"]["amount"] = "2.77"  # not 8.25 % of 30.00
    details["SHIPPING"]["amount"] = "0.38"  # not 8.25 % of 4.99
    sent["subtotal"]["amount"] = "3.15"
    set_proceeds(doc, 0, doc["orderItems"][0]["proceeds"]["breakdowns"])

    result = booked(doc, channel_book("US"), known)

    product, shipping = result.rows
    assert (product.net, product.tax, product.tax_code) == (Decimal("30.00"), Decimal("2.77"), "US-TX")
    assert (shipping.net, shipping.tax, shipping.tax_code) == (Decimal("4.99"), Decimal("0.38"), "US-TX")
    assert result.currency == "USD"


def test_o14_tax_split_by_subtype_when_amazon_details_it() -> None:
    doc = order(marketplace="US")
    tax = next(b for b in doc["orderItems"][0]["proceeds"]["breakdowns"] if b["type"] == "TAX")
    tax["subtotal"]["amount"] = "1.40"
    tax["detailedBreakdowns"] = [
        {"subtype": "ITEM", "value": {"amount": "0.99", "currencyCode": "USD"}},
        {"subtype": "SHIPPING", "value": {"amount": "0.41", "currencyCode": "USD"}},
    ]
    set_proceeds(doc, 0, doc["orderItems"][0]["proceeds"]["breakdowns"])
    assert strict_errors(doc) == []

    product, shipping = booked(doc, channel_book("US")).rows

    assert (product.tax, shipping.tax) == (Decimal("0.99"), Decimal("0.41"))


@pytest.mark.parametrize("price", ["12.00", "9.99", "0.01", "1234.57", "19.95"])
def test_o15_europe_gross_splits_into_net_and_tax_that_add_up_exactly(price: str) -> None:
    doc = order(lines=[Line(quantity=3, price=Decimal(price), gift_wrap=True, promotion="P1")])
    item = doc["orderItems"][0]["proceeds"]["breakdowns"]
    gross = {b["type"]: Decimal(b["subtotal"]["amount"]) for b in item}

    rows = booked(doc).rows

    product, wrap, shipping = rows
    assert product.net + product.tax == gross["ITEM"] + gross["DISCOUNT"]
    assert wrap.net + wrap.tax == gross["GIFT_WRAP"] and shipping.net + shipping.tax == gross["SHIPPING"]
    goods = gross["ITEM"] + gross["DISCOUNT"]
    assert product.tax == (goods * Decimal("0.2") / Decimal("1.2")).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert all(row.net == row.net.quantize(Decimal("0.01")) for row in rows)


def test_o15_europe_without_a_tax_code_is_a_mapping_error_to_retry_after_a_fix() -> None:
    with pytest.raises(MappingError, match="no tax code"):
        mapped(order(), known=facts(tax={}))


def test_o15_tax_behaviour_follows_the_marketplace_unless_set() -> None:
    assert channel_book("US").tax_behaviour == TaxBehaviour.NET_AS_SENT
    assert channel_book("DE").tax_behaviour == TaxBehaviour.GROSS_RECALCULATED
    assert channel_book("UK", tax_behaviour="na").tax_behaviour == TaxBehaviour.NET_AS_SENT


def test_o16_marketplace_facilitator_tax_is_recorded_as_withheld() -> None:
    doc = order(marketplace="US", lines=[Line(quantity=2, price=Decimal("10.00"))])

    new = booked(doc, channel_book("US"))

    assert new.withheld_tax == sum((row.tax for row in new.rows), Decimal(0)) > 0
    assert booked(order()).withheld_tax == Decimal(0)


def test_o17_product_rows_use_the_product_sales_code_and_shipping_the_shipping_code() -> None:
    known = facts(
        listings={
            "MUG-1": ListingFact(100, "Blue mug", tax_class="standard", sales_nominal_code="4010"),
            "LAMP-2": ListingFact(101, "Lamp", tax_class="standard"),
        }
    )

    rows = booked(order(lines=[Line(gift_wrap=True), Line(sku="LAMP-2"), Line(sku="ODD")]), known=known).rows

    assert [(row.kind, row.nominal_code) for row in rows] == [
        (RowKind.PRODUCT, "4010"),
        (RowKind.GIFT_WRAP, "4010"),
        (RowKind.PRODUCT, "4000"),  # no code of its own: the channel's sales default
        (RowKind.FREE_TEXT, "4000"),
        (RowKind.SHIPPING, "4040"),
    ]


def test_o18_business_order_sets_the_flag_po_number_and_buyer_vat() -> None:
    book = channel_book(
        "DE", business_field="b2b", po_number_field="po", buyer_vat_field="vat", prime_flag_field="prime"
    )
    doc = order(marketplace="DE", business=True, company="Acme GmbH", vat="DE123456789", po_number="PO-77")

    values = {v.setting: (v.code, v.value) for v in map_order(doc, book, facts()).field_values}

    assert values == {
        "business_field": ("b2b", True),
        "po_number_field": ("po", "PO-77"),
        "buyer_vat_field": ("vat", "DE123456789"),
    }
    assert map_order(order(marketplace="DE"), book, facts()).field_values == ()


def test_money_in_another_currency_than_the_order_is_refused() -> None:
    doc = order()
    doc["orderItems"][0]["proceeds"]["breakdowns"][0]["subtotal"]["currencyCode"] = "EUR"

    with pytest.raises(MappingError, match="differs from the order's currency GBP"):
        mapped(doc)
