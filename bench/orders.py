"""Benchmark: Amazon order download against the sandbox, on its virtual clock, at real default quotas.

- backlog: new accounts with N orders (default 20,000) over US/UK/DE to catch up; orders booked per hour
  of Amazon time, and that as a fraction of the quota-bound maximum (searchOrders 0.0056/s x 100 orders a
  page plus getOrder 0.5/s, once their bursts are spent); SP-API calls per order and 429s.
- steady: 1,000 orders a day arriving, a sync every 180 s (the searchOrders refill); the time from an
  order turning Ready at Amazon to being in the book, median and p95.
- booking: the inbox already full (no network): orders/s on SQLite and PostgreSQL, buyer data sealed and
  not; wall, per CPU-second of this process, and wall less the time this process waited for a CPU
  (Linux schedstat: what the run would take with a core to itself on a shared machine).

Run: .venv/bin/python bench/orders.py [--orders 20000] [--only backlog,steady,booking]
Figures come from the sandbox's virtual clock (speed 0: every wait advances it), never from sleeping.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge import db_admin
from orderbridge.amazon.accounts import NewAccount, SellerAccount, add_account, credentials
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.api.quotas import PLANS, QuotaLimiter
from orderbridge.amazon.orders.inbox import InboxItem, store_orders
from orderbridge.amazon.orders.sync import SyncDeps, SyncOptions, book_inbox, sync_orders
from orderbridge.book.orders.model import SalesOrder
from orderbridge.db import make_engine, session_factory
from orderbridge.jobs.runner import prepare_sandbox_book
from orderbridge.privacy.keystore import KeyStore, open_keystore
from orderbridge.privacy.sealing import Privacy, enable
from orderbridge.simulator.app import Sandbox, create_app
from orderbridge.simulator.clock import VirtualClock, parse_iso
from orderbridge.simulator.generator import Settings, generate
from orderbridge.simulator.in_process import InProcessTransport as Transport

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = parse_iso("2026-03-02T12:00:00Z")
BASE = "http://sandbox.local"
console = Console(width=150)  # the booking table has eight columns; logs are not 80 wide


@dataclass
class Bench:
    """A store, a key store and a sandbox whose clock advances only when a client waits."""

    sandbox: Sandbox
    sessions: sessionmaker[Session]
    keys: KeyStore
    transport: Transport

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sandbox.clock.now(), UTC)

    def sleep(self, seconds: float) -> None:
        self.sandbox.advance(seconds)

    def client(self, account: SellerAccount) -> SpApiClient:
        return SpApiClient(
            credentials(account, self.keys),
            quotas=QuotaLimiter(self.sessions, clock=self.now),
            clock=self.now,
            sleep=self.sleep,
            transport=self.transport,
        )

    def deps(self, options: SyncOptions) -> SyncDeps:
        return SyncDeps(self.sessions, self.client, self.now, self.keys, options)


@contextmanager
def store(kind: str, tmp: Path) -> Iterator[sessionmaker[Session] | None]:
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}")
        db_admin.upgrade(engine)
        yield session_factory(engine)
        engine.dispose()
        return
    name = f"ob_bench_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        yield None
        return
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    db_admin.upgrade(engine)
    yield session_factory(engine)
    engine.dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def open_bench(sandbox: Sandbox, sessions: sessionmaker[Session], tmp: Path) -> tuple[Bench, dict[str, int]]:
    keys = open_keystore(tmp / f"keys-{uuid.uuid4().hex[:6]}", key_file=tmp / "kek", environ={})
    bench = Bench(sandbox, sessions, keys, Transport(create_app(sandbox)))
    accounts: dict[str, int] = {}
    with sessions.begin() as session:
        for seller in sandbox.world.accounts.values():
            new = NewAccount(
                selling_partner_id=seller.seller_id,
                name=seller.name,
                region=seller.region,
                lwa_client_id=seller.client_id,
                client_secret=seller.client_secret,
                refresh_token=seller.refresh_token,
                marketplaces=list(seller.marketplace_ids),
                sp_api_endpoint=BASE,
                lwa_endpoint=f"{BASE}/auth/o2/token",
            )
            accounts[seller.region] = add_account(session, keys, new, clock=bench.now).id
        prepare_sandbox_book(session, [m for s in sandbox.world.accounts.values() for m in s.marketplace_ids])
    return bench, accounts


def world(orders: int, days: int, seed: int = 7) -> Sandbox:
    generated = generate(
        Settings(
            seed=seed,
            orders_per_day=max(1, orders // days),
            days=days,
            marketplaces=["US", "UK", "DE"],
            now=NOW,
        )
    )
    return Sandbox(generated, clock=VirtualClock(generated.now, speed=0.0))


def quota_max_per_hour(elapsed: float) -> tuple[float, float]:
    """The most complete orders any client can fetch in `elapsed` seconds, and its sustained rate per hour."""
    search, get = PLANS["searchOrders"], PLANS["getOrder"]
    total = (search.burst + search.rate * elapsed) * 100 + get.burst + get.rate * elapsed
    return total, (search.rate * 100 + get.rate) * 3600


def backlog(orders: int, tmp: Path, baseline_orders: int = 500) -> list[list[str]]:
    days = 10
    started = time.perf_counter()
    sandbox = world(orders, days)
    console.print(
        f"backlog: world of {len(sandbox.world.orders)} orders in {time.perf_counter() - started:.1f} s"
    )
    rows = []
    with store("sqlite", tmp) as sessions:
        assert sessions is not None
        bench, accounts = open_bench(sandbox, sessions, tmp)
        options = SyncOptions(first_lookback=timedelta(days=days + 1))
        for region, account_id in sorted(accounts.items()):
            sandbox.calls.clear()
            begin, wall = sandbox.clock.now(), time.perf_counter()
            report = sync_orders(
                account_id, sessions=sessions, client_factory=bench.client, clock=bench.now, options=options
            )
            elapsed = sandbox.clock.now() - begin
            calls = sandbox.calls.summary()
            n_calls = sum(c["calls"] for c in calls.values() if c)
            searches = calls.get("searchOrders", {}).get("calls", 0)
            by_pages = report.fetched - report.by_get_order
            throttled = sum(c["throttled"] for c in calls.values())
            reachable, _ = quota_max_per_hour(elapsed)
            per_hour = report.booked / (elapsed / 3600) if elapsed else float("inf")
            rows.append(
                [
                    f"orderbridge {region}",
                    f"{report.fetched}",
                    f"{report.booked}",
                    f"{elapsed / 3600:.2f} h",
                    f"{per_hour:,.0f}",
                    f"{report.booked / reachable:.2f}",
                    f"{n_calls / max(report.booked, 1):.3f}",
                    f"{searches / max(by_pages, 1):.4f} ({by_pages})",
                    str(throttled),
                    f"{time.perf_counter() - wall:.1f} s",
                ]
            )
    rows.append(baseline_row(sandbox, baseline_orders))
    return rows


def baseline_row(sandbox: Sandbox, limit: int) -> list[str]:
    """The v0 baseline (python-amazon-sp-api as its docs show) on the same world, NA seller."""
    try:
        import sp_api  # noqa: F401
    except ImportError:
        return ["v0 baseline", "python-amazon-sp-api not installed"]
    from orders_v0 import run_baseline, served

    seller = next(s for s in sandbox.world.accounts.values() if s.region == "NA")
    with served(sandbox) as url:
        result = run_baseline(sandbox, url, seller, limit=limit)
    elapsed, done = result["seconds"], result["orders"]
    reachable, _ = quota_max_per_hour(elapsed)
    return [
        "v0 baseline NA",
        str(done),
        str(done),
        f"{elapsed / 3600:.2f} h",
        f"{done / (elapsed / 3600):,.0f}" if elapsed else "inf",
        f"{done / reachable:.2f}",
        f"{result['calls'] / max(done, 1):.3f}",
        "-",
        str(result["throttled"]),
        f"{result['wall']:.1f} s",
    ]


def steady(tmp: Path, hours: float = 6.0, per_day: int = 1000) -> list[str]:
    sandbox = world(200, 1, seed=3)
    with store("sqlite", tmp) as sessions:
        assert sessions is not None
        bench, accounts = open_bench(sandbox, sessions, tmp)
        options = SyncOptions()
        sellers = list(sandbox.world.accounts.values())
        listings = {
            s.seller_id: [sku for (sid, sku) in sandbox.world.listings if sid == s.seller_id] for s in sellers
        }
        for account_id in accounts.values():  # catch up first
            sync_orders(
                account_id, sessions=sessions, client_factory=bench.client, clock=bench.now, options=options
            )
        sandbox.calls.clear()
        start = sandbox.clock.now()
        gap, next_order, next_sync, n = 86400 / per_day, start, start, 0
        placed: list[str] = []
        while sandbox.clock.now() < start + hours * 3600:
            now = sandbox.clock.now()
            if now >= next_order:
                seller = sellers[n % len(sellers)]
                body = {
                    "sellerId": seller.seller_id,
                    "marketplace": seller.marketplace_ids[n % len(seller.marketplace_ids)],
                    "items": [
                        {
                            "sku": listings[seller.seller_id][n % len(listings[seller.seller_id])],
                            "quantity": 1,
                        }
                    ],
                }
                response = bench.transport.handle_request(
                    httpx.Request("POST", f"{BASE}/_sandbox/orders", json=body)
                )
                placed.append(str(response.json()["orderId"]))
                n += 1
                next_order += gap
            if now >= next_sync:
                for account_id in accounts.values():
                    sync_orders(
                        account_id,
                        sessions=sessions,
                        client_factory=bench.client,
                        clock=bench.now,
                        options=options,
                    )
                next_sync += 180
            sandbox.advance(max(1.0, min(next_order, next_sync) - sandbox.clock.now()))
        latencies = ready_latencies(sessions, sandbox, set(placed))
    calls = sandbox.calls.summary()
    throttled = sum(c["throttled"] for c in calls.values())
    if not latencies:
        return ["steady", "no order became Ready"]
    p95 = statistics.quantiles(latencies, n=20)[18]
    return [
        f"{len(latencies)} orders",
        f"{statistics.median(latencies):.0f} s",
        f"{p95:.0f} s",
        str(throttled),
    ]


def ready_latencies(sessions: sessionmaker[Session], sandbox: Sandbox, placed: set[str]) -> list[float]:
    """Per order: when the sync booked its first Ready version minus when it turned Ready at Amazon."""
    found: dict[str, float] = {}
    with sessions() as session:
        query = select(InboxItem.natural_id, InboxItem.version_time, InboxItem.processed_at, InboxItem.reason)
        query = query.where(InboxItem.natural_id.in_(placed), InboxItem.status == "booked")
        for order_id, version, processed, _reason in session.execute(query.order_by(InboxItem.version_time)):
            if order_id in found or processed is None:
                continue
            ready = version.replace(tzinfo=UTC) if version.tzinfo is None else version
            done = processed.replace(tzinfo=UTC) if processed.tzinfo is None else processed
            found[order_id] = (done - ready).total_seconds()
    return list(found.values())


def cpu_wait() -> float:
    """Seconds this process has waited for a CPU so far (Linux schedstat; 0 where there is none)."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def booking(orders: int, tmp: Path, *, freeze: bool = True) -> list[list[str]]:
    """Book a full inbox on SQLite and PostgreSQL, each with buyer data sealed (privacy on, as
    `orderbridge run` books) and without. CPU seconds are this process's: on a busy machine orders per
    CPU-second says more than wall time (PostgreSQL's own work is in its server processes, not here).

    Before timing, the objects alive so far (modules, the sandbox's generated world) are frozen out of
    the garbage collector, as `orderbridge` freezes its start-up heap: the world is this benchmark's
    fixture, not part of a booking process, and full collections rescanning it are not booking's cost."""
    sandbox = world(orders, 10, seed=11)
    docs = [
        o.doc
        for o in sandbox.world.orders.values()
        if o.status in ("UNSHIPPED", "SHIPPED", "PARTIALLY_SHIPPED")
    ]
    rows = []
    for kind, sealed in (("sqlite", False), ("sqlite", True), ("postgresql", False), ("postgresql", True)):
        with store(kind, tmp) as sessions:
            if sessions is None:
                rows.append([kind, "", "PostgreSQL not reachable", "", "", "", "", ""])
                continue
            bench, accounts = open_bench(sandbox, sessions, tmp)
            if sealed:
                enable(sessions, Privacy(bench.keys))
            by_region = {
                region: [d for d in docs if d["salesChannel"]["marketplaceId"] in markets]
                for region, markets in (
                    (s.region, set(s.marketplace_ids)) for s in sandbox.world.accounts.values()
                )
            }
            with sessions.begin() as session:
                for region, account_id in accounts.items():
                    for start in range(0, len(by_region[region]), 1000):
                        store_orders(
                            session, account_id, by_region[region][start : start + 1000], now=bench.now()
                        )
            if freeze:
                gc.collect()
                gc.freeze()
            started, cpu, waited = time.perf_counter(), time.process_time(), cpu_wait()
            booked = 0
            for account_id in accounts.values():
                booked += book_inbox(account_id, bench.deps(SyncOptions())).booked
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
            # Wall less the time spent waiting for a CPU: what a machine with a core free would take.
            unshared = seconds - (cpu_wait() - waited)
            gc.unfreeze()
            with sessions() as session:
                in_book = session.scalar(select(func.count()).select_from(SalesOrder))
            rows.append(
                [
                    kind,
                    "yes" if sealed else "no",
                    f"{booked} ({in_book} in the book)",
                    f"{seconds:.1f} s",
                    f"{booked / seconds:,.0f}",
                    f"{cpu_seconds:.1f} s",
                    f"{booked / cpu_seconds:,.0f}",
                    f"{booked / unshared:,.0f}",
                ]
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=20_000)
    parser.add_argument("--only", default="backlog,steady,booking")
    parser.add_argument("--steady-hours", type=float, default=6.0)
    parser.add_argument(
        "--baseline-orders", type=int, default=500, help="complete orders the v0 baseline fetches"
    )
    parser.add_argument(
        "--no-gc-freeze",
        action="store_true",
        help="booking: leave the start-up heap and the sandbox's world to the garbage collector",
    )
    args = parser.parse_args()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        if "backlog" in only:
            table = Table(
                "run",
                "fetched",
                "booked",
                "Amazon time",
                "orders/h",
                "of quota max",
                "calls/order",
                "searchOrders calls/order in pages",
                "429s",
                "wall",
                title=f"Backlog: {args.orders:,} orders over US/UK/DE (quota max sustained "
                f"{quota_max_per_hour(0)[1]:,.0f} orders/h)",
            )
            for row in backlog(args.orders, tmp, args.baseline_orders):
                table.add_row(*row)
            console.print(table)
        if "steady" in only:
            table = Table(
                "orders",
                "median",
                "p95",
                "429s",
                title="Steady state: 1,000 orders/day, Ready -> in the book",
            )
            table.add_row(*steady(tmp, hours=args.steady_hours))
            console.print(table)
        if "booking" in only:
            table = Table(
                "store",
                "buyer data sealed",
                "orders booked",
                "wall",
                "orders/s",
                "CPU (this process)",
                "orders per CPU-s",
                "orders/s less CPU wait",
                title="Booking from a full inbox (no network; goal 2,000 orders/s on SQLite)",
                caption="load average at the start: {:.2f} {:.2f} {:.2f} ({} CPUs)".format(
                    *os.getloadavg(), os.cpu_count()
                ),
            )
            for row in booking(args.orders, tmp, freeze=not args.no_gc_freeze):
                table.add_row(*row)
            console.print(table)


if __name__ == "__main__":
    main()
