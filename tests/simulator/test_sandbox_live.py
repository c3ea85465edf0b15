"""A sandbox that lives: new orders along its clock, settlements for what it ships, a world that resumes."""

from __future__ import annotations

from decimal import Decimal

from orderbridge.simulator import trickle, worldfile
from orderbridge.simulator.app import Sandbox
from orderbridge.simulator.clock import VirtualClock
from orderbridge.simulator.generator import DEFAULT_MIX
from orderbridge.simulator.report_headers import SETTLEMENT
from orderbridge.simulator.world import Trickle, World
from tests.simulator.sandbox_helpers import small_world

HOUR = 3600.0


def live_world(per_day: float = 240) -> World:
    world = small_world(seed=5, live=True)
    world.settlement_days = 1
    trickle.start(world, Trickle(per_day, dict(DEFAULT_MIX), seed=5))
    return world


def placements(world: World, after: float) -> list[tuple[float, str, tuple[str, ...]]]:
    """Who sold what when, for the orders created after `after` (ids aside: they come from the world's
    own random source)."""
    return sorted(
        (o.created_ts, o.seller_id, tuple(i["product"]["sellerSku"] for i in o.doc["orderItems"]))
        for o in world.orders.values()
        if o.created_ts > after
    )


def test_orders_keep_arriving_over_virtual_hours() -> None:
    # given: a generated history with a trickle of about 10 orders an hour
    world = live_world(per_day=240)
    sandbox = Sandbox(world, clock=VirtualClock(world.now))
    start = world.now
    # when: the clock runs twelve hours, an hour at a time
    per_hour = []
    for _ in range(12):
        before = len(world.orders)
        sandbox.advance(HOUR)
        per_hour.append(len(world.orders) - before)
    # then: orders kept coming all along, at about the rate asked for, and they move on as orders do
    assert all(sum(per_hour[i : i + 3]) > 0 for i in range(0, 12, 3)), per_hour
    assert 60 <= sum(per_hour) <= 200, per_hour
    new = [o for o in world.orders.values() if o.created_ts > start]
    assert {o.status for o in new} >= {"UNSHIPPED", "SHIPPED"}
    assert all(start < o.created_ts <= world.now for o in new)


def test_a_world_saved_and_loaded_carries_on_the_same_stream_of_orders() -> None:
    # given: one world run 12 hours straight, and the same world saved after 5 hours and loaded again
    straight = live_world()
    start = straight.now
    stopped = live_world()
    straight.catch_up(start + 12 * HOUR)
    stopped.catch_up(start + 5 * HOUR)
    resumed = worldfile.load(worldfile.dump(stopped), seed=5)
    # when: the loaded world runs the remaining 7 hours
    assert resumed.now == stopped.now and resumed.trickle is not None
    resumed.catch_up(start + 12 * HOUR)
    # then: it placed the same orders as the world that never stopped
    assert placements(resumed, start) == placements(straight, start)
    assert len(placements(resumed, start + 5 * HOUR)) > 10


def _settlements(sandbox: Sandbox) -> dict[str, tuple[str, list[list[str]]]]:
    """Report id -> (settlement id, rows) of every settlement the sandbox published."""
    out = {}
    for report in sandbox.reports.reports.values():
        if report.report_type == SETTLEMENT:
            text = sandbox.reports.documents[report.document_id].content.decode()
            rows = [line.split("\t") for line in text.splitlines()[1:]]
            out[report.report_id] = (rows[0][0], rows)
    return out


def test_r1_settlements_carry_the_lines_of_what_shipped_and_keep_their_ids_after_a_restart() -> None:
    # given: a live world settling daily
    world = live_world()
    sandbox = Sandbox(world, clock=VirtualClock(world.now))
    # when: two more days pass
    sandbox.advance(2 * 24 * HOUR)
    published = _settlements(sandbox)
    # then: every settlement has lines, they add up to its total, and they are the shipped orders' money
    assert published
    shipped = {o.order_id for o in world.orders.values() if o.status in ("SHIPPED", "PARTIALLY_SHIPPED")}
    settled_orders: set[str] = set()
    for _, rows in published.values():
        total = Decimal(rows[0][4].replace(",", "."))
        lines = rows[1:]
        assert lines, "a settlement without lines"
        assert sum((Decimal(r[14].replace(",", ".")) for r in lines), Decimal(0)) == total
        settled_orders |= {r[7] for r in lines if r[6] == "Order"}
    assert len(settled_orders) > 20 and settled_orders <= shipped
    # when: the world is saved and served again (a restarted demo)
    again = Sandbox(worldfile.load(worldfile.dump(world), seed=5), clock=VirtualClock(world.now))
    # then: the same settlements are listed under the same report and settlement ids
    republished = _settlements(again)
    assert {k: v[0] for k, v in republished.items()} == {k: v[0] for k, v in published.items()}
