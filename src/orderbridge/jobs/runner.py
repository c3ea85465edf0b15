"""What `orderbridge run` starts: the sandbox in a thread when no real account exists, and the jobs.

With no Amazon account configured, run starts the bundled sandbox on a local port (uvicorn in a daemon
thread, its virtual clock sped up), adds its sellers as accounts pointed at it and gives the book what
the sandbox's orders need (statuses, an own warehouse and an FBA warehouse per seller, tax rules,
channel settings). Sandbox
accounts run on the sandbox's clock; real accounts on UTC.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.accounts import SellerAccount, add_account, list_accounts, sandbox_accounts
from orderbridge.amazon.channel import change_settings, channel_for
from orderbridge.amazon.fba_warehouses import fba_mappings, map_fba_warehouse, region_of
from orderbridge.amazon.listings import ListingFulfilment, connect_listing, find_listing
from orderbridge.amazon.marketplaces import ENDPOINTS
from orderbridge.amazon.orders.cursors import TWO_MINUTES, SyncCursor
from orderbridge.amazon.reports.sync import scheduled_types, short_name
from orderbridge.book.catalog import Product, save_product
from orderbridge.book.inventory import Warehouse, WarehouseKind, add_warehouse, count_stock, warehouse_by_code
from orderbridge.book.orders.statuses import ensure_default_statuses
from orderbridge.book.tax import TaxRule, add_tax_code, add_tax_rule
from orderbridge.clock import as_utc, utc_now
from orderbridge.db import reading
from orderbridge.jobs.schedule import Scheduler, orders_interval
from orderbridge.jobs.tasks import (
    Endpoint,
    Runtime,
    check_account_completeness,
    push_all_stock,
    send_notices,
    send_to_amazon,
    sweep_personal_data,
    sync_account_inbound,
    sync_account_orders,
    sync_account_reports,
    watch_sync_health,
)
from orderbridge.privacy.keystore import KeyStore
from orderbridge.simulator import generator, trickle, worldfile
from orderbridge.simulator.app import Sandbox
from orderbridge.simulator.clock import VirtualClock
from orderbridge.simulator.serving import ServedSandbox
from orderbridge.simulator.world import Trickle

# Standard VAT of the sandbox's EU marketplaces' countries (for the sandbox book only).
SANDBOX_VAT = {"GB": "0.20", "DE": "0.19", "FR": "0.20", "IT": "0.22", "ES": "0.21"}


SANDBOX_WORLD = "sandbox-world.json"  # in the data directory: the demo's world, kept across restarts
SANDBOX_SETTLEMENT_DAYS = 1.0  # a settlement a virtual day, so the demo shows some within the hour


def start_sandbox(
    *,
    port: int = 0,
    speed: float = 60.0,
    orders_per_day: float = 200,
    days: int = 3,
    seed: int = 7,
    world_file: Path | None = None,
    not_before: datetime | None = None,
) -> ServedSandbox:
    """Serve a sandbox on 127.0.0.1:`port` (0: any free port) in a daemon thread, placing about
    `orders_per_day` new orders a virtual day while it runs. Its world is `world_file` when that exists
    (a restarted demo carries on where it stopped), else a `days`-day history generated up to now. Its
    clock never starts before `not_before` (how far the book already downloaded)."""
    if world_file is not None and world_file.exists():
        world = worldfile.read(world_file, seed=seed)
    else:
        world = generator.generate(
            generator.Settings(
                seed=seed,
                orders_per_day=int(orders_per_day),
                days=days,
                marketplaces=["US", "UK", "DE"],
                now=float(int(time.time())),
                live=True,
            )
        )
        world.settlement_days = SANDBOX_SETTLEMENT_DAYS
        trickle.start(world, Trickle(orders_per_day, dict(generator.DEFAULT_MIX), seed))
    if world.trickle is not None:
        world.trickle.orders_per_day = orders_per_day
    if not_before is not None:
        world.now = max(world.now, not_before.timestamp())
    sandbox = Sandbox(world, clock=VirtualClock(world.now, speed=speed))
    return ServedSandbox(sandbox, port=port).start()


def save_sandbox_world(running: ServedSandbox, path: Path) -> str:
    """Write the running sandbox's world to `path` (whole or not at all); the sandbox's own thread
    dumps it, between two requests, so nothing changes under the dump."""
    response = httpx.get(running.url + "/_sandbox/world", timeout=60.0)
    response.raise_for_status()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_bytes(response.content)
    os.replace(partial, path)
    return f"saved at {response.json()['now']}"


def downloaded_until(session: Session) -> datetime | None:
    """How far the book's order download got, over every account (the latest cursor position)."""
    latest = session.scalar(select(func.max(SyncCursor.position)))
    return as_utc(latest) + TWO_MINUTES if latest is not None else None


def sandbox_endpoint(sandbox: Sandbox) -> Endpoint:
    """The in-process sandbox's virtual clock; a client's waits pass at the sandbox's speed."""
    speed = sandbox.clock.speed

    def clock() -> datetime:
        return datetime.fromtimestamp(sandbox.clock.now(), UTC)

    def sleep(seconds: float) -> None:
        if speed > 0:
            time.sleep(seconds / speed)
        else:
            sandbox.advance(seconds)

    return Endpoint(clock=clock, sleep=sleep, speed=speed)


