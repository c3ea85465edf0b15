"""Real Celery workers (separate processes) on PostgreSQL and Redis against a served sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scale.cluster import (
    Cluster,
    assert_books_each_order_once,
    assert_no_account_held_twice,
    cluster_on,
    scale_world,
)


@pytest.fixture
def cluster(fresh_store_url: str, tmp_path: Path, redis_url: str, prefix: str) -> Iterator[Cluster]:
    with cluster_on(
        fresh_store_url,
        tmp_path,
        redis_url=redis_url,
        prefix=prefix,
        sandbox=scale_world(sellers_per_region=2, orders_per_day=35),
    ) as made:
        yield made


@pytest.mark.parametrize("fresh_store_url", ["postgresql"], indirect=True)
def test_three_workers_never_share_an_account_and_never_exceed_a_quota(cluster: Cluster) -> None:
    # given: four sellers, pages of one order, so each account needs more searchOrders calls than its burst
    for _ in range(3):
        cluster.start_worker(OB_TEST_PAGE_SIZE="1")
    cluster.start_beat()
    started = cluster.sandbox_now()
    # when: the beat dispatches until every account has caught up
    cluster.wait(lambda: cluster.caught_up(since=started), "every account to catch up", timeout=240)
    # then: no account's lease was ever held by two workers at once, though accounts moved between them
    assert_no_account_held_twice(cluster)
    # and: Amazon (the sandbox) throttled nothing, though the searchOrders bursts were spent
    assert cluster.throttled() == 0
    assert cluster.world.sandbox.calls.stats["searchOrders"].calls > 20 * len(cluster.world.accounts)
    assert assert_books_each_order_once(cluster.world) > 0


@pytest.mark.parametrize("fresh_store_url", ["postgresql"], indirect=True)
def test_worker_killed_mid_page_loses_nothing_and_another_resumes_from_the_cursor(cluster: Cluster) -> None:
    # given: a worker that stops inside the transaction storing its 7th order version (3rd page of 3)
    doomed = cluster.start_worker(OB_TEST_PAGE_SIZE="3", OB_TEST_PAUSE_AT_STORED="7")
    cluster.start_beat()
    cluster.wait(lambda: bool(cluster.records("paused")), "the worker to pause mid-page")
    # when: it is SIGKILLed there, holding an account's lease; another worker starts
    cluster.kill(doomed)
    cluster.start_worker(OB_TEST_PAGE_SIZE="3")
    # the dead worker's lease runs out (20 real seconds at the sandbox's speed): move the clock past it
    cluster.world.sandbox.advance(21 * 600)
    started = cluster.sandbox_now()
    cluster.wait(lambda: cluster.caught_up(since=started), "every account to catch up", timeout=240)
    # then: the killed account was resumed from its cursor mid-search, and every order is booked once
    passes = cluster.records("passes")
    assert any(entry["resumed"] for entry in passes)
    assert cluster.throttled() == 0
    assert assert_books_each_order_once(cluster.world) > 0
