"""The order life cycle: Pending -> Unshipped after 30 min, buyer cancels, FBA and FBM shipping (O1-O23)."""

from __future__ import annotations

from decimal import Decimal

from tests.simulator.sandbox_helpers import Api, assert_valid

ORDERS = "/orders/2026-01-01/orders"
ALL = "BUYER,RECIPIENT,PROCEEDS,EXPENSE,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,TAX,PAYMENT"


def _sku(api: Api, fulfilled_by: str) -> str:
    return next(
        item.sku
        for (seller, _), item in sorted(api.sandbox.world.listings.items())
        if seller == api.account.seller_id and item.fulfilled_by == fulfilled_by
    )


def _place(api: Api, fulfilled_by: str = "MERCHANT", quantity: int = 2, **extra: object) -> str:
    body = {
        "sellerId": api.account.seller_id,
        "marketplace": "US" if api.account.region == "NA" else "DE",
        "items": [{"sku": _sku(api, fulfilled_by), "quantity": quantity}],
        **extra,
    }
    return str(api.admin("POST", "/orders", body).json()["orderId"])


def _order(api: Api, order_id: str) -> dict:
    response = api.get(f"{ORDERS}/{order_id}", {"includedData": ALL})
    assert response.status_code == 200, response.text
    assert_valid("orders_2026-01-01.json", "GetOrderResponse", response.json())
    return dict(response.json()["order"])


