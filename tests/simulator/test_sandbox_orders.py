"""Orders API v2026-01-01: strict shapes, includedData, pagination tokens, two-minute rule (SPAPI.md §5)."""

from __future__ import annotations

from decimal import Decimal

from orderbridge.simulator.orders_api import INCLUDED_DATA
from tests.simulator.sandbox_helpers import Api, assert_valid

SEARCH = "/orders/2026-01-01/orders"
MODEL = "orders_2026-01-01.json"
ALL = ",".join(INCLUDED_DATA)


def _params(api: Api, **extra: str) -> dict[str, str]:
    return {
        "createdAfter": "2026-02-01T00:00:00Z",
        "marketplaceIds": ",".join(api.account.marketplace_ids),
        **extra,
    }


def _all_pages(api: Api, params: dict[str, str]) -> list[dict]:
    orders: list[dict] = []
    token = None
    while True:
        response = api.get(SEARCH, {**params, **({"paginationToken": token} if token else {})})
        assert response.status_code == 200, response.text
        body = response.json()
        orders.extend(body["orders"])
        token = body.get("pagination", {}).get("nextToken")
        if not token:
            return orders


def test_search_orders_with_all_included_data_matches_the_model_strictly(na: Api, eu: Api) -> None:
    for api in (na, eu):
        body = api.get(SEARCH, _params(api, includedData=ALL)).json()
        assert body["orders"], "the seeded world has orders"
        assert_valid(MODEL, "SearchOrdersResponse", body)
        assert "createdBefore" in body


def test_get_order_matches_the_model_strictly_with_and_without_included_data(na: Api) -> None:
    order_id = na.get(SEARCH, _params(na)).json()["orders"][0]["orderId"]
    for included in ("", ALL, "BUYER,PACKAGES"):
        body = na.get(f"{SEARCH}/{order_id}", {"includedData": included} if included else None).json()
        assert_valid(MODEL, "GetOrderResponse", body)
        assert body["order"]["orderId"] == order_id


def test_included_data_gates_the_sections(na: Api) -> None:
    bare = na.get(SEARCH, _params(na, fulfillmentStatuses="SHIPPED")).json()["orders"][0]
    assert set(bare) <= {
        "orderId",
        "orderAliases",
        "createdTime",
        "lastUpdatedTime",
        "programs",
        "associatedOrders",
        "salesChannel",
        "orderItems",
    }
    assert "proceeds" not in bare["orderItems"][0]
    full = na.get(f"{SEARCH}/{bare['orderId']}", {"includedData": "BUYER,PROCEEDS,FULFILLMENT"}).json()[
        "order"
    ]
    assert {"buyer", "proceeds", "fulfillment"} <= set(full)
    assert "recipient" not in full and "proceeds" in full["orderItems"][0]


def test_unknown_order_is_404_and_unknown_included_data_is_400(na: Api) -> None:
    missing = na.get(f"{SEARCH}/111-0000000-0000000")
    assert missing.status_code == 404
    assert_valid(MODEL, "ErrorList", missing.json())
    bad = na.get(SEARCH, _params(na, includedData="EVERYTHING"))
    assert bad.status_code == 400 and bad.json()["errors"][0]["code"] == "InvalidInput"


def test_pagination_returns_every_order_once_in_created_order(na: Api) -> None:
    everything = na.get(SEARCH, _params(na)).json()["orders"]
    paged = _all_pages(na, _params(na, maxResultsPerPage="7"))
    assert [o["orderId"] for o in paged] == [o["orderId"] for o in everything]
    assert len(paged) == len({o["orderId"] for o in paged}) > 7
    created = [o["createdTime"] for o in paged]
    assert created == sorted(created)


def test_pagination_token_must_repeat_the_original_parameters(na: Api) -> None:
    first = na.get(SEARCH, _params(na, maxResultsPerPage="5")).json()
    token = first["pagination"]["nextToken"]
    # maxResultsPerPage and includedData may change ...
    ok = na.get(SEARCH, _params(na, maxResultsPerPage="9", includedData="BUYER", paginationToken=token))
    assert ok.status_code == 200
    # ... but not the filters, and the token alone is not enough
    changed = na.get(SEARCH, _params(na, fulfillmentStatuses="SHIPPED", paginationToken=token))
    assert changed.status_code == 400
    assert "All parameters must match the original request" in changed.json()["errors"][0]["message"]
    alone = na.get(SEARCH, {"paginationToken": token})
    assert alone.status_code == 400


