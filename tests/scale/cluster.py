"""A distributed installation for the scale tests: PostgreSQL, Redis, a served sandbox, real Celery workers.

The sandbox runs fast (`SPEED` Amazon seconds a real second) so that quota refills come round in a test's
time; workers re-read its clock every few seconds, so moving it on (to let a dead worker's lease expire)
reaches them all. Waiting is for conditions (a poll with a deadline), never for a fixed time.
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
from sqlalchemy import func, select

from orderbridge.amazon.orders.cursors import SyncCursor
from orderbridge.amazon.orders.inbox import InboxItem, InboxStatus
from orderbridge.amazon.orders.records import AmazonOrderRecord, BookedState
from orderbridge.book.inventory import StockLevel
from orderbridge.book.orders.model import OrderRow, SalesOrder
from orderbridge.clock import as_utc
from orderbridge.db import make_engine, session_factory
from orderbridge.simulator import generator
from orderbridge.simulator.app import Sandbox
from orderbridge.simulator.clock import VirtualClock
from orderbridge.simulator.serving import ServedSandbox
from tests.e2e.sync_world import BOOKED_STATUSES, SyncWorld, booked_orders, expected_status, open_world

SPEED = 600.0
CHILD = Path(__file__).with_name("worker_child.py")
ORDERBRIDGE = Path(sys.executable).with_name("orderbridge")


def scale_world(*, sellers_per_region: int = 3, orders_per_day: int = 60, seed: int = 11) -> Sandbox:
    now = float(int(time.time()))
    world = generator.generate(
        generator.Settings(
            seed=seed,
            orders_per_day=orders_per_day,
            days=3,
            marketplaces=["US", "UK"],
            now=now,
            skus_per_seller=4,
            sellers_per_region=sellers_per_region,
        )
    )
    return Sandbox(world, clock=VirtualClock(world.now, speed=SPEED))


@dataclass
class Cluster:
    world: SyncWorld
    url: str
    env: dict[str, str]
    redis: redis.Redis
    prefix: str
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start_worker(self, **extra: str) -> subprocess.Popen[bytes]:
        return self._start([sys.executable, str(CHILD)], extra)

    def start_beat(self) -> subprocess.Popen[bytes]:
        return self._start([str(ORDERBRIDGE), "beat"], {})

    def _start(self, argv: list[str], extra: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(Path(self.env["ORDERBRIDGE_DATA_DIR"]) / f"proc-{len(self.processes)}.log", "wb")  # noqa: SIM115
        process = subprocess.Popen(argv, env={**self.env, **extra}, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        """Kill every process started (a test has its answer; nothing it left matters any more)."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
        for process in self.processes:
            process.wait(timeout=15)

    def full_logs(self) -> str:
        found = sorted(Path(self.env["ORDERBRIDGE_DATA_DIR"]).glob("proc-*.log"))
        return "\n".join(p.read_text(errors="replace") for p in found)

    def logs(self) -> str:
        found = sorted(Path(self.env["ORDERBRIDGE_DATA_DIR"]).glob("proc-*.log"))
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in found)

    def records(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(raw) for raw in self.redis.lrange(f"{self.prefix}:test:{name}", 0, -1)]

    def wait(self, condition: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")
            time.sleep(0.2)

    def sandbox_now(self) -> float:
        return self.world.sandbox.clock.now()

    def caught_up(self, *, since: float) -> bool:
        """Every account's download completed a search that ends after `since` (sandbox epoch seconds),
        and nothing downloaded waits to be booked."""
        with self.world.sessions() as session:
            positions = dict(session.execute(select(SyncCursor.account_id, SyncCursor.position)).all())
            waiting = session.scalar(
                select(func.count()).select_from(InboxItem).where(InboxItem.status == InboxStatus.RECEIVED)
            )
        return waiting == 0 and all(
            positions.get(account_id) is not None and as_utc(positions[account_id]).timestamp() > since
            for account_id in self.world.accounts.values()
        )

    def throttled(self) -> int:
        return sum(stats.throttled for stats in self.world.sandbox.calls.stats.values())


def assert_books_each_order_once(world: SyncWorld) -> int:
    """Nothing booked twice: one order per (channel, Amazon order id), one inbox row per version, stock
    allocated once; and nothing lost: every order whose current version is older than its account's
    cursor is booked (Ready) with its current status. Returns how many orders were checked."""
    checked = 0
    with world.sessions() as session:
        refs = session.execute(select(SalesOrder.channel_id, SalesOrder.external_ref)).all()
        assert len(refs) == len(set(refs))
        versions = session.execute(
            select(InboxItem.account_id, InboxItem.natural_id, InboxItem.version_time)
        ).all()
        assert len(versions) == len(set(versions))
        rows = session.scalar(select(func.coalesce(func.sum(OrderRow.allocated), 0)))
        levels = session.scalar(select(func.coalesce(func.sum(StockLevel.allocated), 0)))
        assert rows == levels
        skipped = set(
            session.scalars(
                select(AmazonOrderRecord.amazon_order_id).where(
                    AmazonOrderRecord.state == BookedState.SKIPPED
                )
            )
        )
        positions = dict(session.execute(select(SyncCursor.account_id, SyncCursor.position)).all())
        for seller_id, account_id in world.accounts.items():
            position = as_utc(positions[account_id]).timestamp()
            truth = [
                o
                for o in world.sandbox.world.orders.values()
                if o.seller_id == seller_id and o.visible_ts < position and o.updated_ts < position - 1
            ]
            booked = {m: booked_orders(session, m) for m in {o.marketplace_id for o in truth}}
            for order in truth:
                found = booked[order.marketplace_id].get(order.order_id)
                if order.status not in BOOKED_STATUSES or order.order_id in skipped:
                    assert found is None or order.status == "CANCELLED", order.order_id
                    continue
                assert found is not None, f"{order.order_id} ({order.status}) is not in the book"
                assert found.status.name == expected_status(session, order), order.order_id
                checked += 1
    return checked


def assert_no_account_held_twice(cluster: Cluster) -> None:
    """No account's lease was ever held by two workers at once, though accounts moved between them."""
    holds = cluster.records("holds")
    by_account: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
    for entry in holds:
        by_account[entry["lease"]].append((entry["start"], entry["end"], entry["worker"]))
    for spans in by_account.values():
        spans.sort()
        for (_, end, _), (start, _, _) in itertools.pairwise(spans):
            assert start > end
    assert any(len({worker for *_, worker in spans}) > 1 for spans in by_account.values())
    assert len({entry["worker"] for entry in holds}) >= 2


@contextmanager
def cluster_on(
    store_url: str,
    tmp: Path,
    *,
    redis_url: str,
    prefix: str,
    sandbox: Sandbox,
    broker_url: str | None = None,
    prepare_book: bool = True,
) -> Iterator[Cluster]:
    """A cluster on a served sandbox. `broker_url` (default: the Redis) is Celery's broker; Redis keeps
    the quota buckets either way. `prepare_book=False` adds the accounts to a book with nothing else in
    it (no statuses, channels, warehouses): a brand-new installation."""
    engine = make_engine(store_url)
    data = tmp / "data"
    data.mkdir()
    try:
        with ServedSandbox(sandbox) as running:
            world = open_world(session_factory(engine), sandbox, tmp, base=running.url, prepare=prepare_book)
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("ORDERBRIDGE_")},
                "ORDERBRIDGE_CONFIG": str(tmp / "none.toml"),
                "ORDERBRIDGE_MODE": "distributed",
                "ORDERBRIDGE_DATABASE_URL": store_url,
                "ORDERBRIDGE_BROKER_URL": broker_url or redis_url,
                "ORDERBRIDGE_QUOTA_REDIS_URL": redis_url,
                "ORDERBRIDGE_REDIS_PREFIX": prefix,
                "ORDERBRIDGE_DATA_DIR": str(data),
                "ORDERBRIDGE_KEY_STORE_DIR": str(tmp / "keys"),
                "ORDERBRIDGE_KEK_FILE": str(tmp / "kek"),
                "ORDERBRIDGE_SYNC_PAGES_PER_TASK": "3",
                "ORDERBRIDGE_REQUEUE_SECONDS": "3",
                "ORDERBRIDGE_LEASE_REAL_SECONDS": "20",
                "ORDERBRIDGE_DISPATCH_SECONDS": "0.5",
                "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            }
            cluster = Cluster(world, running.url, env, redis.Redis.from_url(redis_url), prefix)
            try:
                yield cluster
            finally:
                cluster.stop()
    finally:
        engine.dispose()
