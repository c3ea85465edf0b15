"""The shared quota buckets in Redis: Amazon's plans, atomic across processes, learning and draining."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta

import redis

from orderbridge.amazon.api.quota_redis import RedisQuotaLimiter, all_buckets
from orderbridge.amazon.api.quotas import PLANS

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SELLER, REGION = "A1SELLER0000X", "NA"


class FrozenClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def _spend(url: str, prefix: str, tries: int, out: multiprocessing.Queue[int]) -> None:
    limiter = RedisQuotaLimiter(redis.Redis.from_url(url), clock=lambda: START, prefix=prefix)
    out.put(sum(1 for _ in range(tries) if limiter.acquire(SELLER, REGION, "getOrder") == 0.0))


def test_bucket_starts_full_at_amazons_burst_then_refills_at_the_plan_rate(
    redis_client: redis.Redis, prefix: str
) -> None:
    clock = FrozenClock()
    limiter = RedisQuotaLimiter(redis_client, clock=clock, prefix=prefix)
    burst = PLANS["searchOrders"].burst
    assert [limiter.acquire(SELLER, REGION, "searchOrders") for _ in range(burst)] == [0.0] * burst
    wait = limiter.acquire(SELLER, REGION, "searchOrders")
    assert 1 / PLANS["searchOrders"].rate <= wait < 1 / PLANS["searchOrders"].rate + 1
    clock.advance(wait)
    assert limiter.acquire(SELLER, REGION, "searchOrders") == 0.0


def test_processes_sharing_a_bucket_take_exactly_its_burst(redis_url: str, prefix: str) -> None:
    # four processes, 20 tries each, on a frozen clock: getOrder's burst of 30 is granted once in all
    out: multiprocessing.Queue[int] = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_spend, args=(redis_url, prefix, 20, out)) for _ in range(4)]
    for worker in workers:
        worker.start()
    granted = sum(out.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(timeout=60)
    assert granted == PLANS["getOrder"].burst


def test_learned_rate_and_429_drain_are_seen_by_every_limiter(redis_client: redis.Redis, prefix: str) -> None:
    clock = FrozenClock()
    first = RedisQuotaLimiter(redis_client, clock=clock, prefix=prefix)
    second = RedisQuotaLimiter(redis_client, clock=clock, prefix=prefix)
    first.learn(SELLER, REGION, "searchOrders", "0.5")  # x-amzn-RateLimit-Limit of a bigger plan
    assert second.state(SELLER, REGION, "searchOrders").rate == 0.5
    second.drain(SELLER, REGION, "searchOrders")  # Amazon said 429
    assert first.acquire(SELLER, REGION, "searchOrders") > 0
    clock.advance(2.0)
    assert first.acquire(SELLER, REGION, "searchOrders") == 0.0
    stored = all_buckets(redis_client, prefix=prefix)[(SELLER, REGION, "searchOrders")]
    assert (stored.rate, stored.burst) == (0.5, PLANS["searchOrders"].burst)


def test_unreadable_rate_header_is_ignored_and_unknown_operation_named(
    redis_client: redis.Redis, prefix: str
) -> None:
    limiter = RedisQuotaLimiter(redis_client, clock=FrozenClock(), prefix=prefix)
    limiter.learn(SELLER, REGION, "getOrder", "fast")
    assert limiter.state(SELLER, REGION, "getOrder").rate == PLANS["getOrder"].rate
    try:
        limiter.acquire(SELLER, REGION, "noSuchOperation")
    except ValueError as error:
        assert "noSuchOperation" in str(error)
    else:
        raise AssertionError("an operation without a plan must be refused")
