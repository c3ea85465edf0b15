"""Faults on demand: 5xx, latency, resets, duplicated / reordered pages, expired tokens, late orders."""

from __future__ import annotations

import pytest

from orderbridge.simulator.faults import ConnectionResetFault
from tests.simulator.sandbox_helpers import Api, assert_valid

SEARCH = "/orders/2026-01-01/orders"


def _params(api: Api, **extra: str) -> dict[str, str]:
    return {"createdAfter": "2026-02-01T00:00:00Z", "marketplaceIds": api.account.marketplace_ids[0], **extra}


def _ids(api: Api, size: str) -> list[str]:
    ids: list[str] = []
    token = None
    while True:
        extra = {"maxResultsPerPage": size, **({"paginationToken": token} if token else {})}
        body = api.get(SEARCH, _params(api, **extra)).json()
        ids += [o["orderId"] for o in body["orders"]]
        token = body.get("pagination", {}).get("nextToken")
        if not token:
            return ids


@pytest.mark.parametrize(
    ("setting", "status", "code"),
    [("error_500_rate", 500, "InternalFailure"), ("error_503_rate", 503, "ServiceUnavailable")],
)
def test_server_errors_on_demand_have_amazons_envelope(na: Api, setting: str, status: int, code: str) -> None:
    na.admin("PUT", "/faults", {setting: 1.0, "operations": ["searchOrders"]})
    response = na.get(SEARCH, _params(na))
    assert response.status_code == status
    assert_valid("orders_2026-01-01.json", "ErrorList", response.json())
    assert response.json()["errors"][0]["code"] == code
    order_id = next(iter(na.sandbox.world.orders))
    assert na.get(f"{SEARCH}/{order_id}").status_code in (200, 404)  # other operations unaffected
    na.admin("PUT", "/faults", {})
    assert na.get(SEARCH, _params(na)).status_code == 200
    assert na.admin("GET", "/calls").json()["operations"]["searchOrders"]["errors"] == 1


def test_error_rate_is_a_seeded_share(na: Api) -> None:
    na.sandbox.quotas.enabled = False
    na.admin("PUT", "/faults", {"error_503_rate": 0.3, "seed": 1})
    statuses = [na.get(SEARCH, _params(na)).status_code for _ in range(200)]
    assert 40 <= statuses.count(503) <= 80


def test_latency_is_added_through_the_injected_sleep(na: Api) -> None:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    na.sandbox.sleep = fake_sleep
    na.admin("PUT", "/faults", {"latency_seconds": 0.75})
    assert na.get(SEARCH, _params(na)).status_code == 200
    assert slept == [0.75]


def test_connection_reset_drops_the_response(na: Api) -> None:
    na.admin("PUT", "/faults", {"reset_rate": 1.0})
    with pytest.raises(ConnectionResetFault):
        na.get(SEARCH, _params(na))
    assert na.admin("GET", "/calls").json()["operations"]["searchOrders"]["errors"] == 1


def test_duplicated_pages_repeat_orders_but_lose_none(na: Api) -> None:
    clean = _ids(na, "4")
    na.sandbox.quotas.reset()
    na.admin("PUT", "/faults", {"duplicate_page_rate": 1.0})
    faulty = _ids(na, "4")
    assert len(faulty) > len(clean)
    assert set(faulty) == set(clean)


def test_reordered_pages_arrive_out_of_order_but_complete(na: Api) -> None:
    clean = _ids(na, "3")
    na.sandbox.quotas.reset()
    na.admin("PUT", "/faults", {"reorder_page_rate": 1.0})
    faulty = _ids(na, "3")
    assert faulty != clean
    assert sorted(faulty) == sorted(clean)


def test_expired_pagination_tokens_on_demand(na: Api) -> None:
    token = na.get(SEARCH, _params(na, maxResultsPerPage="2")).json()["pagination"]["nextToken"]
    na.admin("PUT", "/faults", {"expired_token_rate": 1.0})
    response = na.get(SEARCH, _params(na, maxResultsPerPage="2", paginationToken=token))
    assert response.status_code == 400
    assert "expired" in response.json()["errors"][0]["message"]


def test_late_arriving_order_shows_up_with_an_old_last_updated_time(na: Api) -> None:
    # given: orders become visible 10 minutes after they happened
    na.admin("PUT", "/faults", {"late_order_rate": 1.0, "late_order_delay_seconds": 600})
    sku = next(i.sku for (s, _), i in na.sandbox.world.listings.items() if s == na.account.seller_id)
    order_id = na.admin(
        "POST", "/orders", {"sellerId": na.account.seller_id, "items": [{"sku": sku}]}
    ).json()["orderId"]
    created = na.sandbox.world.orders[order_id].doc["createdTime"]
    na.sandbox.advance(300)
    # when: a poller asks for everything updated since just before the order
    query = {"lastUpdatedAfter": created, "marketplaceIds": "ATVPDKIKX0DER"}
    first = na.get(SEARCH, query).json()
    assert order_id not in [o["orderId"] for o in first["orders"]]
    assert na.get(f"{SEARCH}/{order_id}").status_code == 404
    na.sandbox.advance(400)
    # then: it appears later, with a lastUpdatedTime before the previous watermark
    later = na.get(SEARCH, query).json()
    found = next(o for o in later["orders"] if o["orderId"] == order_id)
    assert found["lastUpdatedTime"] < first["lastUpdatedBefore"]


def test_unknown_fault_setting_is_rejected(na: Api) -> None:
    response = na.client.put("/_sandbox/faults", json={"error_rate": 1})
    assert response.status_code == 400


def test_throttling_on_demand_even_with_tokens_left(na: Api) -> None:
    na.admin("PUT", "/faults", {"throttle_rate": 1.0, "operations": ["getOrder"]})
    order_id = next(
        o.order_id for o in na.sandbox.world.orders.values() if o.seller_id == na.account.seller_id
    )
    response = na.get(f"{SEARCH}/{order_id}")
    assert response.status_code == 429
    assert response.json()["errors"][0]["code"] == "QuotaExceeded"
    assert na.admin("GET", "/calls").json()["operations"]["getOrder"]["throttled"] == 1
