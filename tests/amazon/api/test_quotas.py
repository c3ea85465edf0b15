"""The quota limiter: Amazon's default plans, a bucket in the store shared by every engine and process."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.api.quotas import PLANS, QuotaLimiter, parse_rate, refill
from orderbridge.db import make_engine, session_factory
from tests.conftest import STORES

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SELLER, REGION = "A1SELLER0000X", "NA"


class FrozenClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def two_engines(fresh_store_url: str) -> Iterator[list[Engine]]:
    """Two two_engines (two connection pools, as two processes would have) on one fresh store."""
    made = [make_engine(fresh_store_url), make_engine(fresh_store_url)]
    yield made
    for engine in made:
        engine.dispose()


def _sessions(engine: Engine) -> sessionmaker[Session]:
    return session_factory(engine)


def test_every_operation_orderbridge_calls_has_amazons_default_plan() -> None:
    # SPAPI.md §3.3 (models' x-amzn-api-sandbox usage plans)
    expected = {
        "searchOrders": (0.0056, 20),
        "getOrder": (0.5, 30),
        "confirmShipment": (2.0, 10),
        "createReport": (0.0167, 15),
        "getReport": (2.0, 15),
        "getReports": (0.0222, 10),
        "getReportDocument": (0.0167, 15),
        "getShipments": (2.0, 30),
        "getShipmentItemsByShipmentId": (2.0, 30),
        "patchListingsItem": (5.0, 10),
        "createFeed": (0.0083, 15),
        "createFeedDocument": (0.5, 15),
        "getFeed": (2.0, 15),
        "createRestrictedDataToken": (1.0, 10),
        "getOrders": (0.0167, 20),
        "v0.getOrder": (0.5, 30),
        "getOrderItems": (0.5, 30),
        "getOrderBuyerInfo": (0.5, 30),
        "getOrderAddress": (0.5, 30),
    }
    assert {op: (PLANS[op].rate, PLANS[op].burst) for op in expected} == expected


def test_refill_is_capped_at_the_burst_and_ignores_a_clock_that_went_back() -> None:
    assert refill(0.0, 0.5, 30, 10.0) == 5.0
    assert refill(29.0, 0.5, 30, 10.0) == 30.0
    assert refill(3.0, 0.5, 30, -10.0) == 3.0


def test_rate_header_is_read_or_ignored() -> None:
    assert parse_rate("0.0056") == 0.0056
    assert parse_rate(None) is None
    assert parse_rate("fast") is None
    assert parse_rate("0") is None


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_burst_then_one_token_per_interval(two_engines: list[Engine], clock: FrozenClock) -> None:
    limiter = QuotaLimiter(_sessions(two_engines[0]), clock=clock)
    waits = [limiter.acquire(SELLER, REGION, "searchOrders") for _ in range(21)]
    assert waits[:20] == [0.0] * 20
    assert waits[20] == pytest.approx(1 / 0.0056 + 0.01)
    # acquire() never sleeps and takes nothing while it makes the caller wait
    assert limiter.acquire(SELLER, REGION, "searchOrders") == pytest.approx(waits[20])
    clock.advance(waits[20])
    assert limiter.acquire(SELLER, REGION, "searchOrders") == 0.0
    assert limiter.acquire(SELLER, REGION, "searchOrders") > 170


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_buckets_are_per_seller_region_and_operation(two_engines: list[Engine], clock: FrozenClock) -> None:
    limiter = QuotaLimiter(_sessions(two_engines[0]), clock=clock)
    for _ in range(10):
        assert limiter.acquire(SELLER, REGION, "confirmShipment") == 0.0
    assert limiter.acquire(SELLER, REGION, "confirmShipment") > 0
    assert limiter.acquire(SELLER, "EU", "confirmShipment") == 0.0
    assert limiter.acquire("A2OTHER00000X", REGION, "confirmShipment") == 0.0
    assert limiter.acquire(SELLER, REGION, "getOrder") == 0.0


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_a_429_drains_the_bucket_and_the_rate_header_is_learned(
    two_engines: list[Engine], clock: FrozenClock
) -> None:
    limiter = QuotaLimiter(_sessions(two_engines[0]), clock=clock)
    limiter.acquire(SELLER, REGION, "getOrder")
    limiter.drain(SELLER, REGION, "getOrder")
    assert limiter.state(SELLER, REGION, "getOrder").tokens == 0.0
    assert limiter.acquire(SELLER, REGION, "getOrder") == pytest.approx(2.0 + 0.01)
    # a dynamic usage plan: Amazon says 2 per second for this seller
    limiter.learn(SELLER, REGION, "getOrder", "2.0")
    assert limiter.state(SELLER, REGION, "getOrder").rate == 2.0
    assert limiter.acquire(SELLER, REGION, "getOrder") == pytest.approx(0.5 + 0.01)


def test_an_unknown_operation_is_refused(quota_sessions: sessionmaker[Session], clock: FrozenClock) -> None:
    with pytest.raises(ValueError, match="no usage plan for SP-API operation 'getEverything'"):
        QuotaLimiter(quota_sessions, clock=clock).acquire(SELLER, REGION, "getEverything")


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_two_engines_on_one_store_never_together_exceed_the_burst(
    two_engines: list[Engine], clock: FrozenClock
) -> None:
    # given: two limiters on their own connection pools, racing from two threads
    limiters = [QuotaLimiter(_sessions(engine), clock=clock) for engine in two_engines]
    granted = [0, 0]
    start = threading.Barrier(2)

    def spend(index: int) -> None:
        start.wait()
        for _ in range(25):
            if limiters[index].acquire(SELLER, REGION, "searchOrders") == 0.0:
                granted[index] += 1

    # when
    threads = [threading.Thread(target=spend, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then: exactly the burst of 20 between them, and both got some
    assert sum(granted) == 20
    assert limiters[0].state(SELLER, REGION, "searchOrders").tokens == pytest.approx(0.0)


SPEND = """
import sys
from datetime import datetime
from orderbridge.amazon.api.quotas import QuotaLimiter
from orderbridge.db import make_engine, session_factory
now = datetime.fromisoformat(sys.argv[2])
limiter = QuotaLimiter(session_factory(make_engine(sys.argv[1])), clock=lambda: now)
print(sum(limiter.acquire("A1SELLER0000X", "NA", "getReports") == 0.0 for _ in range(15)))
"""


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_two_processes_share_one_bucket(fresh_store_url: str, tmp_path: Path) -> None:
    # given: getReports has a burst of 10; three processes try 15 calls each at the same instant
    script = tmp_path / "spend.py"
    script.write_text(SPEND)
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), fresh_store_url, START.isoformat()],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    granted = [int(process.communicate(timeout=120)[0].strip()) for process in processes]
    assert all(process.returncode == 0 for process in processes)
    assert sum(granted) == 10