def test_pagination_token_expires_after_24_hours(na: Api) -> None:
    token = na.get(SEARCH, _params(na, maxResultsPerPage="5")).json()["pagination"]["nextToken"]
    na.sandbox.quotas.enabled = False
    na.sandbox.advance(24 * 3600 + 1)
    na.token = na.login()
    response = na.get(SEARCH, _params(na, maxResultsPerPage="5", paginationToken=token))
    assert response.status_code == 400
    assert "expired" in response.json()["errors"][0]["message"]


def test_two_minute_rule_on_before_parameters(na: Api) -> None:
    now = na.admin("GET", "/state").json()["now"]
    too_late = na.get(SEARCH, _params(na, createdBefore=now))
    assert too_late.status_code == 400
    assert "two minutes" in too_late.json()["errors"][0]["details"]
    both = na.get(SEARCH, _params(na, lastUpdatedAfter="2026-02-01T00:00:00Z"))
    assert both.status_code == 400
    neither = na.get(SEARCH, {"marketplaceIds": na.account.marketplace_ids[0]})
    assert neither.status_code == 400


def test_default_upper_bound_is_echoed_two_minutes_before_now(na: Api) -> None:
    body = na.get(SEARCH, {"lastUpdatedAfter": "2026-02-01T00:00:00Z"}).json()
    assert body["lastUpdatedBefore"] == "2026-03-02T11:58:00Z"
    updated = [o["lastUpdatedTime"] for o in body["orders"]]
    assert updated == sorted(updated) and max(updated) <= body["lastUpdatedBefore"]


def test_filters_by_status_fulfilment_and_marketplace(na: Api) -> None:
    us = na.account.marketplace_ids[0]
    body = na.get(
        SEARCH,
        {
            "createdAfter": "2026-02-01T00:00:00Z",
            "marketplaceIds": us,
            "fulfilledBy": "AMAZON",
            "fulfillmentStatuses": "SHIPPED",
            "includedData": "FULFILLMENT",
        },
    ).json()
    assert body["orders"]
    for order in body["orders"]:
        assert order["salesChannel"]["marketplaceId"] == us
        assert order["fulfillment"] == order["fulfillment"] | {
            "fulfilledBy": "AMAZON",
            "fulfillmentStatus": "SHIPPED",
        }


def test_O14_O16_na_prices_are_net_with_marketplace_facilitator_tax(na: Api) -> None:
    order = na.get(SEARCH, _params(na, fulfillmentStatuses="SHIPPED", includedData="PROCEEDS,TAX")).json()[
        "orders"
    ][0]
    item = order["orderItems"][0]
    parts = {b["type"]: Decimal(b["subtotal"]["amount"]) for b in item["proceeds"]["breakdowns"]}
    assert Decimal(item["proceeds"]["proceedsTotal"]["amount"]) == sum(parts.values())
    assert parts["TAX"] > 0
    assert item["tax"]["taxCollections"][0]["model"] == "MARKETPLACE_FACILITATOR"


def test_O15_eu_prices_include_vat(eu: Api) -> None:
    order = eu.get(SEARCH, _params(eu, fulfillmentStatuses="SHIPPED", includedData="PROCEEDS,TAX")).json()[
        "orders"
    ][0]
    item = order["orderItems"][0]
    parts = {b["type"]: Decimal(b["subtotal"]["amount"]) for b in item["proceeds"]["breakdowns"]}
    assert Decimal(item["proceeds"]["proceedsTotal"]["amount"]) == sum(
        v for k, v in parts.items() if k != "TAX"
    )
    assert "tax" not in item or not item["tax"].get("taxCollections")


def test_C2_C6_buyer_emails_are_unique_per_buyer_and_marketplace(na: Api) -> None:
    world = na.sandbox.world
    pairs = [(b.buyer_id, m, e) for b in world.buyers.values() for m, e in b.emails.items()]
    assert len({e for _, _, e in pairs}) == len(pairs)
    assert all(e.endswith("@marketplace.amazon.com") for _, m, e in pairs if m == "US")
