"""O23: a sender SIGKILLed after Amazon accepted a confirmation, before its commit, sends nothing twice."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from orderbridge.book.orders.shipping import ship_order
from orderbridge.db import make_engine, session_factory
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage
from orderbridge.simulator import worldfile
from tests.e2e.outbound_world import OutboundWorld, open_outbound, shippable_orders
from tests.e2e.sync_world import make_sandbox, served
from tests.simulator.sandbox_helpers import small_world

CHILD = Path(__file__).with_name("outbox_child.py")
_WORLD = worldfile.dump(small_world(seed=11, orders_per_day=30))


@pytest.fixture
def live(fresh_store_url: str, tmp_path: Path) -> Iterator[tuple[OutboundWorld, str, str]]:
    sandbox = make_sandbox(copy.deepcopy(_WORLD))
    engine = make_engine(fresh_store_url)
    with served(sandbox) as url:
        yield open_outbound(session_factory(engine), sandbox, tmp_path, base=url), url, fresh_store_url
    engine.dispose()


def _kill_when_paused(args: list[str]) -> str:
    child = subprocess.Popen(
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("PAUSED"):
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
            return line
    child.wait(timeout=30)
    raise AssertionError(f"the sender ended without pausing: {child.stderr.read() if child.stderr else ''}")


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_o23_sender_killed_mid_batch_confirms_every_shipment_exactly_once(
    live: tuple[OutboundWorld, str, str], tmp_path: Path
) -> None:
    outbound, url, store_url = live
    # given: eight orders shipped in the book
    now = outbound.world.vtime.now()
    tracking: dict[str, str] = {}
    with outbound.sessions.begin() as session:
        for number, order in enumerate(list(shippable_orders(session, outbound.sandbox, limit=8))):
            ship_order(session, order, reference="S1", now=now, tracking_number=f"K{number}", carrier="UPS")
            tracking[order.external_ref] = f"K{number}"
    assert len(tracking) == 8
    # when: the sender is killed right after Amazon accepted the third confirmation, before its commit
    assert _kill_when_paused([store_url, str(tmp_path), url, "3"]).startswith("PAUSED")
    with outbound.sessions() as session:
        statuses = [
            m.status
            for m in session.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == MessageKind.ORDER_SHIPPED)
            )
        ]
    assert statuses.count(MessageStatus.SENDING) == 1 and statuses.count(MessageStatus.SENT) == 2
    outbound.world.vtime.sleep(11 * 60)  # the dead sender's lease runs out
    reports = outbound.drain()
    # then: the in-flight one is found at Amazon instead of sent again; every order confirmed once
    assert reports[0].verified == 1 and reports[0].confirmed == 5
    assert outbound.sandbox.calls.stats["confirmShipment"].calls == 8
    for amazon_order_id, number in tracking.items():
        order = outbound.sandbox.world.orders[amazon_order_id]
        packages = order.doc["packages"]
        assert [p["trackingNumber"] for p in packages] == [number]
        assert all(item["quantity"] > 0 for item in packages[0]["packageItems"])
        assert order.status == "SHIPPED"
