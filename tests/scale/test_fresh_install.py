"""A brand-new installation: several workers start their first passes at once on an empty book."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.orders.model import OrderStatus
from orderbridge.book.orders.statuses import DEFAULT_STATUSES
from tests.scale.cluster import Cluster, cluster_on, scale_world


@pytest.fixture
def cluster(fresh_store_url: str, tmp_path: Path, redis_url: str, prefix: str) -> Iterator[Cluster]:
    with cluster_on(
        fresh_store_url,
        tmp_path,
        redis_url=redis_url,
        prefix=prefix,
        sandbox=scale_world(sellers_per_region=3, orders_per_day=20),
        prepare_book=False,
    ) as made:
        yield made


@pytest.mark.parametrize("fresh_store_url", ["postgresql"], indirect=True)
def test_workers_starting_together_on_a_new_book_lose_no_pass_to_first_use_rows(cluster: Cluster) -> None:
    # given: a book holding the accounts and nothing else (no statuses, no channels), and four workers
    # ready for tasks before the beat's first tick hands each an account at the same moment
    workers = 4
    for _ in range(workers):
        cluster.start_worker()
    cluster.wait(lambda: len(cluster.records("ready")) == workers, "the workers to be ready")
    started = cluster.sandbox_now()
    cluster.start_beat()
    # when: every account has caught up
    cluster.wait(lambda: cluster.caught_up(since=started), "every account to catch up", timeout=240)
    # then: no pass failed (a duplicate status or channel would have failed the loser's whole pass)
    logs = cluster.full_logs()
    assert "IntegrityError" not in logs
    assert "raised unexpected" not in logs
    passes = cluster.records("passes")
    assert len({entry["worker"] for entry in passes}) >= 2  # first passes did run side by side
    # and: each default status and one Amazon channel per marketplace exist once
    with cluster.world.sessions() as session:
        names = list(session.scalars(select(OrderStatus.name)))
        assert sorted(names) == sorted(name for name, _ in DEFAULT_STATUSES)
        channels = session.execute(
            select(Channel.marketplace_id, func.count())
            .where(Channel.kind == ChannelKind.AMAZON)
            .group_by(Channel.marketplace_id)
        ).all()
    markets = {m for seller in cluster.world.sandbox.world.accounts.values() for m in seller.marketplace_ids}
    assert dict(channels) == dict.fromkeys(markets, 1)
