"""The SP-API client against the in-process sandbox: LWA, pagination, quotas, retries, faults, operations."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.api.auth import TokenCache
from orderbridge.amazon.api.calls import CallLog, prune_calls, stored_counts
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.api.layers import Request, RetryPolicy
from orderbridge.amazon.api.quotas import QuotaLimiter
from orderbridge.amazon.api.types import OrdersQuery, PackageDetail, PackageItem
from orderbridge.amazon.errors import (
    AmazonUnavailable,
    AuthFailed,
    BadPayload,
    BadRequest,
    NotFound,
    Throttled,
)
from orderbridge.db import make_engine, session_factory
from orderbridge.simulator import worldfile
from orderbridge.simulator.app import Sandbox, create_app
from orderbridge.simulator.clock import VirtualClock
from orderbridge.simulator.in_process import InProcessTransport
from orderbridge.simulator.quotas import Bucket
from orderbridge.simulator.world import SellerAccount as SandboxSeller
from tests.amazon.conftest import BASE, VirtualTime, sandbox_credentials
from tests.simulator.sandbox_helpers import assert_valid

Make = Callable[..., SpApiClient]
ORDERS_MODEL = "orders_2026-01-01.json"
ALL_ORDERS = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"


def _query(client: SpApiClient, vtime: VirtualTime, **changes: Any) -> OrdersQuery:
    values: dict[str, Any] = {
        "marketplace_ids": client.creds.marketplace_ids,
        "created_after": vtime.now() - timedelta(days=30),
    }
    values.update(changes)
    return OrdersQuery(**values)


def _truth(sandbox: Sandbox, seller: SandboxSeller) -> set[str]:
    return {o.order_id for o in sandbox.world.orders.values() if o.seller_id == seller.seller_id}


def _admin(sandbox_transport: httpx.BaseTransport, method: str, path: str, body: Any = None) -> Any:
    with httpx.Client(transport=sandbox_transport, base_url=BASE) as http:
        response = http.request(method, "/_sandbox" + path, json=body)
        assert response.status_code < 300, response.text
        return response.json() if response.content else None


# -- LWA ------------------------------------------------------------------------------------------


def test_one_lwa_exchange_serves_many_calls(make_client: Make, vtime: VirtualTime) -> None:
    client = make_client()
    client.search_orders(_query(client, vtime))
    client.search_orders(_query(client, vtime))
    counts = client.calls.counts()
    assert counts["lwa.token"].calls == 1
    assert counts["searchOrders"].calls == 2


def test_token_is_refreshed_before_its_hour_is_up(
    make_client: Make, vtime: VirtualTime, sandbox: Sandbox
) -> None:
    client = make_client()
    client.search_orders(_query(client, vtime))
    # when: 3,500 s later the token has less than the 5-minute margin left
    sandbox.advance(3500)
    client.search_orders(_query(client, vtime))
    # then: refreshed up front, so Amazon never saw an expired token
    assert client.calls.counts()["lwa.token"].calls == 2
    assert sandbox.calls.summary()["searchOrders"]["errors"] == 0


def test_a_token_amazon_calls_expired_is_refreshed_once_and_the_call_repeated(
    make_client: Make, vtime: VirtualTime, sandbox: Sandbox, transport: httpx.BaseTransport
) -> None:
    client = make_client()
    client.search_orders(_query(client, vtime))
    _admin(transport, "POST", "/tokens/expire")
    page = client.search_orders(_query(client, vtime))
    assert page.orders
    assert client.calls.counts()["lwa.token"].calls == 2
    assert client.calls.counts()["searchOrders"].errors == 1  # the 403, then the repeat


def test_wrong_client_secret_is_auth_failed_and_not_retried(
    make_client: Make, vtime: VirtualTime, na_seller: SandboxSeller
) -> None:
    client = make_client(creds=sandbox_credentials(na_seller, client_secret="wrong"))
    with pytest.raises(AuthFailed) as caught:
        client.search_orders(_query(client, vtime))
    assert caught.value.operation == "lwa.token" and caught.value.status == 401
    assert "wrong" not in str(caught.value)
    assert client.calls.counts()["lwa.token"].calls == 1
    assert "searchOrders" not in client.calls.counts()


# -- searchOrders -------------------------------------------------------------------------------


def test_search_orders_follows_every_page_and_each_order_matches_the_model(
    make_client: Make, vtime: VirtualTime, sandbox: Sandbox, na_seller: SandboxSeller
) -> None:
    client = make_client()
    pages = list(client.search_orders_pages(_query(client, vtime, max_results_per_page=7)))
    found = [o["orderId"] for page in pages for o in page.orders]
    assert len(pages) > 2
    assert sorted(found) == sorted(_truth(sandbox, na_seller))
    for page in pages:
        assert page.created_before is not None and page.high_water_mark == page.created_before
        for order in page.orders:
            assert_valid(ORDERS_MODEL, "Order", order)
    assert [p.next_token is None for p in pages] == [False] * (len(pages) - 1) + [True]


def test_search_orders_raw_page_is_amazons_shape(make_client: Make, vtime: VirtualTime) -> None:
    client = make_client()
    response = client.call(
        Request("searchOrders", "GET", "/orders/2026-01-01/orders", _query(client, vtime).params())
    )
    assert_valid(ORDERS_MODEL, "SearchOrdersResponse", response.json())


def test_included_data_decides_the_sections(make_client: Make, vtime: VirtualTime) -> None:
    client = make_client()
    bare = client.search_orders(_query(client, vtime, included_data=()))
    full = client.search_orders(_query(client, vtime))
    assert not any("proceeds" in o for o in bare.orders)
    assert any("buyer" in o for o in full.orders)


def test_get_order_returns_the_order_and_unknown_ids_are_not_found(
    make_client: Make, sandbox: Sandbox, na_seller: SandboxSeller
) -> None:
    client = make_client()
    order_id = sorted(_truth(sandbox, na_seller))[0]
    order = client.get_order(order_id)
    assert order["orderId"] == order_id
    assert_valid(ORDERS_MODEL, "Order", order)
    with pytest.raises(NotFound) as caught:
        client.get_order("111-0000000-0000000")
    assert caught.value.status == 404 and caught.value.request_id


def test_an_invalid_query_is_bad_request_and_not_retried(make_client: Make, vtime: VirtualTime) -> None:
    client = make_client()
    query = _query(client, vtime, created_before=vtime.now())  # must be >= 2 minutes before now
    with pytest.raises(BadRequest) as caught:
        client.search_orders(query)
    assert caught.value.code == "InvalidInput"
    assert client.calls.counts()["searchOrders"].calls == 1


# -- quotas, 429 and retries ----------------------------------------------------------------------


def test_the_limiter_spaces_calls_so_amazon_never_throttles(
    make_client: Make, vtime: VirtualTime, sandbox: Sandbox
) -> None:
    client = make_client()
    started = vtime.now()
    for _ in range(23):
        client.search_orders(_query(client, vtime, created_after=started - timedelta(days=30)))
    # then: burst 20, then one call per 1 / 0.0056 s, and not one 429 (issue 5: no unexpected 429)
    assert sandbox.calls.summary()["searchOrders"] == {"calls": 23, "throttled": 0, "errors": 0}
    waited = (vtime.now() - started).total_seconds()
    assert 3 / 0.0056 <= waited < 3 / 0.0056 + 5


def test_a_429_drains_the_bucket_and_the_call_succeeds_after_the_refill(
    make_client: Make, vtime: VirtualTime, sandbox: Sandbox, na_seller: SandboxSeller
) -> None:
    # given: Amazon's bucket is empty although ours is full (another app of the seller spent it)
    client = make_client()
    client.get_order(sorted(_truth(sandbox, na_seller))[0])  # log in first
    sandbox.quotas.buckets[(na_seller.seller_id, "searchOrders")] = Bucket(0.0, sandbox.clock.now())
    started = vtime.now()
    # when
    page = client.search_orders(_query(client, vtime))
    # then: one 429, our bucket drained, the retry waited for Amazon's refill and succeeded
    assert page.orders
    assert client.calls.counts()["searchOrders"].throttled == 1
    assert (vtime.now() - started).total_seconds() >= 1 / 0.0056


def test_throttled_after_every_attempt_raises_throttled(
    make_client: Make, vtime: VirtualTime, sandbox: Sandbox, na_seller: SandboxSeller
) -> None:
    client = make_client(retry=RetryPolicy(attempts=3))
    client.get_order(sorted(_truth(sandbox, na_seller))[0])

    def empty_again(_seconds: float) -> None:
        sandbox.quotas.buckets[(na_seller.seller_id, "searchOrders")] = Bucket(-100.0, sandbox.clock.now())

    vtime.on_sleep = empty_again
    empty_again(0)
    with pytest.raises(Throttled) as caught:
        client.search_orders(_query(client, vtime))
    assert caught.value.status == 429 and caught.value.code == "QuotaExceeded"
    assert client.calls.counts()["searchOrders"].throttled == 3


def test_5xx_is_retried_with_backoff(
    make_client: Make, vtime: VirtualTime, transport: httpx.BaseTransport
) -> None:
    client = make_client()
    _admin(transport, "PUT", "/faults", {"error_503_rate": 1.0, "operations": ["searchOrders"]})
    vtime.on_sleep = lambda _s: _admin(transport, "PUT", "/faults", {})  # Amazon recovers while we wait
    page = client.search_orders(_query(client, vtime))
    assert page.orders
    assert client.calls.counts()["searchOrders"].errors == 1
    assert len(vtime.slept) == 1 and 0 <= vtime.slept[0] <= 1.0  # jittered, first step up to `base`


def test_5xx_on_every_attempt_is_amazon_unavailable(
    make_client: Make, vtime: VirtualTime, transport: httpx.BaseTransport
) -> None:
    client = make_client(retry=RetryPolicy(attempts=4, base=2.0))
    _admin(transport, "PUT", "/faults", {"error_500_rate": 1.0, "operations": ["searchOrders"]})
    with pytest.raises(AmazonUnavailable) as caught:
        client.search_orders(_query(client, vtime))
    assert caught.value.status == 500
    assert client.calls.counts()["searchOrders"].calls == 4
    assert len(vtime.slept) == 3 and all(0 <= s <= 16 for s in vtime.slept)


def test_a_dropped_connection_is_retried(
    make_client: Make, vtime: VirtualTime, transport: httpx.BaseTransport
) -> None:
    client = make_client()
    _admin(transport, "PUT", "/faults", {"reset_rate": 1.0, "operations": ["searchOrders"]})
    vtime.on_sleep = lambda _s: _admin(transport, "PUT", "/faults", {})
    page = client.search_orders(_query(client, vtime))
    assert page.orders
    first = client.calls.counts()["searchOrders"]
    assert first.calls == 2 and first.errors == 1  # status 0: no response


def test_retry_after_is_respected(quota_sessions: sessionmaker[Session], na_seller: SandboxSeller) -> None:
    answers = [
        httpx.Response(
            503, headers={"Retry-After": "7"}, json={"errors": [{"code": "X", "message": "busy"}]}
        ),
        httpx.Response(200, json={"reportId": "R1"}),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/o2/token":
            return httpx.Response(200, json={"access_token": "Atza|t", "expires_in": 3600})
        return answers.pop(0)

    now = datetime(2026, 3, 2, tzinfo=UTC)
    slept: list[float] = []
    client = SpApiClient(
        sandbox_credentials(na_seller),
        quotas=QuotaLimiter(quota_sessions, clock=lambda: now),
        clock=lambda: now,
        sleep=slept.append,
        transport=httpx.MockTransport(handler),
    )
    assert client.create_report(ALL_ORDERS, ["ATVPDKIKX0DER"]) == "R1"
    assert slept == [7.0]


def test_a_response_without_the_models_required_fields_is_bad_payload(
    quota_sessions: sessionmaker[Session], na_seller: SandboxSeller
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/o2/token":
            return httpx.Response(200, json={"access_token": "Atza|t", "expires_in": 3600})
        return httpx.Response(200, json={"reportId": "R1", "reportType": ALL_ORDERS})  # no status, no time

    now = datetime(2026, 3, 2, tzinfo=UTC)
    client = SpApiClient(
        sandbox_credentials(na_seller),
        quotas=QuotaLimiter(quota_sessions, clock=lambda: now),
        clock=lambda: now,
        sleep=lambda _s: None,
        transport=httpx.MockTransport(handler),
    )
    with pytest.raises(BadPayload, match=r"getReport.*processingStatus"):
        client.get_report("R1")


# -- the call log ---------------------------------------------------------------------------------


def test_every_call_is_logged_and_stored_without_pii(
    make_client: Make,
    vtime: VirtualTime,
    quota_sessions: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = make_client(calls=CallLog(quota_sessions))
    with caplog.at_level(logging.INFO, logger="orderbridge.amazon"):
        page = client.search_orders(_query(client, vtime))
    names = {o["buyer"]["buyerName"] for o in page.orders if o.get("buyer", {}).get("buyerName")}
    emails = {o["buyer"]["buyerEmail"] for o in page.orders if o.get("buyer", {}).get("buyerEmail")}
    assert names and emails
    text = caplog.text
    assert "searchOrders" in text and "status=200" in text
    assert not any(value in text for value in names | emails)
    assert client.creds.refresh_token not in text and client.creds.client_secret not in text
    with quota_sessions() as session:
        assert stored_counts(session) == {}  # batched: nothing written per call
    assert client.calls.flush() == 2
    with quota_sessions() as session:
        stored = stored_counts(session)
    assert {op: c.calls for op, c in stored.items()} == {"lwa.token": 1, "searchOrders": 1}
    with quota_sessions.begin() as session:
        assert prune_calls(session, before=vtime.now() + timedelta(seconds=1)) == 2
        assert stored_counts(session) == {}


# -- shipments, reports, inbound, listings and feeds -------------------------------------------------


def test_O23_confirm_shipment_ships_the_order(
    make_client: Make, sandbox: Sandbox, na_seller: SandboxSeller
) -> None:
    order = next(
        o
        for o in sandbox.world.orders.values()
        if o.seller_id == na_seller.seller_id and o.status == "UNSHIPPED" and o.fulfilled_by == "MERCHANT"
    )
    items = [PackageItem(i["orderItemId"], i["quantityOrdered"]) for i in order.doc["orderItems"]]
    package = PackageDetail("1", "UPS", "1Z999", datetime.fromtimestamp(sandbox.clock.now(), UTC), items)
    make_client().confirm_shipment(order.order_id, order.marketplace_id, package)
    assert sandbox.world.orders[order.order_id].status == "SHIPPED"


def test_report_is_requested_polled_and_downloaded(
    make_client: Make, vtime: VirtualTime, sandbox: Sandbox
) -> None:
    client = make_client()
    report_id = client.create_report(ALL_ORDERS, ["ATVPDKIKX0DER"], start=vtime.now() - timedelta(days=5))
    assert client.get_report(report_id).processing_status == "IN_QUEUE"
    sandbox.advance(61)
    raw = client.call(Request("getReport", "GET", f"/reports/2021-06-30/reports/{report_id}")).json()
    assert_valid("reports_2021-06-30.json", "Report", raw)
    report = client.get_report(report_id)
    assert report.finished and report.processing_status == "DONE" and report.report_document_id
    listed = client.get_reports([ALL_ORDERS], statuses=["DONE"])
    assert report_id in {r.report_id for r in listed.reports}
    document = client.download_report(report.report_document_id)
    assert document.text().splitlines()[0].startswith("amazon-order-id\t")


def test_inbound_shipments_and_their_items(
    make_client: Make, transport: httpx.BaseTransport, sandbox: Sandbox, na_seller: SandboxSeller
) -> None:
    sku = next(
        listing.sku
        for (seller, _), listing in sandbox.world.listings.items()
        if seller == na_seller.seller_id and listing.fulfilled_by == "AMAZON"
    )
    body = {
        "sellerId": na_seller.seller_id,
        "shipmentId": "FBA1CLIENT01",
        "items": [{"sku": sku, "quantityShipped": 4}],
    }
    _admin(transport, "POST", "/inbound", body)
    client = make_client()
    market = na_seller.marketplace_ids[0]
    page = client.get_shipments(market, params={"QueryType": "SHIPMENT", "ShipmentIdList": "FBA1CLIENT01"})
    assert [row["ShipmentId"] for row in page.rows] == ["FBA1CLIENT01"]
    items = client.get_shipment_items("FBA1CLIENT01", market)
    assert [(i["SellerSKU"], i["QuantityShipped"]) for i in items] == [(sku, 4)]


def test_patch_listings_item_sets_fbm_quantity(
    make_client: Make, sandbox: Sandbox, na_seller: SandboxSeller
) -> None:
    listing = next(
        item
        for (seller, _), item in sandbox.world.listings.items()
        if seller == na_seller.seller_id and item.fulfilled_by == "MERCHANT"
    )
    patch = {
        "op": "replace",
        "path": "/attributes/fulfillment_availability",
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 17}],
    }
    result = make_client().patch_listings_item(listing.sku, ["ATVPDKIKX0DER"], "PRODUCT", [patch])
    assert result.status == "ACCEPTED" and not result.issues
    assert listing.quantity == 17


def test_feed_is_uploaded_created_and_its_result_read(make_client: Make, sandbox: Sandbox) -> None:
    client = make_client()
    link = client.create_feed_document("application/json; charset=UTF-8")
    client.upload_feed_document(link, b'{"header": {}, "messages": []}', "application/json; charset=UTF-8")
    feed_id = client.create_feed("JSON_LISTINGS_FEED", ["ATVPDKIKX0DER"], link.document_id)
    sandbox.advance(61)
    feed = client.get_feed(feed_id)
    assert feed.processing_status == "DONE" and feed.result_feed_document_id
    result = client.get_feed_document(feed.result_feed_document_id)
    assert b'"summary"' in client.download(result.url).data


def test_a_dynamic_usage_plan_is_learned_from_the_rate_header(
    make_client: Make, vtime: VirtualTime, sandbox: Sandbox, transport: httpx.BaseTransport
) -> None:
    # given: Amazon grants this seller 0.05 searchOrders a second instead of 0.0056 (SPAPI.md §3.3)
    _admin(transport, "PUT", "/quotas", {"plans": {"searchOrders": [0.05, 20]}})
    client = make_client()
    started = vtime.now()
    # when: the burst and two more
    for _ in range(22):
        client.search_orders(_query(client, vtime, created_after=started - timedelta(days=30)))
    # then: the limiter waited 1 / 0.05 s per call, not 1 / 0.0056 s, and met no 429
    waited = (vtime.now() - started).total_seconds()
    assert 2 / 0.05 <= waited < 2 / 0.05 + 1
    assert sandbox.calls.summary()["searchOrders"]["throttled"] == 0
    assert client.quotas.state(client.creds.selling_partner_id, "NA", "searchOrders").rate == 0.05


def test_throttling_amazon_does_anyway_never_stops_the_work(
    make_client: Make, transport: httpx.BaseTransport, sandbox: Sandbox, na_seller: SandboxSeller
) -> None:
    # given: "no application can completely avoid being throttled": 30 % of calls get a 429 regardless
    _admin(transport, "PUT", "/faults", {"throttle_rate": 0.3, "seed": 3, "operations": ["getOrder"]})
    client = make_client(retry=RetryPolicy(attempts=8))
    order_ids = sorted(_truth(sandbox, na_seller))[:20]
    # when
    orders = [client.get_order(order_id) for order_id in order_ids]
    # then: every order arrived; the 429s were absorbed by drain, wait and retry
    assert [o["orderId"] for o in orders] == order_ids
    assert sandbox.calls.summary()["getOrder"]["throttled"] == client.calls.counts()["getOrder"].throttled > 0


def test_two_clients_on_one_store_share_the_bucket(
    make_client: Make, vtime: VirtualTime, sandbox: Sandbox, fresh_store_url: str
) -> None:
    # given: two clients of one seller with their own engines on the same store (two runners)
    engines = [make_engine(fresh_store_url), make_engine(fresh_store_url)]
    first, second = (make_client(quotas=QuotaLimiter(session_factory(e), clock=vtime.now)) for e in engines)
    started = vtime.now()
    # when: they take turns, 24 searchOrders calls in all
    for client in [first, second] * 12:
        client.search_orders(_query(client, vtime, created_after=started - timedelta(days=30)))
    for engine in engines:
        engine.dispose()
    # then: together they kept within Amazon's one bucket
    assert sandbox.calls.summary()["searchOrders"] == {"calls": 24, "throttled": 0, "errors": 0}


def test_orders_updated_since_pages_every_change_and_marks_the_high_water(
    make_client: Make, vtime: VirtualTime, sandbox: Sandbox, na_seller: SandboxSeller
) -> None:
    client = make_client()
    pages = list(client.orders_updated_since(vtime.now() - timedelta(days=30)))
    assert sorted(o["orderId"] for p in pages for o in p.orders) == sorted(_truth(sandbox, na_seller))
    # Amazon's upper bound when none is given: two minutes before the request
    assert pages[0].high_water_mark == vtime.now() - timedelta(minutes=2)
    assert all(p.last_updated_before == pages[0].last_updated_before for p in pages)


def test_wait_for_report_polls_on_the_injected_clock(make_client: Make, vtime: VirtualTime) -> None:
    client = make_client()
    report_id = client.create_report(ALL_ORDERS, ["ATVPDKIKX0DER"], start=vtime.now() - timedelta(days=5))
    report = client.wait_for_report(report_id, poll=20.0)
    assert report.processing_status == "DONE"
    assert vtime.slept == [20.0, 20.0, 20.0]  # the sandbox takes 30 s in the queue and 30 s to build it


MODELS = {
    "searchOrders": ("orders_2026-01-01.json", "SearchOrdersResponse"),
    "getOrder": ("orders_2026-01-01.json", "GetOrderResponse"),
    "createRestrictedDataToken": ("tokens_2021-03-01.json", "CreateRestrictedDataTokenResponse"),
    "createReport": ("reports_2021-06-30.json", "CreateReportResponse"),
    "getReport": ("reports_2021-06-30.json", "Report"),
    "getReports": ("reports_2021-06-30.json", "GetReportsResponse"),
    "getReportDocument": ("reports_2021-06-30.json", "ReportDocument"),
    "createFeedDocument": ("feeds_2021-06-30.json", "CreateFeedDocumentResponse"),
    "createFeed": ("feeds_2021-06-30.json", "CreateFeedResponse"),
    "getFeed": ("feeds_2021-06-30.json", "Feed"),
    "getFeedDocument": ("feeds_2021-06-30.json", "FeedDocument"),
    "getShipments": ("fulfillmentInboundV0.json", "GetShipmentsResponse"),
    "getShipmentItemsByShipmentId": ("fulfillmentInboundV0.json", "GetShipmentItemsResponse"),
}


class Recording(httpx.BaseTransport):
    """Keeps every SP-API answer with its operation, to check them against Amazon's models afterwards."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.answers: list[tuple[str, int, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        operation = str(request.extensions.get("operation", ""))
        if operation in MODELS and response.content:
            self.answers.append(
                (operation, response.status_code, httpx.Response(200, content=response.content).json())
            )
        return response


