"""Fulfillment Inbound v0: status life cycle and over / short / unexpected receipts (SPAPI.md §9, F3-F5)."""

from __future__ import annotations

from tests.simulator.sandbox_helpers import Api, assert_valid

V0 = "/fba/inbound/v0"
MODEL = "fulfillmentInboundV0.json"


def _fba_skus(api: Api) -> list[str]:
    return sorted(
        i.sku
        for (s, _), i in api.sandbox.world.listings.items()
        if s == api.account.seller_id and i.fulfilled_by == "AMAZON"
    )


def _status(api: Api, shipment_id: str) -> str:
    body = api.get(
        f"{V0}/shipments",
        {
            "MarketplaceId": api.account.marketplace_ids[0],
            "QueryType": "SHIPMENT",
            "ShipmentIdList": shipment_id,
        },
    ).json()
    assert_valid(MODEL, "GetShipmentsResponse", body)
    (info,) = body["payload"]["ShipmentData"]
    return str(info["ShipmentStatus"])


def _items(api: Api, shipment_id: str) -> dict[str, dict]:
    body = api.get(f"{V0}/shipments/{shipment_id}/items").json()
    assert_valid(MODEL, "GetShipmentItemsResponse", body)
    return {i["SellerSKU"]: i for i in body["payload"]["ItemData"]}


def test_F3_F5_shipment_walks_the_life_cycle_with_over_short_and_unexpected_receipts(na: Api) -> None:
    # given: 10 of A (11 arrive), 10 of B (7 arrive), and 2 of C that nobody announced
    a, b, c = _fba_skus(na)[:3]
    na.admin(
        "POST",
        "/inbound",
        {
            "sellerId": na.account.seller_id,
            "shipmentId": "FBA1TEST0001",
            "auto": True,
            "items": [
                {"sku": a, "quantityShipped": 10, "receive": 11},
                {"sku": b, "quantityShipped": 10, "receive": 7},
                {"sku": c, "quantityShipped": 0, "receive": 2},
            ],
        },
    )
    seen = [_status(na, "FBA1TEST0001")]
    for _ in range(7 * 12):
        na.sandbox.advance(2 * 3600)
        if seen[-1] != (status := _status(na, "FBA1TEST0001")):
            seen.append(status)
    # then: every documented status in order, receipts visible from RECEIVING on
    assert seen == ["WORKING", "SHIPPED", "IN_TRANSIT", "DELIVERED", "CHECKED_IN", "RECEIVING", "CLOSED"]
    items = _items(na, "FBA1TEST0001")
    assert (items[a]["QuantityShipped"], items[a]["QuantityReceived"]) == (10, 11)
    assert (items[b]["QuantityShipped"], items[b]["QuantityReceived"]) == (10, 7)
    assert (items[c]["QuantityShipped"], items[c]["QuantityReceived"]) == (0, 2)
    receipts = [e for e in na.sandbox.world.ledger if e.reference_id == "FBA1TEST0001"]
    assert {e.event_type for e in receipts} == {"Receipts"}
    assert sum(e.quantity for e in receipts) == 20


def test_receiving_is_partial_before_close(na: Api) -> None:
    sku = _fba_skus(na)[0]
    na.admin(
        "POST",
        "/inbound",
        {
            "sellerId": na.account.seller_id,
            "shipmentId": "FBA1TEST0002",
            "items": [{"sku": sku, "quantityShipped": 10}],
        },
    )
    for _ in range(5):
        na.admin("POST", "/inbound/FBA1TEST0002/step")
    assert _status(na, "FBA1TEST0002") == "RECEIVING"
    assert _items(na, "FBA1TEST0002")[sku]["QuantityReceived"] == 5
    na.admin("POST", "/inbound/FBA1TEST0002/step")
    assert _items(na, "FBA1TEST0002")[sku]["QuantityReceived"] == 10


def test_shipments_by_date_range_and_items_with_next_token(na: Api) -> None:
    marketplace = na.account.marketplace_ids[0]
    for n in range(60):
        na.admin(
            "POST",
            "/inbound",
            {
                "sellerId": na.account.seller_id,
                "shipmentId": f"FBA1PAGE{n:04d}",
                "items": [{"sku": _fba_skus(na)[0], "quantityShipped": 1}],
            },
        )
    params = {
        "MarketplaceId": marketplace,
        "QueryType": "DATE_RANGE",
        "LastUpdatedAfter": "2026-01-01T00:00:00Z",
        "LastUpdatedBefore": "2026-12-31T00:00:00Z",
    }
    first = na.get(f"{V0}/shipments", params).json()
    assert_valid(MODEL, "GetShipmentsResponse", first)
    token = first["payload"]["NextToken"]
    second = na.get(
        f"{V0}/shipments", {"MarketplaceId": marketplace, "QueryType": "NEXT_TOKEN", "NextToken": token}
    ).json()
    ids = [s["ShipmentId"] for s in first["payload"]["ShipmentData"] + second["payload"]["ShipmentData"]]
    assert len(ids) == len(set(ids)) >= 60
    items = na.get(f"{V0}/shipmentItems", params).json()
    assert_valid(MODEL, "GetShipmentItemsResponse", items)
    assert items["payload"]["ItemData"]


def test_shipments_need_a_query_type(na: Api) -> None:
    response = na.get(f"{V0}/shipments", {"MarketplaceId": na.account.marketplace_ids[0]})
    assert response.status_code == 400
    assert_valid(MODEL, "GetShipmentsResponse", response.json())