def remote_sandbox_endpoint(url: str) -> Endpoint | None:
    """A sandbox served elsewhere (`orderbridge sandbox serve`): its clock read once, then run on at its
    speed. None if no sandbox answers at `url`."""
    try:
        state = httpx.get(url.rstrip("/") + "/_sandbox/state", timeout=5.0).json()
        start = datetime.fromisoformat(str(state["now"]).replace("Z", "+00:00"))
        speed = float(state.get("speed", 1.0))
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    began = time.monotonic()
    advanced = [0.0]  # a frozen sandbox (speed 0) moves only by the advances our waits ask for

    def clock() -> datetime:
        return start + timedelta(seconds=(time.monotonic() - began) * speed + advanced[0])

    def sleep(seconds: float) -> None:
        if speed > 0:
            time.sleep(seconds / speed)
        else:
            httpx.post(url.rstrip("/") + "/_sandbox/clock", json={"advance": seconds}, timeout=5.0)
            advanced[0] += seconds

    return Endpoint(clock=clock, sleep=sleep, speed=speed)


def is_real(account: SellerAccount) -> bool:
    return account.endpoint in ENDPOINTS.values()


def add_sandbox_accounts(
    sessions: sessionmaker[Session], keys: KeyStore, running: ServedSandbox
) -> list[str]:
    """Every sandbox seller as an account pointed at the running sandbox, and a book ready for them."""
    response = httpx.get(running.url + "/_sandbox/state", timeout=10.0)
    response.raise_for_status()
    added: list[str] = []
    with sessions.begin() as session:
        known = {(a.selling_partner_id, a.region): a for a in list_accounts(session)}
        for new in sandbox_accounts(response.json(), running.url):
            old = known.get((new.selling_partner_id, new.region))
            if old is not None:  # the same seller from an earlier run: point it at today's port
                old.sp_api_endpoint, old.lwa_endpoint = new.sp_api_endpoint, new.lwa_endpoint
                continue
            added.append(add_account(session, keys, new, clock=utc_now).label)
        prepare_sandbox_book(session, [m for a in list_accounts(session) for m in a.marketplace_ids])
        keep_sandbox_sellers_apart(session, [a for a in list_accounts(session) if not is_real(a)])
        listings = httpx.get(running.url + "/_sandbox/listings", timeout=10.0)
        listings.raise_for_status()
        stock_sandbox_catalog(session, listings.json()["listings"])
    return added


def prepare_sandbox_book(session: Session, marketplace_ids: list[str]) -> None:
    """What the sandbox's orders need in a fresh book; whatever the seller set already is kept."""
    ensure_default_statuses(session)
    for code, name, kind in (
        ("MAIN", "Main warehouse", WarehouseKind.OWN),
        ("FBA", "Amazon FBA", WarehouseKind.FBA),
    ):
        if session.scalar(select(Warehouse).where(Warehouse.code == code)) is None:
            add_warehouse(session, code, name, kind)
    if session.scalar(select(TaxRule.id).limit(1)) is None:
        for country, rate in SANDBOX_VAT.items():
            add_tax_code(session, f"VAT-{country}", f"VAT {country}", Decimal(rate))
            session.flush()
            add_tax_rule(session, f"VAT-{country}", ship_to_country=country)
        add_tax_code(session, "ZERO", "No tax", Decimal(0))
        session.flush()
        add_tax_rule(session, "ZERO")
    for marketplace_id in dict.fromkeys(marketplace_ids):
        channel = channel_for(session, marketplace_id)
        change_settings(session, channel, {"fbm_warehouse": "MAIN", "fba_warehouse": "FBA"})


def keep_sandbox_sellers_apart(session: Session, accounts: list[SellerAccount]) -> None:
    """Each sandbox seller's FBA stock in a warehouse of its own (Amazon counts it per seller), made and
    mapped once; a seller whose FBA stock the book already placed keeps its warehouse."""
    fba = warehouse_by_code(session, "FBA")
    region = region_of(fba)
    placed = {(m.account, m.region) for m in fba_mappings(session)}
    for account in accounts:
        if (account.label, region) in placed:
            continue
        code = f"FBA-{account.selling_partner_id}"[:40]
        warehouse = session.scalar(select(Warehouse).where(Warehouse.code == code))
        if warehouse is None:
            warehouse = add_warehouse(session, code, f"Amazon FBA ({account.name})"[:200], WarehouseKind.FBA)
        map_fba_warehouse(session, account, region, warehouse.code)


SANDBOX_OPENING_STOCK = 200
OUTBOX_INTERVAL = timedelta(seconds=120)  # Amazon time between outbox passes: createFeed refills in 120 s
HEALTH_INTERVAL = timedelta(minutes=5)  # how often each account's sync health is judged