def test_every_answer_the_client_parses_is_amazons_model_strictly(
    make_client: Make,
    transport: httpx.BaseTransport,
    vtime: VirtualTime,
    sandbox: Sandbox,
    na_seller: SandboxSeller,
) -> None:
    # given: a client whose every answer is kept
    recording = Recording(transport)
    client = make_client(transport=recording)
    market = na_seller.marketplace_ids[0]
    sku = next(
        item.sku
        for (seller, _), item in sandbox.world.listings.items()
        if seller == na_seller.seller_id and item.fulfilled_by == "AMAZON"
    )
    _admin(
        transport,
        "POST",
        "/inbound",
        {
            "sellerId": na_seller.seller_id,
            "shipmentId": "FBA1MODEL01",
            "items": [{"sku": sku, "quantityShipped": 2}],
        },
    )
    # when: every operation once (and an error)
    list(client.search_orders_pages(_query(client, vtime, max_results_per_page=20)))
    client.get_order(sorted(_truth(sandbox, na_seller))[0])
    with pytest.raises(NotFound):
        client.get_order("111-0000000-0000000")
    client.create_restricted_data_token(
        [{"method": "GET", "path": "/orders/v0/orders", "dataElements": ["buyerInfo"]}]
    )
    report = client.wait_for_report(
        client.create_report(ALL_ORDERS, [market], start=vtime.now() - timedelta(days=5))
    )
    client.get_reports([ALL_ORDERS])
    assert report.report_document_id
    client.download_report(report.report_document_id)
    link = client.create_feed_document("application/json")
    client.upload_feed_document(link, b'{"messages": []}', "application/json")
    feed_id = client.create_feed("JSON_LISTINGS_FEED", [market], link.document_id)
    sandbox.advance(61)
    client.get_feed_document(link.document_id)
    client.get_feed(feed_id)
    client.get_shipments(market, params={"QueryType": "SHIPMENT", "ShipmentStatusList": "WORKING,SHIPPED"})
    client.get_shipment_items("FBA1MODEL01", market)
    # then: every body validates strictly (no field Amazon's model does not define)
    seen = set()
    for operation, status, body in recording.answers:
        model, definition = MODELS[operation]
        assert_valid(model, definition if status < 400 else "ErrorList", body)
        seen.add(operation)
    assert seen == set(MODELS)


