"""LWA token exchange, 403 on missing / expired tokens, and usage-plan quotas (burst then rate)."""

from __future__ import annotations

from tests.simulator.sandbox_helpers import Api, assert_valid

SEARCH = "/orders/2026-01-01/orders"


def _search_params(api: Api) -> dict[str, str]:
    return {"createdAfter": "2026-02-01T00:00:00Z", "marketplaceIds": api.account.marketplace_ids[0]}


def test_lwa_refresh_token_grant_returns_bearer_token_for_an_hour(na: Api) -> None:
    response = na.client.post(
        "/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": na.account.refresh_token,
            "client_id": na.account.client_id,
            "client_secret": na.account.client_secret,
        },
    )
    body = response.json()
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert body["access_token"].startswith("Atza|")


def test_lwa_rejects_wrong_client_secret_with_invalid_client(na: Api) -> None:
    response = na.client.post(
        "/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": na.account.refresh_token,
            "client_id": na.account.client_id,
            "client_secret": "wrong",
        },
    )
    assert response.status_code == 401
    assert response.json() == {"error_description": "Client authentication failed", "error": "invalid_client"}


def test_lwa_rejects_unknown_refresh_token_with_invalid_grant(na: Api) -> None:
    response = na.client.post(
        "/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "Atzr|nope",
            "client_id": na.account.client_id,
            "client_secret": na.account.client_secret,
        },
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_missing_token_gets_amazons_403(na: Api) -> None:
    response = na.client.get(SEARCH, params=_search_params(na))
    assert response.status_code == 403
    assert_valid("orders_2026-01-01.json", "ErrorList", response.json())
    error = response.json()["errors"][0]
    assert error["code"] == "Unauthorized"
    assert error["details"] == "Access token is missing in the request header."
    assert "x-amzn-RequestId" in response.headers


def test_access_token_expires_after_3600_virtual_seconds(na: Api) -> None:
    na.auto_login = False
    assert na.get(SEARCH, _search_params(na)).status_code == 200
    na.sandbox.advance(3601)
    response = na.get(SEARCH, _search_params(na))
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"] == "ExpiredTokenException"
    na.token = na.login()
    assert na.get(SEARCH, _search_params(na)).status_code == 200


def test_admin_can_expire_every_token(na: Api) -> None:
    na.auto_login = False
    na.admin("POST", "/tokens/expire")
    assert na.get(SEARCH, _search_params(na)).status_code == 403


def test_search_orders_quota_is_burst_20_then_one_per_180_seconds(na: Api) -> None:
    # given: Amazon's default plan for searchOrders, 0.0056 rps / burst 20 (SPAPI.md §3.3)
    statuses = [na.get(SEARCH, _search_params(na)).status_code for _ in range(21)]
    assert statuses[:20] == [200] * 20
    assert statuses[20] == 429
    # when: 1 / 0.0056 s later one token is back, but only one
    na.sandbox.advance(1 / 0.0056 + 0.1)
    assert na.get(SEARCH, _search_params(na)).status_code == 200
    assert na.get(SEARCH, _search_params(na)).status_code == 429
    # then: the call log counts calls and 429s per operation
    stats = na.admin("GET", "/calls").json()["operations"]["searchOrders"]
    assert stats == {"calls": 23, "throttled": 2, "errors": 0}


def test_429_has_amazons_body_and_headers_without_rate_limit(na: Api) -> None:
    for _ in range(20):
        ok = na.get(SEARCH, _search_params(na))
    assert ok.headers["x-amzn-RateLimit-Limit"] == "0.0056"
    throttled = na.get(SEARCH, _search_params(na))
    assert throttled.status_code == 429
    quota = "You exceeded your quota for the requested resource."
    assert throttled.json() == {"errors": [{"code": "QuotaExceeded", "message": quota}]}
    assert_valid("orders_2026-01-01.json", "ErrorList", throttled.json())
    assert throttled.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert "x-amzn-RateLimit-Limit" not in throttled.headers
    assert "x-amzn-RequestId" in throttled.headers


def test_buckets_are_per_seller_and_per_operation(na: Api, eu: Api) -> None:
    for _ in range(20):
        na.get(SEARCH, _search_params(na))
    assert na.get(SEARCH, _search_params(na)).status_code == 429
    assert eu.get(SEARCH, _search_params(eu)).status_code == 200
    order_id = next(
        o.order_id for o in na.sandbox.world.orders.values() if o.seller_id == na.account.seller_id
    )
    response = na.get(f"{SEARCH}/{order_id}")
    assert response.status_code == 200
    assert response.headers["x-amzn-RateLimit-Limit"] == "0.5"


def test_quotas_follow_the_virtual_clock_speed(na: Api) -> None:
    for _ in range(20):
        na.get(SEARCH, _search_params(na))
    assert na.get(SEARCH, _search_params(na)).status_code == 429
    na.sandbox.advance(10 * 180)  # ten tokens' worth of virtual time
    statuses = [na.get(SEARCH, _search_params(na)).status_code for _ in range(11)]
    assert statuses.count(200) == 10


def test_admin_can_grant_a_bigger_usage_plan(na: Api) -> None:
    na.admin("PUT", "/quotas", {"plans": {"searchOrders": [1, 50]}})
    statuses = [na.get(SEARCH, _search_params(na)).status_code for _ in range(51)]
    assert statuses.count(200) == 50 and statuses[-1] == 429
    assert na.get(SEARCH, _search_params(na)).status_code == 429
    na.sandbox.advance(1)
    ok = na.get(SEARCH, _search_params(na))
    assert ok.status_code == 200 and ok.headers["x-amzn-RateLimit-Limit"] == "1"


def test_tokens_of_a_replaced_world_are_refused(na: Api) -> None:
    na.auto_login = False
    na.admin(
        "POST", "/world", {"generate": {"seed": 99, "ordersPerDay": 2, "days": 1, "marketplaces": ["IT"]}}
    )
    response = na.get(SEARCH, _search_params(na))
    assert response.status_code == 403
