"""Benchmark: the distributed mode with many seller accounts: 1, 2 and 4 Celery worker processes side by side.

The sandbox (its own process, `orderbridge sandbox serve`) serves a world of `--accounts` sellers (default
200) with `--orders` orders of backlog between them, its clock sped up `--speed` times. For each worker
count, a fresh PostgreSQL book and Redis key space, the accounts added, `orderbridge beat` and N
`orderbridge worker --pool solo` processes started; the run ends when every account has caught up (its
cursor past the start and nothing left to book) or after `--seconds`. Printed per run: orders booked,
orders booked per minute (real time), the quota ceiling (the most orders Amazon's default usage plans
let any client fetch for these accounts in the Amazon time the run took), SP-API calls, the sandbox's
429 count (quota violations: must be 0), and when the first and the last account had caught up (a large
account must not starve small ones).

Run: .venv/bin/python bench/scale.py [--accounts 200] [--orders 20000] [--workers 1,2,4] [--seconds 240]
Needs PostgreSQL (127.0.0.1:5432) and Redis (127.0.0.1:6379). Figures depend on the machine's load.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import redis
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from orderbridge import db_admin
from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.cursors import SyncCursor
from orderbridge.amazon.inbox import InboxItem, InboxStatus
from orderbridge.amazon.quotas import PLANS
from orderbridge.book.orders.model import SalesOrder
from orderbridge.clock import as_utc
from orderbridge.db import make_engine, session_factory
from orderbridge.jobs.runner import add_sandbox_accounts
from orderbridge.privacy.keystore import open_keystore
from orderbridge.privacy.sealing import Privacy, enable
from orderbridge.simulator import generator, worldfile
from orderbridge.simulator.clock import parse_iso

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS = "redis://127.0.0.1:6379/0"
BIN = Path(sys.executable).parent
console = Console(width=160)


@dataclass
class Served:
    """What add_sandbox_accounts needs of a running sandbox: its URL."""

    url: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_world(accounts: int, orders: int, tmp: Path) -> Path:
    days = 3
    world = generator.generate(
        generator.Settings(
            seed=17,
            orders_per_day=max(1, orders // days),
            days=days,
            marketplaces=["US", "UK"],
            now=float(int(time.time())),
            skus_per_seller=3,
            sellers_per_region=max(1, accounts // 2),
        )
    )
    path = tmp / "world.json"
    worldfile.write(world, path)
    console.print(f"world: {len(world.accounts)} sellers, {len(world.orders)} orders")
    return path


def serve_sandbox(world: Path, speed: float, tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (tmp / "sandbox.log").open("wb")
    argv = [str(BIN / "orderbridge"), "sandbox", "serve", "--world", str(world), "--speed", str(speed)]
    process = subprocess.Popen(
        [*argv, "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/_sandbox/state", timeout=2.0).raise_for_status()
            return process, url
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise SystemExit(f"the sandbox did not start: see {tmp / 'sandbox.log'}")


def throttled_and_calls(url: str) -> tuple[int, int]:
    summary = httpx.get(url + "/_sandbox/calls", timeout=30.0).json()["operations"]
    sp_api = {op: stats for op, stats in summary.items() if op != "lwa.token"}
    return sum(s["throttled"] for s in sp_api.values()), sum(s["calls"] for s in sp_api.values())


def sandbox_now(url: str) -> float:
    state = httpx.get(url + "/_sandbox/state", timeout=30.0).json()
    return parse_iso(state["now"])


def run(workers: int, *, world: Path, speed: float, seconds: float, tmp: Path) -> dict[str, Any]:
    name = f"ob_scale_{uuid.uuid4().hex[:8]}"
    prefix = f"obbench{uuid.uuid4().hex[:8]}"
    here = tmp / f"run{workers}"
    (here / "data").mkdir(parents=True)
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    store = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engine = make_engine(store)
    db_admin.upgrade(engine)
    sessions = session_factory(engine)
    keys = open_keystore(here / "keys", key_file=here / "kek", environ={})
    enable(sessions, Privacy(keys))
    sandbox, url = serve_sandbox(world, speed, here)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        add_sandbox_accounts(sessions, keys, Served(url))  # type: ignore[arg-type]
        with sessions() as session:
            account_ids = list(session.scalars(select(SyncCursor.account_id).distinct()))
            total_accounts = int(session.scalar(select(func.count()).select_from(SellerAccount)) or 0)
        assert not account_ids
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("ORDERBRIDGE_")},
            "ORDERBRIDGE_CONFIG": str(here / "none.toml"),
            "ORDERBRIDGE_MODE": "distributed",
            "ORDERBRIDGE_DATABASE_URL": store,
            "ORDERBRIDGE_BROKER_URL": REDIS,
            "ORDERBRIDGE_REDIS_PREFIX": prefix,
            "ORDERBRIDGE_DATA_DIR": str(here / "data"),
            "ORDERBRIDGE_KEY_STORE_DIR": str(here / "keys"),
            "ORDERBRIDGE_KEK_FILE": str(here / "kek"),
            "ORDERBRIDGE_DISPATCH_SECONDS": "2",
            "ORDERBRIDGE_REQUEUE_SECONDS": "60",
        }
        started_virtual = sandbox_now(url)
        started = time.monotonic()
        logs = [(here / f"proc{n}.log").open("wb") for n in range(workers + 1)]
        processes.append(
            subprocess.Popen(
                [str(BIN / "orderbridge"), "beat"], env=env, stdout=logs[0], stderr=subprocess.STDOUT
            )
        )
        for n in range(workers):
            argv = [str(BIN / "orderbridge"), "worker", "--pool", "solo", "--concurrency", "1"]
            argv += ["--name", f"bench{n}@%h"]
            processes.append(subprocess.Popen(argv, env=env, stdout=logs[n + 1], stderr=subprocess.STDOUT))
        first_done: float | None = None
        booked = 0
        while time.monotonic() - started < seconds:
            time.sleep(2.0)
            done, booked = caught_up(sessions, since=started_virtual)
            if done and first_done is None:
                first_done = time.monotonic() - started
            if done >= total_accounts:
                break
        elapsed = time.monotonic() - started
        amazon_seconds = sandbox_now(url) - started_virtual
        throttled, calls = throttled_and_calls(url)
        with sessions() as session:
            booked = int(session.scalar(select(func.count()).select_from(SalesOrder)) or 0)
        done, _ = caught_up(sessions, since=started_virtual)
        return {
            "workers": workers,
            "booked": booked,
            "per_minute": booked / elapsed * 60,
            "elapsed": elapsed,
            "amazon_hours": amazon_seconds / 3600,
            "ceiling": quota_ceiling(total_accounts, amazon_seconds),
            "calls": calls,
            "throttled": throttled,
            "caught_up": f"{done}/{total_accounts}",
            "first": first_done,
            "last": elapsed if done >= total_accounts else None,
        }
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        sandbox.terminate()
        sandbox.wait(timeout=20)
        engine.dispose()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        client = redis.Redis.from_url(REDIS)
        keys_left = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys_left:
            client.delete(*keys_left)


def caught_up(sessions: Any, *, since: float) -> tuple[int, int]:
    """Accounts whose download finished a search ending after `since` with nothing left to book; and
    orders booked so far."""
    with sessions() as session:
        positions = session.execute(select(SyncCursor.account_id, SyncCursor.position)).all()
        waiting = set(
            session.scalars(
                select(InboxItem.account_id).where(InboxItem.status == InboxStatus.RECEIVED).distinct()
            )
        )
        booked = int(session.scalar(select(func.count()).select_from(SalesOrder)) or 0)
    done = sum(
        1
        for account_id, position in positions
        if position is not None and as_utc(position).timestamp() > since and account_id not in waiting
    )
    return done, booked


def quota_ceiling(accounts: int, amazon_seconds: float) -> float:
    """The most orders searchOrders (100 a page) and getOrder let any client fetch for `accounts` in
    `amazon_seconds`, starting with full buckets (Amazon's default usage plans)."""
    search, get = PLANS["searchOrders"], PLANS["getOrder"]
    per_account = (search.burst + search.rate * amazon_seconds) * 100 + get.burst + get.rate * amazon_seconds
    return accounts * per_account


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--seconds", type=float, default=240.0, help="longest run per worker count")
    parser.add_argument("--speed", type=float, default=60.0, help="sandbox seconds per real second")
    args = parser.parse_args()
    try:
        redis.Redis.from_url(REDIS, socket_connect_timeout=3).ping()
        psycopg.connect(PG_ADMIN, connect_timeout=3).close()
    except (redis.RedisError, psycopg.OperationalError) as error:
        raise SystemExit(f"bench/scale.py needs PostgreSQL and Redis: {error}") from None
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        world = make_world(args.accounts, args.orders, tmp)
        results = [
            run(int(n), world=world, speed=args.speed, seconds=args.seconds, tmp=tmp)
            for n in args.workers.split(",")
        ]
    table = Table(
        "worker processes",
        "orders booked",
        "booked / min",
        "run",
        "Amazon time",
        "quota ceiling (orders)",
        "SP-API calls",
        "429s (violations)",
        "accounts caught up",
        "first / last caught up",
        title=f"{args.accounts} seller accounts, {args.orders:,} orders of backlog, sandbox x{args.speed:g}",
    )
    for r in results:
        last = f"{r['last']:.0f} s" if r["last"] is not None else "-"
        first = f"{r['first']:.0f} s" if r["first"] is not None else "-"
        table.add_row(
            str(r["workers"]),
            f"{r['booked']:,}",
            f"{r['per_minute']:,.0f}",
            f"{r['elapsed']:.0f} s",
            f"{r['amazon_hours']:.2f} h",
            f"{r['ceiling']:,.0f}",
            f"{r['calls']:,}",
            str(r["throttled"]),
            r["caught_up"],
            f"{first} / {last}",
        )
    console.print(table)


if __name__ == "__main__":
    main()