def test_a_403_that_says_expired_without_the_error_type_also_refreshes(
    quota_sessions: sessionmaker[Session], na_seller: SandboxSeller
) -> None:
    issued: list[str] = []
    expired = {
        "errors": [
            {
                "code": "Unauthorized",
                "message": "Access to requested resource is denied.",
                "details": "The access token you provided has expired.",
            }
        ]
    }

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/auth/o2/token":
            issued.append(f"Atza|{len(issued)}")
            return httpx.Response(200, json={"access_token": issued[-1], "expires_in": 3600})
        if request.headers["x-amz-access-token"] == "Atza|0":
            return httpx.Response(403, json=expired)
        return httpx.Response(202, json={"reportId": "R2"})

    now = datetime(2026, 3, 2, tzinfo=UTC)
    client = SpApiClient(
        sandbox_credentials(na_seller),
        quotas=QuotaLimiter(quota_sessions, clock=lambda: now),
        clock=lambda: now,
        sleep=lambda _s: None,
        transport=httpx.MockTransport(handler),
    )
    assert client.create_report(ALL_ORDERS, ["ATVPDKIKX0DER"]) == "R2"
    assert issued == ["Atza|0", "Atza|1"]


def test_a_shared_token_cache_heals_after_the_sandbox_restarts(
    make_client: Make, vtime: VirtualTime, world_data: dict[str, Any]
) -> None:
    # given: clients of one account sharing a token cache (one per pass, as the scheduler makes them)
    tokens = TokenCache()
    first = make_client(tokens=tokens)
    first.search_orders(_query(first, vtime))
    # when: the sandbox restarts and forgets every token it issued
    restarted = Sandbox(
        worldfile.load(copy.deepcopy(world_data)), clock=VirtualClock(vtime.sandbox.clock.now())
    )
    client = make_client(tokens=tokens, transport=InProcessTransport(create_app(restarted)))
    page = client.search_orders(_query(client, vtime))
    # then: the cached token's 403 led to one refresh, not to a failed sync
    assert page.orders
    assert client.calls.counts()["lwa.token"].calls == 1
    assert client.calls.counts()["searchOrders"].errors == 1


