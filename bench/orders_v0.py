"""The v0 baseline of bench/orders.py, written the way python-amazon-sp-api's documentation shows.

getOrders pages (`load_all_pages`), then per order getOrderItems, getOrderBuyerInfo and getOrderAddress,
each wrapped in the library's `throttle_retry()` decorator (5 s x 1.3 backoff on 429). The library makes
its own httpx client, so the sandbox is served on a real port; its `time.sleep` is pointed at the
sandbox's virtual clock so that waits cost no wall time. Per SPAPI.md §13, `@throttle_retry()` stacked
above `@load_all_pages()` (as its docs stack them) retries nothing, so the page function carries it
inside. PII would additionally need a createRestrictedDataToken call per order (1/s); not counted.
"""

from __future__ import annotations

import importlib
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from orderbridge.simulator.app import Sandbox
from orderbridge.simulator.serving import ServedSandbox
from orderbridge.simulator.world import SellerAccount

BASELINE_ORDERS = 500


@contextmanager
def served(sandbox: Sandbox) -> Iterator[str]:
    """The sandbox on a free port of 127.0.0.1 (uvicorn in a daemon thread)."""
    with ServedSandbox(sandbox) as running:
        yield running.url


def _clients(sandbox: Sandbox, url: str, seller: SellerAccount) -> Any:
    from sp_api.api import Orders
    from sp_api.auth import AccessTokenClient
    from sp_api.base import Marketplaces

    host = url.removeprefix("http://")

    class SandboxToken(AccessTokenClient):  # type: ignore[misc]
        scheme = "http://"

    SandboxToken.host = host
    credentials = {
        "refresh_token": seller.refresh_token,
        "lwa_app_id": seller.client_id,
        "lwa_client_secret": seller.client_secret,
    }
    client = Orders(Marketplaces.US, credentials=credentials, auth_token_client_class=SandboxToken)
    client.endpoint = url
    return client


def run_baseline(
    sandbox: Sandbox, url: str, seller: SellerAccount, *, limit: int = BASELINE_ORDERS
) -> dict[str, Any]:
    """Fetch up to `limit` complete orders (order, items, buyer info, address); Amazon time and calls."""
    from sp_api.util import load_all_pages, throttle_retry

    class VirtualTime:
        @staticmethod
        def sleep(seconds: float) -> None:
            sandbox.advance(seconds)

    # sp_api.util re-exports functions named like its modules, so the modules are taken from sys.modules.
    for name in ("sp_api.util.retry", "sp_api.util.load_all_pages"):
        sys.modules[name].time = VirtualTime  # type: ignore[attr-defined]
    # Its module-global LWA token cache expires on the wall clock (SPAPI.md §13); here Amazon's clock
    # is the sandbox's, so the cache is given that clock, as the wall clock would be in production.
    from cachetools import TTLCache

    tokens = importlib.import_module("sp_api.auth.access_token_client")
    tokens.cache = TTLCache(maxsize=10, ttl=3200, timer=sandbox.clock.now)  # type: ignore[attr-defined]
    orders_api = _clients(sandbox, url, seller)

    @load_all_pages()
    @throttle_retry()
    def load_all_orders(**kwargs: Any) -> Any:
        return orders_api.get_orders(**kwargs)

    @throttle_retry()
    def items(order_id: str) -> Any:
        return orders_api.get_order_items(order_id)

    @throttle_retry()
    def buyer(order_id: str) -> Any:
        return orders_api.get_order_buyer_info(order_id)

    @throttle_retry()
    def address(order_id: str) -> Any:
        return orders_api.get_order_address(order_id)

    def all_orders() -> Iterator[dict[str, Any]]:
        after = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(sandbox.clock.now() - 11 * 86400))
        for page in load_all_orders(LastUpdatedAfter=after, MarketplaceIds=list(seller.marketplace_ids)):
            yield from page.payload.get("Orders", [])

    sandbox.calls.clear()
    start, wall, done = sandbox.clock.now(), time.perf_counter(), 0
    for order in all_orders():
        order_id = order["AmazonOrderId"]
        items(order_id)
        buyer(order_id)
        address(order_id)
        done += 1
        if done >= limit:
            break
    calls = sandbox.calls.summary()
    return {
        "orders": done,
        "seconds": sandbox.clock.now() - start,
        "calls": sum(c["calls"] for c in calls.values()),
        "throttled": sum(c["throttled"] for c in calls.values()),
        "wall": time.perf_counter() - wall,
    }
