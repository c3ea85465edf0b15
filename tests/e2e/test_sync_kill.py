"""SIGKILL the sync process mid-page and mid-booking; the reruns book every order exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from orderbridge.amazon.orders.cursors import SyncCursor
from orderbridge.amazon.orders.inbox import InboxItem, InboxStatus
from orderbridge.book.inventory import StockLevel
from orderbridge.book.orders.model import OrderRow, SalesOrder
from orderbridge.db import make_engine, session_factory
from orderbridge.simulator import worldfile
from tests.e2e.sync_world import SyncWorld, assert_book_matches, make_sandbox, open_world, served
from tests.simulator.sandbox_helpers import small_world

CHILD = Path(__file__).with_name("sync_child.py")
_WORLD = worldfile.dump(small_world(seed=5, orders_per_day=40))


@pytest.fixture
def live(fresh_store_url: str, tmp_path: Path) -> Iterator[tuple[SyncWorld, str, str]]:
    sandbox = make_sandbox(_WORLD)
    engine = make_engine(fresh_store_url)
    with served(sandbox) as url:
        yield open_world(session_factory(engine), sandbox, tmp_path, base=url), url, fresh_store_url
    engine.dispose()


def run_child(args: list[str], *, kill_on_pause: bool) -> str:
    """Run a sync process; with `kill_on_pause`, SIGKILL it as soon as it says it paused."""
    child = subprocess.Popen(
        [sys.executable, str(CHILD), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    for line in child.stdout:
        if line.startswith("PAUSED") and kill_on_pause:
            os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
            return line
        if line.startswith("REPORT"):
            child.wait(timeout=30)
            return line
    child.wait(timeout=30)
    raise AssertionError(
        f"the sync process ended without a report: {child.stderr.read() if child.stderr else ''}"
    )


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_sigkill_mid_page_and_mid_booking_then_rerun_books_every_order_once(
    live: tuple[SyncWorld, str, str], tmp_path: Path
) -> None:
    world, url, store_url = live
    seller = world.seller("NA")
    args = [store_url, str(tmp_path), url, str(world.accounts[seller.seller_id])]
    # when: killed inside the transaction of the third page (pages of 10), then inside a booking batch
    assert run_child([*args, "stored", "25"], kill_on_pause=True).startswith("PAUSED stored")
    with world.sessions() as session:
        stored = session.scalar(select(func.count()).select_from(InboxItem))
        cursor = session.scalars(select(SyncCursor)).one()
        assert (stored, cursor.position, cursor.next_token is not None) == (20, None, True)
    world.sandbox.advance(11 * 60)  # the dead runner's lease expires
    assert run_child([*args, "booked", "15"], kill_on_pause=True).startswith("PAUSED booked")
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SalesOrder)) == 0
    world.sandbox.advance(11 * 60)
    report = json.loads(run_child([*args, "none", "0"], kill_on_pause=False).removeprefix("REPORT "))
    # then: every order Amazon shows is booked exactly once, with its stock allocated once
    assert report["quarantined"] == 0
    assert assert_book_matches(world, seller.seller_id) > 20
    with world.sessions() as session:
        refs = session.execute(select(SalesOrder.channel_id, SalesOrder.external_ref)).all()
        assert len(refs) == len(set(refs))
        keys = session.execute(select(InboxItem.natural_id, InboxItem.version_time)).all()
        assert len(keys) == len(set(keys))
        left = session.scalar(
            select(func.count()).select_from(InboxItem).where(InboxItem.status == InboxStatus.RECEIVED)
        )
        assert left == 0
        allocated_rows = session.scalar(select(func.coalesce(func.sum(OrderRow.allocated), 0)))
        allocated_levels = session.scalar(select(func.coalesce(func.sum(StockLevel.allocated), 0)))
        assert allocated_rows == allocated_levels
