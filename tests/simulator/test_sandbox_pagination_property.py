"""Property: whatever the page sizes and page faults, paging searchOrders loses no order (SPAPI.md §5)."""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderbridge.simulator import worldfile
from orderbridge.simulator.app import Sandbox, create_app
from orderbridge.simulator.clock import VirtualClock
from tests.simulator.sandbox_helpers import Api, in_process_client

SEARCH = "/orders/2026-01-01/orders"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=100), min_size=1, max_size=8),
    duplicate=st.sampled_from([0.0, 0.5, 1.0]),
    reorder=st.sampled_from([0.0, 0.5, 1.0]),
    seed=st.integers(min_value=0, max_value=1000),
)
def test_paging_with_any_sizes_and_page_faults_returns_every_order(
    base_world_json: str, sizes: list[int], duplicate: float, reorder: float, seed: int
) -> None:
    world = worldfile.load(json.loads(base_world_json))
    sandbox = Sandbox(world, clock=VirtualClock(world.now))
    sandbox.quotas.enabled = False
    with in_process_client(create_app(sandbox)) as client:
        api = Api(client, sandbox, next(a for a in world.accounts.values() if a.region == "NA"))
        api.admin(
            "PUT", "/faults", {"duplicate_page_rate": duplicate, "reorder_page_rate": reorder, "seed": seed}
        )
        query = {"createdAfter": "2026-01-01T00:00:00Z"}
        mine, cutoff = api.account.seller_id, world.now - 120  # the two-minute rule's default upper bound
        expected = {
            o.order_id for o in world.orders.values() if o.seller_id == mine and o.created_ts <= cutoff
        }
        seen: list[str] = []
        token, n = None, 0
        while True:
            page = {**query, "maxResultsPerPage": str(sizes[n % len(sizes)])}
            body = api.get(SEARCH, {**page, "paginationToken": token} if token else page).json()
            seen += [o["orderId"] for o in body["orders"]]
            token, n = body.get("pagination", {}).get("nextToken"), n + 1
            if not token:
                break
        assert set(seen) == expected
        if duplicate == 0.0:
            assert len(seen) == len(expected)