def test_O1_new_order_is_pending_without_money_or_address_then_ready_after_30_minutes(na: Api) -> None:
    order_id = _place(na)
    pending = _order(na, order_id)
    assert pending["fulfillment"]["fulfillmentStatus"] == "PENDING"
    assert "proceeds" not in pending and "recipient" not in pending
    assert "buyerEmail" not in pending["buyer"]
    na.sandbox.advance(29 * 60)
    assert _order(na, order_id)["fulfillment"]["fulfillmentStatus"] == "PENDING"
    na.sandbox.advance(60)
    ready = _order(na, order_id)
    assert ready["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    assert ready["proceeds"]["grandTotal"]["amount"]
    assert ready["recipient"]["deliveryAddress"]["postalCode"]
    assert ready["buyer"]["buyerEmail"].endswith("@marketplace.amazon.com")
    assert ready["lastUpdatedTime"] > pending["lastUpdatedTime"]


def test_O21_buyer_cancels_a_pending_order_fully(na: Api) -> None:
    order_id = _place(na)
    na.admin("POST", f"/orders/{order_id}/cancel", {"reason": "Ordered by mistake"})
    order = _order(na, order_id)
    assert order["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    assert order["orderItems"][0]["cancellation"]["cancellationExecution"]["cancelledBy"] == "BUYER"
    na.sandbox.advance(3600)
    assert _order(na, order_id)["fulfillment"]["fulfillmentStatus"] == "CANCELLED"


def test_O21_buyer_cancels_part_of_a_pending_order(na: Api) -> None:
    order_id = _place(na, quantity=3)
    item_id = _order(na, order_id)["orderItems"][0]["orderItemId"]
    na.admin("POST", f"/orders/{order_id}/cancel", {"items": {item_id: 1}})
    order = _order(na, order_id)
    assert order["fulfillment"]["fulfillmentStatus"] == "PENDING"
    assert order["orderItems"][0]["quantityOrdered"] == 2
    na.sandbox.advance(1800)
    ready = _order(na, order_id)
    assert ready["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    # the money follows the units left: 2 x unit price, and the order total is the sum of its items
    item = ready["orderItems"][0]
    parts = {b["type"]: Decimal(b["subtotal"]["amount"]) for b in item["proceeds"]["breakdowns"]}
    assert parts["ITEM"] == 2 * Decimal(item["product"]["price"]["unitPrice"]["amount"])
    assert ready["proceeds"]["grandTotal"] == item["proceeds"]["proceedsTotal"]


def test_O22_after_ready_a_buyer_cancel_is_only_a_request(na: Api) -> None:
    order_id = _place(na)
    na.sandbox.advance(1800)
    na.admin("POST", f"/orders/{order_id}/cancel", {"reason": "Found it cheaper"})
    order = _order(na, order_id)
    assert order["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    request = order["orderItems"][0]["cancellation"]["cancellationRequest"]
    assert request == {"requester": "BUYER", "cancelReason": "Found it cheaper"}
    na.admin("POST", f"/orders/{order_id}/cancel", {"by": "MERCHANT", "reason": "Buyer asked"})
    assert _order(na, order_id)["fulfillment"]["fulfillmentStatus"] == "CANCELLED"


def test_O3_O19_F6_fba_order_is_shipped_by_amazon_and_leaves_the_ledger(na: Api) -> None:
    order_id = _place(na, "AMAZON", quantity=1)
    before = len(na.sandbox.world.ledger)
    na.sandbox.advance(1800 + 21 * 3600)
    order = _order(na, order_id)
    assert order["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert order["fulfillment"]["fulfilledBy"] == "AMAZON"
    assert "buyerEmail" not in order["buyer"]  # model: FBM only
    assert "packages" not in order
    shipments = [e for e in na.sandbox.world.ledger[before:] if e.reference_id == order_id]
    assert [e.event_type for e in shipments] == ["Shipments"] and shipments[0].quantity == -1


def test_O23_confirm_shipment_ships_an_fbm_order_partly_then_fully(na: Api) -> None:
    order_id = _place(na, quantity=2)
    na.sandbox.advance(1800)
    item_id = _order(na, order_id)["orderItems"][0]["orderItemId"]

    def confirm(reference: str, quantity: int) -> int:
        body = {
            "marketplaceId": "ATVPDKIKX0DER",
            "packageDetail": {
                "packageReferenceId": reference,
                "carrierCode": "UPS",
                "trackingNumber": f"1Z{reference}",
                "shipDate": "2026-03-02T13:00:00Z",
                "orderItems": [{"orderItemId": item_id, "quantity": quantity}],
            },
        }
        response = na.post(f"/orders/v0/orders/{order_id}/shipmentConfirmation", body)
        assert response.content == b""
        return response.status_code

    assert confirm("1", 1) == 204
    partly = _order(na, order_id)
    assert partly["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    assert partly["orderItems"][0]["fulfillment"] == partly["orderItems"][0]["fulfillment"] | {
        "quantityFulfilled": 1,
        "quantityUnfulfilled": 1,
    }
    assert confirm("2", 1) == 204
    shipped = _order(na, order_id)
    assert shipped["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert [p["trackingNumber"] for p in shipped["packages"]] == ["1Z1", "1Z2"]


def test_confirm_shipment_rejects_pending_orders_and_bad_bodies(na: Api) -> None:
    order_id = _place(na)
    body = {
        "marketplaceId": "ATVPDKIKX0DER",
        "packageDetail": {
            "packageReferenceId": "1",
            "carrierCode": "UPS",
            "trackingNumber": "1Z",
            "shipDate": "2026-03-02T13:00:00Z",
            "orderItems": [],
        },
    }
    response = na.post(f"/orders/v0/orders/{order_id}/shipmentConfirmation", body)
    assert response.status_code == 400
    assert_valid("ordersV0.json", "ConfirmShipmentErrorResponse", response.json())


def test_O18_business_order_carries_po_number_and_eu_buyer_vat(eu: Api) -> None:
    world = eu.sandbox.world
    buyer = next(b for b in world.buyers.values() if b.company and b.vat_number)
    order_id = _place(eu, business=True, buyerId=buyer.buyer_id, purchaseOrderNumber="PO-77")
    eu.sandbox.advance(1800)
    order = _order(eu, order_id)
    assert "AMAZON_BUSINESS" in order["programs"]
    assert order["buyer"]["buyerPurchaseOrderNumber"] == "PO-77"
    assert order["tax"]["taxRegistrations"][0]["taxRegistrationNumber"] == buyer.vat_number
    assert order["orderItems"][0]["product"]["price"]["priceDesignation"] == "BUSINESS_PRICE"


def test_O10_O12_O20_gift_wrap_gift_message_and_seller_fulfilled_prime(na: Api) -> None:
    body = {
        "sellerId": na.account.seller_id,
        "marketplace": "US",
        "prime": True,
        "items": [{"sku": _sku(na, "MERCHANT"), "quantity": 1, "giftMessage": "Congrats!", "giftWrap": True}],
    }
    order_id = na.admin("POST", "/orders", body).json()["orderId"]
    na.sandbox.advance(1800)
    order = _order(na, order_id)
    assert "PRIME" in order["programs"]
    gift = order["orderItems"][0]["fulfillment"]["packing"]["giftOption"]
    assert gift["giftMessage"] == "Congrats!"
    assert any(b["type"] == "GIFT_WRAP" for b in order["orderItems"][0]["proceeds"]["breakdowns"])


def test_O19_replacement_order_points_at_the_original(na: Api) -> None:
    order_id = _place(na, "AMAZON", quantity=1)
    na.sandbox.advance(1800 + 21 * 3600)
    sku = _sku(na, "AMAZON")
    replacement = na.admin("POST", f"/orders/{order_id}/replace", {"sku": sku}).json()["orderId"]
    order = _order(na, replacement)
    assert order["associatedOrders"] == [{"orderId": order_id, "associationType": "REPLACEMENT_ORIGINAL_ID"}]
    assert order["proceeds"]["grandTotal"]["amount"] == "0.00"


def test_phone_is_suppressed_on_shipped_fbm_orders_after_the_latest_delivery_date(na: Api) -> None:
    order_id = _place(na, quantity=1)
    na.sandbox.advance(1800)
    na.admin("POST", f"/orders/{order_id}/ship")
    shipped = _order(na, order_id)
    assert shipped["recipient"]["deliveryAddress"]["phone"]
    na.sandbox.advance(7 * 86400)
    later = _order(na, order_id)
    assert "phone" not in later["recipient"]["deliveryAddress"]
    assert later["lastUpdatedTime"] == shipped["lastUpdatedTime"]


def test_O8_v0_order_names_the_service_level_and_mfn_delivery_window(na: Api) -> None:
    order_id = _place(na, quantity=1)
    na.sandbox.advance(1800)
    order = na.get(f"/orders/v0/orders/{order_id}").json()
    assert_valid("ordersV0.json", "GetOrderResponse", order)
    payload = order["payload"]
    assert payload["ShipServiceLevel"] == "Std US D2D Dom"
    assert payload["EarliestDeliveryDate"] < payload["LatestDeliveryDate"]
