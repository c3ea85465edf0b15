"""The dispatcher: one task per due account, never two for one account, most overdue first, bounded passes."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from orderbridge.amazon.orders.sync import SyncOptions
from orderbridge.db import make_engine, session_factory
from orderbridge.jobs import dispatch
from orderbridge.jobs.tasks import Endpoint, Runtime
from orderbridge.simulator import worldfile
from tests.e2e.sync_world import SyncWorld, make_sandbox, open_world
from tests.simulator.sandbox_helpers import small_world

_WORLD = worldfile.dump(small_world(seed=5, orders_per_day=40))


@pytest.fixture
def world(fresh_store_url: str, tmp_path: Path) -> Iterator[SyncWorld]:
    engine = make_engine(fresh_store_url)
    yield open_world(session_factory(engine), make_sandbox(copy.deepcopy(_WORLD)), tmp_path)
    engine.dispose()


def _runtime(world: SyncWorld) -> Runtime:
    runtime = Runtime(world.sessions, world.keys)
    runtime.endpoints["http://sandbox.local"] = Endpoint(
        clock=world.vtime.now, sleep=world.vtime.sleep, speed=0
    )
    return runtime


def test_one_task_per_due_account_and_none_while_it_is_queued(
    world: SyncWorld, redis_client: redis.Redis, prefix: str
) -> None:
    runtime, sent = _runtime(world), []

    def tick() -> list[tuple[str, int]]:
        sent.clear()
        dispatch.dispatch(
            runtime, redis_client, lambda kind, account: sent.append((kind, account)), prefix=prefix
        )
        return sorted(sent)

    accounts = sorted(world.accounts.values())
    assert tick() == [("orders", a) for a in accounts]  # the completeness check waits its first hour
    assert tick() == []  # queued or running: not again
    now = world.vtime.now().timestamp()
    for account in accounts:
        dispatch.finished(redis_client, "orders", account, next_due=now + 179, prefix=prefix)
    assert tick() == []  # not due before the searchOrders refill
    world.sandbox.advance(179)
    assert tick() == [("orders", a) for a in accounts]
    world.sandbox.advance(3600)
    assert tick() == [("completeness", a) for a in accounts]


def test_two_beats_ticking_at_once_queue_each_account_once(
    world: SyncWorld, redis_client: redis.Redis, prefix: str
) -> None:
    runtime, sent, lock = _runtime(world), [], threading.Lock()

    def send(kind: str, account: int) -> None:
        with lock:
            sent.append((kind, account))

    beats = [
        threading.Thread(
            target=dispatch.dispatch, args=(runtime, redis_client, send), kwargs={"prefix": prefix}
        )
        for _ in range(4)
    ]
    for beat in beats:
        beat.start()
    for beat in beats:
        beat.join(timeout=60)
    assert sorted(sent) == sorted(("orders", a) for a in world.accounts.values())


def test_most_overdue_account_is_queued_first(
    world: SyncWorld, redis_client: redis.Redis, prefix: str
) -> None:
    runtime, sent = _runtime(world), []
    first, second = sorted(world.accounts.values())
    now = world.vtime.now().timestamp()
    redis_client.set(dispatch.due_key("orders", first, prefix), now - 10)
    redis_client.set(dispatch.due_key("orders", second, prefix), now - 500)
    dispatch.dispatch(runtime, redis_client, lambda kind, account: sent.append(account), prefix=prefix)
    assert sent == [second, first]


def test_next_pass_is_due_at_once_with_pages_left_after_the_quota_wait_or_after_a_refill(
    world: SyncWorld,
) -> None:
    runtime, account = _runtime(world), min(world.accounts.values())
    result: dict[str, Any] = {"more": True, "wait": 0.0}
    assert dispatch.next_orders_due(runtime, account, result, 1000.0) == 1000.0
    assert dispatch.next_orders_due(runtime, account, {"more": True, "wait": 90.0}, 1000.0) == 1090.0
    assert dispatch.next_orders_due(runtime, account, {"more": False}, 1000.0) == 1179.0


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_bounded_pass_stops_at_its_page_budget_and_the_next_resumes_the_search(world: SyncWorld) -> None:
    seller = world.seller("NA").seller_id
    world.options = SyncOptions(page_size=5, max_pages=2, backfill=False, pending_watch=0)
    first = world.sync(seller)
    assert (first.pages, first.more, first.resumed) == (2, True, False)
    second = world.sync(seller)
    assert second.resumed and second.pages >= 1
    assert world.vtime.slept == []  # the burst covered every page: nobody waited


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_bounded_pass_yields_instead_of_sleeping_through_a_long_quota_wait(world: SyncWorld) -> None:
    seller = world.seller("NA")
    account = world.accounts[seller.seller_id]
    world.options = SyncOptions(page_size=5, backfill=False, pending_watch=0, patience=60.0)
    with world.sessions() as session:
        from orderbridge.amazon.accounts import SellerAccount

        found = session.get(SellerAccount, account)
        assert found is not None
        partner, region = found.selling_partner_id, found.region
    world.client(found).quotas.drain(partner, region, "searchOrders")
    report = world.sync(seller.seller_id)
    assert (report.pages, report.more) == (0, True)
    assert report.wait > 60.0 and world.vtime.slept == []
    world.sandbox.advance(timedelta(seconds=report.wait).total_seconds())
    assert world.sync(seller.seller_id).pages >= 1
