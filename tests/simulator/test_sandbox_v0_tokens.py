"""Orders v0 reads and the Tokens API: PII only with a Restricted Data Token (SPAPI.md §4.5, §6)."""

from __future__ import annotations

from tests.simulator.sandbox_helpers import Api, assert_valid

V0 = "/orders/v0/orders"
RDT = "/tokens/2021-03-01/restrictedDataToken"


def _params(api: Api) -> dict[str, str]:
    return {
        "CreatedAfter": "2026-02-01T00:00:00Z",
        "MarketplaceIds": api.account.marketplace_ids[0],
        "OrderStatuses": "Shipped,Unshipped",
        "FulfillmentChannels": "MFN",
    }


def _rdt(api: Api, path: str, elements: list[str] | None = None) -> str:
    resource: dict = {"method": "GET", "path": path}
    if elements is not None:
        resource["dataElements"] = elements
    response = api.post(RDT, {"restrictedResources": [resource]})
    assert response.status_code == 200, response.text
    assert_valid("tokens_2021-03-01.json", "CreateRestrictedDataTokenResponse", response.json())
    assert response.json()["expiresIn"] == 3600
    return str(response.json()["restrictedDataToken"])


def test_get_orders_without_rdt_omits_pii(na: Api) -> None:
    body = na.get(V0, _params(na)).json()
    assert_valid("ordersV0.json", "GetOrdersResponse", body)
    orders = body["payload"]["Orders"]
    assert orders and all("BuyerInfo" not in o and "ShippingAddress" not in o for o in orders)
    assert {o["OrderStatus"] for o in orders} <= {"Shipped", "Unshipped"}
    assert {o["FulfillmentChannel"] for o in orders} == {"MFN"}


def test_get_orders_with_bulk_rdt_includes_buyer_info_and_address(na: Api) -> None:
    token = _rdt(na, V0, ["buyerInfo", "shippingAddress"])
    body = na.get(V0, _params(na), token=token).json()
    assert_valid("ordersV0.json", "GetOrdersResponse", body)
    first = body["payload"]["Orders"][0]
    assert first["BuyerInfo"]["BuyerEmail"].endswith("@marketplace.amazon.com")
    assert first["ShippingAddress"]["PostalCode"]


def test_rdt_is_only_valid_for_its_resources(na: Api) -> None:
    token = _rdt(na, V0, ["buyerInfo"])
    response = na.get("/orders/2026-01-01/orders", {"createdAfter": "2026-02-01T00:00:00Z"}, token=token)
    assert response.status_code == 403


def test_per_order_reads_validate_and_gate_pii(na: Api) -> None:
    order_id = na.get(V0, _params(na)).json()["payload"]["Orders"][0]["AmazonOrderId"]
    plain = na.get(f"{V0}/{order_id}").json()
    assert_valid("ordersV0.json", "GetOrderResponse", plain)
    items = na.get(f"{V0}/{order_id}/orderItems").json()
    assert_valid("ordersV0.json", "GetOrderItemsResponse", items)
    assert items["payload"]["OrderItems"][0]["ItemPrice"]["Amount"]
    no_pii = na.get(f"{V0}/{order_id}/buyerInfo").json()
    assert_valid("ordersV0.json", "GetOrderBuyerInfoResponse", no_pii)
    assert set(no_pii["payload"]) == {"AmazonOrderId"}
    token = _rdt(na, "/orders/v0/orders/{orderId}/buyerInfo")
    with_pii = na.get(f"{V0}/{order_id}/buyerInfo", token=token).json()
    assert_valid("ordersV0.json", "GetOrderBuyerInfoResponse", with_pii)
    assert with_pii["payload"]["BuyerEmail"]
    token = _rdt(na, f"/orders/v0/orders/{order_id}/address")
    address = na.get(f"{V0}/{order_id}/address", token=token).json()
    assert_valid("ordersV0.json", "GetOrderAddressResponse", address)
    assert address["payload"]["ShippingAddress"]["City"]


def test_create_rdt_rejects_missing_resources(na: Api) -> None:
    response = na.post(RDT, {"restrictedResources": []})
    assert response.status_code == 400
    assert_valid("tokens_2021-03-01.json", "ErrorList", response.json())
    assert response.json()["errors"][0]["details"] == "Resource not provided."


def test_order_items_buyer_info_gift_details_need_an_rdt(na: Api) -> None:
    world = na.sandbox.world
    sku = next(
        i.sku
        for (s, _), i in world.listings.items()
        if s == na.account.seller_id and i.fulfilled_by == "MERCHANT"
    )
    body = {
        "sellerId": na.account.seller_id,
        "items": [{"sku": sku, "giftMessage": "For you", "giftWrap": True}],
    }
    order_id = na.admin("POST", "/orders", body).json()["orderId"]
    na.sandbox.advance(1800)
    path = f"{V0}/{order_id}/orderItems/buyerInfo"
    plain = na.get(path).json()
    assert_valid("ordersV0.json", "GetOrderItemsBuyerInfoResponse", plain)
    assert set(plain["payload"]["OrderItems"][0]) == {"OrderItemId"}
    token = _rdt(na, "/orders/v0/orders/{orderId}/orderItems/buyerInfo")
    gifted = na.get(path, token=token).json()
    assert_valid("ordersV0.json", "GetOrderItemsBuyerInfoResponse", gifted)
    assert gifted["payload"]["OrderItems"][0]["GiftMessageText"] == "For you"


def test_get_orders_pages_with_next_token_and_its_one_per_minute_quota(na: Api) -> None:
    params = {
        "CreatedAfter": "2026-02-01T00:00:00Z",
        "MarketplaceIds": na.account.marketplace_ids[0],
        "MaxResultsPerPage": "5",
    }
    ids: list[str] = []
    body = na.get(V0, params).json()
    while True:
        assert_valid("ordersV0.json", "GetOrdersResponse", body)
        ids += [o["AmazonOrderId"] for o in body["payload"]["Orders"]]
        if "NextToken" not in body["payload"]:
            break
        body = na.get(V0, {**params, "NextToken": body["payload"]["NextToken"]}).json()
    assert len(ids) == len(set(ids)) > 5
    for _ in range(20):
        na.get(V0, params)
    throttled = na.get(V0, params)
    assert throttled.status_code == 429
    assert_valid("ordersV0.json", "GetOrdersResponse", throttled.json())
