"""RabbitMQ as Celery's broker (Redis still keeps the quota buckets and the dispatcher's markers): real
workers show the same guarantees as on Redis.

With CI=true a RabbitMQ that cannot be reached fails this test instead of skipping it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import amqp
import kombu
import pytest
import redis

from orderbridge.jobs.celery_app import QUEUES
from tests.scale.cluster import (
    Cluster,
    assert_books_each_order_once,
    assert_no_account_held_twice,
    cluster_on,
    scale_world,
)

AMQP_URL = os.environ.get("ORDERBRIDGE_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")


def _purge(connection: kombu.Connection) -> None:
    """Empty the orderbridge queues of the vhost: a task an earlier, killed run left must not run here."""
    for name in QUEUES:
        channel = connection.channel()
        try:
            channel.queue_purge(name)
        except amqp.exceptions.NotFound:
            pass  # never declared on this vhost yet
        finally:
            if channel.is_open:
                channel.close()


@pytest.fixture
def amqp_url() -> str:
    try:
        with kombu.Connection(AMQP_URL, connect_timeout=3) as connection:
            connection.ensure_connection(max_retries=1)
            _purge(connection)
    except (OSError, kombu.exceptions.OperationalError, amqp.exceptions.AMQPError) as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"RabbitMQ at {AMQP_URL} is required with CI=true: {error}")
        pytest.skip(f"RabbitMQ is not reachable at {AMQP_URL} (set CI=true to make this a failure)")
    return AMQP_URL


@pytest.fixture
def cluster(
    fresh_store_url: str, tmp_path: Path, redis_url: str, prefix: str, amqp_url: str
) -> Iterator[Cluster]:
    with cluster_on(
        fresh_store_url,
        tmp_path,
        redis_url=redis_url,
        prefix=prefix,
        broker_url=amqp_url,
        sandbox=scale_world(sellers_per_region=2, orders_per_day=35),
    ) as made:
        yield made


@pytest.mark.parametrize("fresh_store_url", ["postgresql"], indirect=True)
def test_workers_on_rabbitmq_never_share_an_account_exceed_a_quota_or_book_twice(
    cluster: Cluster, amqp_url: str, redis_client: redis.Redis, prefix: str
) -> None:
    # given: three workers and a beat with RabbitMQ as the broker; pages of one order, so each account
    # needs more searchOrders calls than its burst
    for _ in range(3):
        cluster.start_worker(OB_TEST_PAGE_SIZE="1")
    cluster.start_beat()
    started = cluster.sandbox_now()
    # when: the beat dispatches until every account has caught up
    cluster.wait(lambda: cluster.caught_up(since=started), "every account to catch up", timeout=240)
    # then: the tasks went through RabbitMQ (its queue exists; Redis holds no Celery queue of ours)
    with kombu.Connection(amqp_url) as connection:
        connection.default_channel.queue_declare("orders", passive=True)
    assert not list(redis_client.scan_iter(match=f"{prefix}:celery:*"))
    # and: no account was synced by two workers at once, though accounts moved between them
    assert_no_account_held_twice(cluster)
    # and: Amazon (the sandbox) throttled nothing, though the searchOrders bursts were spent
    assert cluster.throttled() == 0
    assert cluster.world.sandbox.calls.stats["searchOrders"].calls > 20 * len(cluster.world.accounts)
    # and: every order is booked, and booked once
    assert assert_books_each_order_once(cluster.world) > 0
