"""A real Amazon client against the sandbox on a real port: python-amazon-sp-api fetches orders, reports and
inbound shipments (SPAPI.md §13: endpoint override, process-global token cache, https Host header)."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sp_api.api import FulfillmentInbound, Orders, Reports
from sp_api.auth import AccessTokenClient, access_token_client
from sp_api.base import Marketplaces

from orderbridge.simulator import worldfile
from orderbridge.simulator.app import Sandbox
from orderbridge.simulator.cli import self_signed_certificate
from orderbridge.simulator.clock import VirtualClock
from orderbridge.simulator.serving import ServedSandbox
from tests.simulator.sandbox_helpers import small_world


def _token_client(live: ServedSandbox) -> type[AccessTokenClient]:
    class SandboxTokenClient(AccessTokenClient):
        scheme = f"{live.scheme}://"
        host = f"127.0.0.1:{live.port}"

    return SandboxTokenClient


@pytest.fixture
def live_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sandbox]:
    monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)
    access_token_client.cache.clear()  # the library caches tokens process-wide by refresh token
    world = worldfile.load(worldfile.dump(small_world()))
    yield Sandbox(world, clock=VirtualClock(world.now))
    access_token_client.cache.clear()


def _credentials(sandbox: Sandbox) -> dict[str, str]:
    account = next(a for a in sandbox.world.accounts.values() if a.region == "NA")
    return {
        "refresh_token": account.refresh_token,
        "lwa_app_id": account.client_id,
        "lwa_client_secret": account.client_secret,
    }


def test_python_amazon_sp_api_reads_orders_reports_and_inbound_over_http(live_sandbox: Sandbox) -> None:
    sandbox = live_sandbox
    with ServedSandbox(sandbox) as live:
        options = {"credentials": _credentials(sandbox), "auth_token_client_class": _token_client(live)}
        # orders, every page, with pagination tokens that repeat the original parameters
        orders = Orders(Marketplaces.US, version="2026-01-01", **options)
        orders.endpoint = live.url
        query = {
            "createdAfter": "2026-02-01T00:00:00Z",
            "marketplaceIds": ["ATVPDKIKX0DER"],
            "maxResultsPerPage": 10,
            "includedData": ["BUYER", "PROCEEDS", "FULFILLMENT"],
        }
        seen: list[str] = []
        response = orders.search_orders(**query)
        while True:
            seen += [o["orderId"] for o in response.payload["orders"]]
            if not response.next_token:
                break
            response = orders.search_orders(**query, paginationToken=response.next_token)
        assert response.rate_limit == "0.0056"
        expected = [o.order_id for o in sandbox.world.orders.values() if o.marketplace_id == "ATVPDKIKX0DER"]
        assert sorted(seen) == sorted(expected)
        assert orders.get_order(seen[0], includedData=["BUYER"]).payload["order"]["orderId"] == seen[0]
        # a report, through the library's own download and gunzip
        reports = Reports(Marketplaces.US, **options)
        reports.endpoint = live.url
        report_id = reports.create_report(
            reportType="GET_LEDGER_DETAIL_VIEW_DATA",
            marketplaceIds=["ATVPDKIKX0DER"],
            dataStartTime="2026-01-01T00:00:00Z",
        ).payload["reportId"]
        sandbox.advance(61)
        report = reports.get_report(report_id).payload
        assert report["processingStatus"] == "DONE"
        document = reports.get_report_document(report["reportDocumentId"], download=True).payload["document"]
        assert document.startswith("Date\tFNSKU\tASIN\tMSKU\tTitle\tEvent Type")
        # inbound shipments and their items
        inbound = FulfillmentInbound(Marketplaces.US, version="v0", **options)
        inbound.endpoint = live.url
        shipments = inbound.get_shipments(
            QueryType="SHIPMENT",
            MarketplaceId="ATVPDKIKX0DER",
            ShipmentStatusList=["WORKING", "RECEIVING", "CLOSED"],
        ).payload
        shipment_id = shipments["ShipmentData"][0]["ShipmentId"]
        items = inbound.shipment_items_by_shipment(shipment_id).payload["ItemData"]
        assert items and all(i["ShipmentId"] == shipment_id for i in items)
        for client in (orders, reports, inbound):
            client.close()


def test_https_with_the_generated_certificate(live_sandbox: Sandbox, tmp_path: Path) -> None:
    sandbox = live_sandbox
    certificate = self_signed_certificate(tmp_path)
    with ServedSandbox(sandbox, certificate=certificate) as live:
        context = ssl.create_default_context(cafile=str(certificate[0]))
        assert httpx.get(f"{live.url}/_sandbox/state", verify=context).json()["orders"] > 0
        options = {
            "credentials": _credentials(sandbox),
            "auth_token_client_class": _token_client(live),
            "verify": context,
        }
        orders = Orders(Marketplaces.US, version="2026-01-01", **options)
        orders.endpoint = live.url  # over https the library's Host header is right
        response = orders.search_orders(createdAfter="2026-02-01T00:00:00Z", marketplaceIds=["ATVPDKIKX0DER"])
        assert response.payload["orders"]
        orders.close()


def test_connection_reset_fault_drops_the_tcp_connection(live_sandbox: Sandbox) -> None:
    sandbox = live_sandbox
    account = next(iter(sandbox.world.accounts.values()))
    with ServedSandbox(sandbox) as live, httpx.Client(base_url=live.url) as client:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": account.refresh_token,
            "client_id": account.client_id,
            "client_secret": account.client_secret,
        }
        token = client.post("/auth/o2/token", data=form).json()["access_token"]
        client.put("/_sandbox/faults", json={"reset_rate": 1.0})
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(
                "/orders/2026-01-01/orders",
                params={"createdAfter": "2026-02-01T00:00:00Z"},
                headers={"x-amz-access-token": token},
            )