def stock_sandbox_catalog(session: Session, listings: list[dict[str, Any]]) -> None:
    """A product per sandbox listing, with opening stock in MAIN, connected on every marketplace it sells
    in, so that a demo books product rows that allocate stock (O5) instead of free text. A product or
    connection the seller already has is left as it is; the opening stock is counted once."""
    warehouses = {code: warehouse_by_code(session, code) for code in ("MAIN", "FBA")}
    for listing in listings:
        sku = str(listing["sku"])
        fba = listing.get("fulfilledBy") == "AMAZON"
        product = session.scalar(select(Product).where(Product.sku == sku))
        if product is None:
            product = save_product(session, sku, str(listing.get("title") or sku))
            session.flush()
        if product.stock_tracked and not product.is_bundle:
            # FBA units reach the FBA warehouse only as Amazon receives the sandbox's inbound shipments
            # (F4) and leave it by the ledger, so the seller's own warehouse holds enough to send.
            count_stock(
                session,
                product,
                warehouses["MAIN"],
                SANDBOX_OPENING_STOCK * (10 if fba else 1),
                reference=f"sandbox-opening:{sku}",
                now=utc_now(),
            )
        for marketplace_id in listing.get("marketplaceIds", []):
            channel = channel_for(session, str(marketplace_id))
            existing = find_listing(session, channel, sku)
            if existing is None or existing.product_id is None:
                connect_listing(
                    session,
                    channel,
                    sku,
                    sku,
                    now=utc_now(),
                    asin=listing.get("asin"),
                    fulfilment=ListingFulfilment.FBA if fba else ListingFulfilment.FBM,
                )


def plan_jobs(
    scheduler: Scheduler,
    runtime: Runtime,
    *,
    completeness_days: int = 3,
    first_sync: timedelta = timedelta(0),
) -> list[tuple[int, str]]:
    """Per account: an order sync every searchOrders refill, a daily completeness check and each report
    type on its handler's schedule."""
    planned: list[tuple[int, str]] = []
    # Read, then plan: the quota limiter writes in transactions of its own, which on SQLite would wait
    # for a writing session held open here.
    with reading(runtime.sessions) as session:
        accounts = list_accounts(session)
    for account in accounts:
        clock = runtime.endpoint(account).clock
        # The rate in the store may have been learned from Amazon (dynamic usage plans).
        limiter = runtime.limiter(clock)
        rate = limiter.state(account.selling_partner_id, account.region, "searchOrders").rate
        scheduler.every(
            orders_interval(rate),
            f"sync {account.label}",
            sync_account_orders,
            account.id,
            clock=clock,
            first=first_sync,
        )
        scheduler.every(
            timedelta(days=1),
            f"completeness {account.label}",
            check_account_completeness,
            account.id,
            completeness_days,
            clock=clock,
            first=timedelta(hours=1),
        )
        for report_type, interval in scheduled_types().items():
            # R1 and F-rules: each report type on its own schedule (settlements: discovered).
            scheduler.every(
                interval,
                f"reports {short_name(report_type)} {account.label}",
                sync_account_reports,
                account.id,
                report_type,
                clock=clock,
                first=first_sync + timedelta(minutes=5),
            )
        # F3-F5: inbound shipments (getShipments refills 2 a second, so polling is cheap), first
        # after the reports: it waits for the FBA opening and the ledger (`inbound_waits`).
        scheduler.every(
            timedelta(minutes=30),
            f"inbound {account.label}",
            sync_account_inbound,
            account.id,
            clock=clock,
            first=first_sync + timedelta(minutes=6),
        )
        planned.append((account.id, account.label))
    # O23, I1: the outbox sender on the first account's clock (the sandbox's, when it runs one).
    sender_clock = runtime.endpoint(accounts[0]).clock if accounts else utc_now
    scheduler.every(OUTBOX_INTERVAL, "outbox", send_to_amazon, clock=sender_clock)
    scheduler.every(
        timedelta(days=1), "nightly stock push", push_all_stock, clock=sender_clock, first=timedelta(hours=1)
    )
    # Sync health: a failing account opens an alert (and one e-mail); checked after the first syncs.
    scheduler.every(
        HEALTH_INTERVAL,
        "sync health",
        watch_sync_health,
        clock=sender_clock,
        first=first_sync + HEALTH_INTERVAL,
    )
    # F5: the notices the book queued go out every few minutes, on the real clock.
    scheduler.every(timedelta(minutes=5), "notices", send_notices, clock=utc_now)
    # P4: the retention sweep runs at start and then daily, on the real clock: Amazon's DPP counts
    # real days, whatever speed a sandbox runs at.
    scheduler.every(timedelta(days=1), "privacy sweep", sweep_personal_data, clock=utc_now)
    return planned


Printer = Callable[[str], None]


def describe(result: Any) -> str:
    """One line for what a job did (the job's name, which names the account, is printed before it)."""
    if isinstance(result, dict) and "fetched" in result:
        return (
            f"{result['fetched']} fetched, {result['booked']} booked, "
            f"{result['skipped']} skipped, {result['quarantined']} quarantined"
        )
    if isinstance(result, dict) and len(result) == 1:
        return str(next(iter(result.values())))
    return str(result)
