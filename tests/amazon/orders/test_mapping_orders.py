"""Mapping orders (pure): pending and status (O1-O3), rows (O5-O12), fulfilment (O19, O20), cancellations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from orderbridge.amazon.channel import ChannelBook, ChannelSettings
from orderbridge.amazon.orders.mapping import (
    AmazonState,
    ListingFact,
    MappedOrder,
    MappingError,
    OrderFacts,
    Outcome,
    TaxChoice,
    map_order,
)
from orderbridge.book.orders.model import Fulfilment, RowKind
from orderbridge.simulator.marketplaces import MARKETPLACES
from tests.amazon.orders.test_mapping_payloads import Line, breakdown, order, set_proceeds, strict_errors

STATUSES = {"Pending": 1, "New order": 2, "New Prime order": 3, "New FBA order": 4, "Cancelled": 7}
T20 = TaxChoice("T20", Decimal("0.20"))


def channel_book(marketplace: str = "UK", **settings: Any) -> ChannelBook:
    chosen = ChannelSettings(**settings)
    marketplace_id = MARKETPLACES[marketplace].marketplace_id
    return ChannelBook(
        channel_id=1,
        marketplace_id=marketplace_id,
        settings=chosen,
        tax_behaviour=chosen.tax_behaviour_for(marketplace_id),
        status_ids=STATUSES,
        price_list_id=5,
        fbm_warehouse_id=10,
        fba_warehouse_id=11,
        sales_nominal_code="4000",
        shipping_nominal_code="4040",
    )


def facts(**changes: Any) -> OrderFacts:
    base: dict[str, Any] = {
        "listings": {"MUG-1": ListingFact(100, "Blue mug", tax_class="standard", sales_nominal_code="4010")},
        "tax": {"standard": T20, None: T20},
    }
    base.update(changes)
    return OrderFacts(**base)


def mapped(
    doc: dict[str, Any], book: ChannelBook | None = None, known: OrderFacts | None = None
) -> MappedOrder:
    return map_order(doc, book or channel_book(), known or facts())


def booked(doc: dict[str, Any], book: ChannelBook | None = None, known: OrderFacts | None = None) -> Any:
    result = mapped(doc, book, known)
    assert result.outcome == Outcome.BOOK, result.reason
    assert result.order is not None
    return result.order


def test_o1_pending_order_is_not_downloaded_by_default() -> None:
    result = mapped(order(status="PENDING"))

    assert result.outcome == Outcome.WAIT and result.order is None
    assert "pending" in (result.reason or "")


def test_o2_pending_order_books_at_once_to_the_generic_contact() -> None:
    book = channel_book(download_pending=True, pending_contact_id=99)

    result = mapped(order(status="PENDING"), book)

    assert result.state == AmazonState.PENDING and result.new_contact is None
    assert result.order is not None and result.order.contact_id == 99
    assert result.order.warehouse_id == 10  # stock is allocated to avoid overselling
    assert result.order.rows[0].product_id == 100


def test_o3_pending_orders_always_get_the_pending_status() -> None:
    book = channel_book(download_pending=True, pending_contact_id=99, status_new_prime="New Prime order")

    assert booked(order(status="PENDING", prime=True), book).status_id == STATUSES["Pending"]


def test_o3_seller_fulfilled_prime_gets_the_prime_status() -> None:
    book = channel_book(status_new_prime="New Prime order", status_new_fba="New FBA order")

    assert booked(order(prime=True), book).status_id == STATUSES["New Prime order"]


def test_O3_fba_order_marked_prime_gets_the_fba_status_not_the_prime_one() -> None:
    # v2026 marks FBA orders PRIME too: the seed's Prime order is Seller Fulfilled Prime.
    book = channel_book(status_new_prime="New Prime order", status_new_fba="New FBA order")

    assert booked(order(fba=True, prime=True), book).status_id == STATUSES["New FBA order"]
    assert (
        booked(order(fba=True, prime=True), channel_book(status_new_prime="New Prime order")).status_id
        == (STATUSES["New order"])
    )


def test_o3_fba_status_when_no_prime_status_is_set() -> None:
    book = channel_book(status_new_fba="New FBA order")

    assert booked(order(fba=True, prime=True), book).status_id == STATUSES["New FBA order"]


def test_o3_new_order_status_otherwise() -> None:
    assert booked(order(prime=True)).status_id == STATUSES["New order"]


def test_o5_connected_listing_books_a_product_row() -> None:
    row = booked(order()).rows[0]

    assert (row.kind, row.product_id, row.sku, row.quantity) == (RowKind.PRODUCT, 100, "MUG-1", 1)


def test_o6_unconnected_sku_books_a_free_text_row_and_flags_the_order() -> None:
    result = mapped(order(lines=[Line(sku="NEW-SKU")]))

    assert result.order is not None
    row = result.order.rows[0]
    assert (row.kind, row.product_id, row.sku, row.name) == (
        RowKind.FREE_TEXT,
        None,
        "NEW-SKU",
        "Title of NEW-SKU",
    )
    assert [alert.kind for alert in result.alerts] == ["unconnected_listing"]
    assert [seen.seller_sku for seen in result.seen_listings] == ["NEW-SKU"]


def test_o7_bundle_listing_books_a_bundle_row() -> None:
    known = facts(listings={"MUG-1": ListingFact(200, "Mug set", is_bundle=True, tax_class="standard")})

    row = booked(order(), known=known).rows[0]

    assert (row.kind, row.product_id) == (RowKind.BUNDLE, 200)


def test_o8_shipping_method_is_the_service_level_amazon_sends() -> None:
    assert mapped(order()).shipping_method == "STANDARD"
    assert mapped(order(prime=True)).shipping_method == "NEXT_DAY"


def test_o9_shipping_charges_are_their_own_row() -> None:
    rows = booked(order()).rows

    shipping = [row for row in rows if row.kind == RowKind.SHIPPING]
    assert len(shipping) == 1 and shipping[0].net + shipping[0].tax == Decimal("4.99")
    assert shipping[0].name == "STANDARD"


def test_o10_gift_wrap_is_a_row_directly_below_its_product() -> None:
    doc = order(lines=[Line(gift_wrap=True), Line(sku="LAMP-2")])

    kinds = [(row.kind, row.sku) for row in booked(doc).rows]

    assert kinds[:3] == [
        (RowKind.PRODUCT, "MUG-1"),
        (RowKind.GIFT_WRAP, "MUG-1"),
        (RowKind.FREE_TEXT, "LAMP-2"),
    ]
    wrap = booked(doc).rows[1]
    assert wrap.net + wrap.tax == Decimal("3.99") and wrap.name == "Gift wrap (Classic)"


def test_o11_delivery_instructions_go_to_the_order_notes() -> None:
    doc = order()
    doc["recipient"]["deliveryPreference"] = {
        "addressInstruction": "Leave with neighbour",
        "dropOffLocation": "Porch",
    }
    assert strict_errors(doc) == []

    notes = booked(doc).notes

    assert notes == ("Delivery instructions: Leave with neighbour", "Drop-off location: Porch")


def test_o12_gift_messages_go_to_the_chosen_field_prefixed_by_sku() -> None:
    book = channel_book(gift_message_field="gift_message")
    doc = order(lines=[Line(gift_message="Happy birthday"), Line(sku="LAMP-2", gift_message="Enjoy")])

    values = {value.setting: value.value for value in mapped(doc, book).field_values}

    assert values == {"gift_message_field": "MUG-1: Happy birthday\nLAMP-2: Enjoy"}


def test_o12_gift_message_without_a_field_raises_an_alert() -> None:
    result = mapped(order(lines=[Line(gift_message="Hi")]))

    assert "gift_message_unmapped" in [alert.kind for alert in result.alerts]


def test_o19_fba_orders_book_against_the_fba_warehouse_and_are_not_shipped_by_the_seller() -> None:
    new = booked(order(fba=True))

    assert (new.fulfilment, new.warehouse_id) == (Fulfilment.CHANNEL, 11)
    assert booked(order()).fulfilment == Fulfilment.SELLER


@pytest.mark.parametrize("fba", [True, False], ids=["fba", "fbm"])
def test_o19_replacement_orders_are_skipped_with_the_reason(fba: bool) -> None:
    result = mapped(order(replaces="202-1111111-2222222", fba=fba))

    assert result.outcome == Outcome.SKIP and result.order is None
    assert (
        result.reason is not None
        and "replacement" in result.reason
        and "202-1111111-2222222" in result.reason
    )


def test_o19_remote_multichannel_and_unfulfillable_orders_are_skipped() -> None:
    remote = order(fba=True)
    remote["salesChannel"]["channelName"] = "NON_AMAZON"
    assert strict_errors(remote) == []

    assert mapped(remote).outcome == Outcome.SKIP
    assert mapped(order(status="UNFULFILLABLE")).outcome == Outcome.SKIP


def test_o20_seller_fulfilled_prime_sets_the_prime_flag_and_may_skip_confirmation() -> None:
    book = channel_book(prime_flag_field="prime", skip_sfp_shipment_confirmation=True)

    sfp = mapped(order(prime=True), book)
    fba_prime = mapped(order(prime=True, fba=True), book)

    assert sfp.seller_fulfilled_prime and sfp.skip_shipment_confirmation
    assert [(v.setting, v.value) for v in sfp.field_values] == [("prime_flag_field", True)]
    assert not fba_prime.seller_fulfilled_prime and fba_prime.field_values == ()


def test_o21_cancelled_order_maps_to_a_cancellation_with_item_quantities() -> None:
    doc = order(status="CANCELLED")

    result = mapped(doc)

    assert (result.outcome, result.state) == (Outcome.CANCEL, AmazonState.CANCELLED)
    assert list(result.item_quantities.values()) == [1]


def test_o21_fully_cancelled_item_keeps_its_row_at_quantity_and_price_zero() -> None:
    doc = order(lines=[Line(), Line(sku="LAMP-2")])
    doc["orderItems"][1]["quantityOrdered"] = 0
    doc["orderItems"][1]["cancellation"] = {
        "cancellationExecution": {"cancelledBy": "BUYER", "cancelReason": "x"}
    }
    set_proceeds(doc, 1, [breakdown("ITEM", "0.00", "GBP")])  # Amazon no longer charges for it
    assert strict_errors(doc) == []

    row = booked(doc).rows[1]

    assert (row.sku, row.quantity, row.net, row.tax) == ("LAMP-2", 0, Decimal(0), Decimal(0))


def test_o22_buyer_cancellation_request_is_an_alert_not_a_change() -> None:
    doc = order()
    doc["orderItems"][0]["cancellation"] = {
        "cancellationRequest": {"requester": "BUYER", "cancelReason": "late"}
    }

    result = mapped(doc)

    assert result.outcome == Outcome.BOOK and result.cancellation_requested
    assert "cancellation_requested" in [alert.kind for alert in result.alerts]


def test_malformed_order_raises_mapping_error_naming_order_and_path_not_buyer_data() -> None:
    doc = order(order_id="203-1234567-7654321")
    doc["orderItems"][0]["proceeds"]["proceedsTotal"]["amount"] = "twelve"
    doc["orderItems"][0]["proceeds"]["breakdowns"][0]["subtotal"]["amount"] = "twelve"

    with pytest.raises(MappingError) as caught:
        mapped(doc)

    message = str(caught.value)
    assert (
        "203-1234567-7654321" in message and "orderItems.0.proceeds.breakdowns.0.subtotal.amount" in message
    )
    assert "Ann" not in message and "High Street" not in message


def test_missing_required_field_raises_mapping_error() -> None:
    doc = order()
    del doc["createdTime"]

    with pytest.raises(MappingError, match="createdTime: missing"):
        mapped(doc)


def test_order_of_another_marketplace_is_refused() -> None:
    with pytest.raises(MappingError, match=r"salesChannel\.marketplaceId"):
        mapped(order(marketplace="DE"), channel_book("UK"))


def test_ready_order_without_its_money_is_a_mapping_error_not_a_free_order() -> None:
    doc = order()
    del doc["orderItems"][0]["proceeds"]

    with pytest.raises(MappingError, match=r"orderItems\.0\.proceeds: missing on a Ready order"):
        mapped(doc)


def test_o24_ship_by_and_deliver_by_are_the_ends_of_the_model_windows() -> None:
    from datetime import UTC, datetime

    doc = order()
    assert strict_errors(doc) == []  # the sandbox sends the windows as the official model names them
    windows = doc["fulfillment"]
    found = mapped(doc).order
    assert found is not None
    assert found.ship_by == datetime.fromisoformat(windows["shipByWindow"]["latestDateTime"]).astimezone(UTC)
    assert found.deliver_by == datetime.fromisoformat(
        windows["deliverByWindow"]["latestDateTime"]
    ).astimezone(UTC)
    assert found.ship_by is not None and found.deliver_by is not None and found.ship_by < found.deliver_by

    del windows["shipByWindow"], windows["deliverByWindow"]
    bare = mapped(doc).order
    assert bare is not None and (bare.ship_by, bare.deliver_by) == (None, None)

    windows["shipByWindow"] = {"latestDateTime": "tomorrow"}
    with pytest.raises(MappingError, match=r"fulfillment\.shipByWindow\.latestDateTime"):
        mapped(doc)