def test_R1_settlement_reports_are_found_over_every_getreports_page(
    make_client: Make, sandbox: Sandbox, na_seller: SandboxSeller
) -> None:
    settlement = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
    # a period without money has no settlement: settle daily, so the three days of sales give several
    sandbox.world.settlement_days = 1
    sandbox.advance(86400)
    truth = {
        r.report_id
        for r in sandbox.reports.reports.values()
        if r.seller_id == na_seller.seller_id and r.report_type == settlement
    }
    pages = list(make_client().reports_pages([settlement], statuses=["DONE"], page_size=3))
    assert len(truth) > 3 and len(pages) > 1
    assert sorted(r.report_id for p in pages for r in p.reports) == sorted(truth)


def test_inbound_shipments_over_every_page(
    make_client: Make, transport: httpx.BaseTransport, sandbox: Sandbox, na_seller: SandboxSeller
) -> None:
    sku = next(
        listing.sku
        for (seller, _), listing in sandbox.world.listings.items()
        if seller == na_seller.seller_id and listing.fulfilled_by == "AMAZON"
    )
    ids = [f"FBA1PAGE{n:04d}" for n in range(53)]
    for shipment_id in ids:
        _admin(
            transport,
            "POST",
            "/inbound",
            {
                "sellerId": na_seller.seller_id,
                "shipmentId": shipment_id,
                "items": [{"sku": sku, "quantityShipped": 1}],
            },
        )
    pages = list(
        make_client().shipments_pages(
            na_seller.marketplace_ids[0], params={"QueryType": "SHIPMENT", "ShipmentStatusList": "WORKING"}
        )
    )
    # then: both pages read (the sandbox's NEXT_TOKEN pages offset into the unfiltered list, so they may
    # repeat or add shipments outside the filter; Amazon's token keeps the query)
    assert len(pages) == 2
    assert set(ids) <= {row["ShipmentId"] for p in pages for row in p.rows}
