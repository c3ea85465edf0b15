"""Mapping what Amazon can send beyond the sandbox's usual orders: promotions on shipping (O9, O15),
facilitator VAT outside the US (O16), multi-channel and unfulfillable orders (O19), every program (O24),
cash-on-delivery fees and delivery tips, and totals that must match Amazon's to the penny."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderbridge.amazon.orders.mapping import MappingError, Outcome, TaxChoice
from orderbridge.book.orders.model import RowKind
from tests.amazon.orders.test_mapping_orders import T20, booked, channel_book, facts, mapped
from tests.amazon.orders.test_mapping_payloads import (
    Line,
    breakdown,
    money_of,
    order,
    resum,
    set_proceeds,
    strict_errors,
)

MODEL = Path(__file__).resolve().parents[3].parent / "shared" / "spapi-models" / "orders_2026-01-01.json"
SALES_TAX = TaxChoice("US-TX", Decimal("0.0825"))
FACILITATOR_EU = {
    "taxCalculationBreakdowns": [{"reportingScheme": "UOSS"}],
    "taxCollections": [
        {"model": "MARKETPLACE_FACILITATOR", "responsibleParty": "Amazon Services Europe S.a.r.L."}
    ],
}


def gross(row: Any) -> Decimal:
    return Decimal(row.net + row.tax)


def by_kind(rows: Any) -> dict[RowKind, Any]:
    return {row.kind: row for row in rows}


@pytest.mark.parametrize("sign", ["-", ""], ids=["negative-discount", "positive-discount"])
def test_O9_O15_uk_shipping_promotion_lowers_the_shipping_row_not_the_goods(sign: str) -> None:
    # given: 11.00 of goods and 4.99 of shipping, the shipping given free by a promotion (VAT inside)
    doc = order(lines=[Line(price=Decimal("11.00"), promotion="FREE-SHIP")])
    set_proceeds(
        doc,
        0,
        [
            breakdown("ITEM", "11.00", "GBP"),
            breakdown("SHIPPING", "4.99", "GBP"),
            breakdown("DISCOUNT", f"{sign}4.99", "GBP", SHIPPING=f"{sign}4.99"),
            breakdown("TAX", "1.83", "GBP", ITEM="1.83"),
        ],
        tax_on_top=False,
    )
    if sign == "":  # a discount sent as a positive amount still lowers what the buyer paid
        doc["orderItems"][0]["proceeds"]["proceedsTotal"] = money_of("11.00", "GBP")
        doc["proceeds"]["grandTotal"] = money_of("11.00", "GBP")
    assert strict_errors(doc) == []

    # when
    rows = by_kind(booked(doc).rows)

    # then: goods 11.00 on the sales code, shipping 0.00 (no row), VAT of the goods only
    assert (gross(rows[RowKind.PRODUCT]), rows[RowKind.PRODUCT].tax) == (Decimal("11.00"), Decimal("1.83"))
    assert RowKind.SHIPPING not in rows


def test_O9_O14_us_shipping_promotion_lowers_the_shipping_row_and_its_tax() -> None:
    doc = order(marketplace="US", lines=[Line(price=Decimal("20.00"), promotion="FREE-SHIP")])
    set_proceeds(
        doc,
        0,
        [
            breakdown("ITEM", "20.00", "USD"),
            breakdown("SHIPPING", "5.99", "USD"),
            breakdown("DISCOUNT", "-4.00", "USD", SHIPPING="-4.00"),
            breakdown("TAX", "1.82", "USD", ITEM="1.65", SHIPPING="0.50", DISCOUNT="-0.33"),
        ],
    )
    assert strict_errors(doc) == []

    new = booked(doc, channel_book("US"), facts(tax={"standard": SALES_TAX, None: SALES_TAX}))

    rows = by_kind(new.rows)
    assert (rows[RowKind.PRODUCT].net, rows[RowKind.PRODUCT].tax) == (Decimal("20.00"), Decimal("1.65"))
    # the promotion and the tax on it both lower the shipping row
    assert (rows[RowKind.SHIPPING].net, rows[RowKind.SHIPPING].tax) == (Decimal("1.99"), Decimal("0.17"))
    assert sum((gross(row) for row in new.rows), Decimal(0)) == Decimal("23.81")


def test_O9_item_promotion_without_detail_lowers_the_goods_row() -> None:
    doc = order(marketplace="US", lines=[Line(price=Decimal("20.00"))])
    set_proceeds(
        doc,
        0,
        [
            breakdown("ITEM", "20.00", "USD"),
            breakdown("SHIPPING", "4.99", "USD"),
            breakdown("DISCOUNT", "-2.00", "USD"),
        ],
    )

    rows = by_kind(booked(doc, channel_book("US")).rows)

    assert (rows[RowKind.PRODUCT].net, rows[RowKind.SHIPPING].net) == (Decimal("18.00"), Decimal("4.99"))


def uk_order_to_ireland(*proceeds: dict[str, Any]) -> dict[str, Any]:
    doc = order(lines=[Line(price=Decimal("12.00"))])
    doc["recipient"]["deliveryAddress"]["countryCode"] = "IE"
    doc["orderItems"][0]["tax"] = FACILITATOR_EU
    if proceeds:
        set_proceeds(doc, 0, list(proceeds), tax_on_top=False)
    assert strict_errors(doc) == []
    return doc


@pytest.mark.parametrize("with_tax", [False, True], ids=["no-tax-breakdown", "tax-detailed"])
def test_O16_withheld_tax_includes_the_vat_on_shipping_uk_order_to_ireland(with_tax: bool) -> None:
    # given: goods 12.00 and shipping 4.99, VAT inside, Amazon the facilitator (OSS)
    detail = [breakdown("TAX", "2.83", "GBP", ITEM="2.00", SHIPPING="0.83")] if with_tax else []
    doc = uk_order_to_ireland(
        breakdown("ITEM", "12.00", "GBP"), breakdown("SHIPPING", "4.99", "GBP"), *detail
    )

    new = booked(doc)

    assert new.withheld_tax == Decimal("2.83")  # 2.00 on the goods and 0.83 on the shipping
    assert new.withheld_tax == sum((row.tax for row in new.rows), Decimal(0))


def test_O16_withheld_tax_is_the_tax_amazon_sent_where_it_differs_from_the_book() -> None:
    doc = uk_order_to_ireland(
        breakdown("ITEM", "12.00", "GBP"),
        breakdown("SHIPPING", "4.99", "GBP"),
        breakdown("TAX", "3.16", "GBP", ITEM="2.24", SHIPPING="0.92"),  # Irish 23 %, not the book's 20 %
    )

    assert booked(doc).withheld_tax == Decimal("3.16")


def test_amazons_uk_tax_added_on_top_books_to_amazons_total() -> None:
    # Amazon's own UK example: ITEM 89.97 + SHIPPING 10.00 + TAX 4.00 = proceeds total 103.97
    doc = order(lines=[Line(quantity=3, price=Decimal("29.99"))])
    set_proceeds(
        doc,
        0,
        [
            breakdown("ITEM", "89.97", "GBP"),
            breakdown("SHIPPING", "10.00", "GBP"),
            breakdown("TAX", "4.00", "GBP", ITEM="3.00", SHIPPING="1.00"),
        ],
    )

    rows = by_kind(booked(doc).rows)

    assert gross(rows[RowKind.PRODUCT]) == Decimal("92.97")
    assert gross(rows[RowKind.SHIPPING]) == Decimal("11.00")


def test_rows_that_do_not_add_up_to_amazons_total_are_refused_with_the_difference() -> None:
    doc = order()
    doc["proceeds"]["grandTotal"] = money_of("20.00", "GBP")  # the rows give 16.99

    with pytest.raises(MappingError, match=r"16\.99 GBP .* 20\.00 GBP \(3\.01 GBP apart\)"):
        mapped(doc)


def test_an_item_total_its_breakdowns_do_not_explain_is_refused() -> None:
    doc = order()
    doc["orderItems"][0]["proceeds"]["proceedsTotal"] = money_of("17.50", "GBP")

    with pytest.raises(MappingError, match=r"proceedsTotal: 17\.50 GBP is neither"):
        mapped(doc)


def test_an_unknown_proceeds_type_is_refused_not_dropped() -> None:
    doc = order()
    doc["orderItems"][0]["proceeds"]["breakdowns"].append(breakdown("SURCHARGE", "1.00", "GBP"))

    with pytest.raises(MappingError, match="unknown proceeds type 'SURCHARGE'"):
        mapped(doc)


@pytest.mark.parametrize("status", ["PENDING", "FINALIZED"])
def test_cod_fee_and_delivery_tip_book_as_their_own_rows_on_their_own_codes(status: str) -> None:
    # given: a cash-on-delivery fee on the item and a tip for the driver on the order
    doc = order(marketplace="US", lines=[Line(price=Decimal("20.00"))])
    doc["proceeds"]["breakdowns"] = [
        {"type": "DELIVERY_TIP", "status": status, "subtotal": money_of("3.00", "USD")}
    ]
    set_proceeds(
        doc,
        0,
        [
            breakdown("ITEM", "20.00", "USD"),
            breakdown("SHIPPING", "4.99", "USD"),
            breakdown("COD_FEE", "2.00", "USD"),
            breakdown("TAX", "1.81", "USD", ITEM="1.65", COD_FEE="0.16"),
        ],
    )
    assert strict_errors(doc) == []
    book = replace(channel_book("US"), cod_fee_nominal_code="4050", delivery_tip_nominal_code="4060")

    # when
    new = booked(doc, book, facts(tax={"standard": SALES_TAX, None: SALES_TAX}))

    # then
    rows = by_kind(new.rows)
    assert [row.kind for row in new.rows] == [
        RowKind.PRODUCT,
        RowKind.SHIPPING,
        RowKind.COD_FEE,
        RowKind.DELIVERY_TIP,
    ]
    cod, tip = rows[RowKind.COD_FEE], rows[RowKind.DELIVERY_TIP]
    assert (cod.net, cod.tax, cod.nominal_code, cod.tax_code) == (
        Decimal("2.00"),
        Decimal("0.16"),
        "4050",
        "US-TX",
    )
    assert (tip.net, tip.tax, tip.nominal_code) == (Decimal("3.00"), Decimal(0), "4060")
    assert rows[RowKind.PRODUCT].net == Decimal("20.00")  # the fee is not on the goods any more
    assert sum((gross(row) for row in new.rows), Decimal(0)) == Decimal(
        doc["proceeds"]["grandTotal"]["amount"]
    )


def test_O15_cod_fee_in_europe_splits_its_vat_at_the_shipping_rate() -> None:
    doc = order(lines=[Line(price=Decimal("12.00"))])
    set_proceeds(
        doc,
        0,
        [
            breakdown("ITEM", "12.00", "GBP"),
            breakdown("SHIPPING", "4.99", "GBP"),
            breakdown("COD_FEE", "3.00", "GBP"),
        ],
        tax_on_top=False,
    )

    rows = by_kind(booked(doc, replace(channel_book(), cod_fee_nominal_code="4050")).rows)

    assert (rows[RowKind.COD_FEE].net, rows[RowKind.COD_FEE].tax) == (Decimal("2.50"), Decimal("0.50"))


def test_O19_multichannel_and_unfulfillable_orders_are_skipped_with_their_reasons() -> None:
    multichannel = order(fba=True)
    multichannel["salesChannel"]["channelName"] = "NON_AMAZON"
    unfulfillable = order(status="UNFULFILLABLE")
    assert strict_errors(multichannel) == strict_errors(unfulfillable) == []

    skipped = [mapped(multichannel), mapped(unfulfillable)]

    assert [result.outcome for result in skipped] == [Outcome.SKIP, Outcome.SKIP]
    assert "multi-channel fulfilment order" in (skipped[0].reason or "")
    assert "Amazon cannot fulfil this order" in (skipped[1].reason or "")
    assert all(result.order is None for result in skipped)


def model_programs() -> list[str]:
    """Every `programs` value the official model lists for an order."""
    model = json.loads(MODEL.read_text())
    text = model["definitions"]["Order"]["properties"]["programs"]["description"]
    return sorted(value.strip("` ") for value in text.split("**Possible values**:")[1].split(","))


def test_O24_every_program_of_the_model_is_kept_on_the_order() -> None:
    programs = model_programs()
    assert {"PRIME", "AMAZON_EASY_SHIP", "PREORDER", "IN_STORE_PICK_UP"} <= set(programs)
    doc = order()
    doc["programs"] = programs
    assert strict_errors(doc) == []

    kept = booked(doc).channel_programs

    assert kept is not None and kept.split() == programs


def test_every_marketplace_books_its_rows_to_amazons_total() -> None:
    from orderbridge.simulator.marketplaces import MARKETPLACES

    for code in MARKETPLACES:
        doc = order(marketplace=code, lines=[Line(quantity=3, price=Decimal("9.99"), gift_wrap=True)])
        resum(doc)
        new = booked(doc, channel_book(code), facts(tax={"standard": T20, None: T20}))
        assert sum((gross(row) for row in new.rows), Decimal(0)) == Decimal(
            doc["proceeds"]["grandTotal"]["amount"]
        ), code
