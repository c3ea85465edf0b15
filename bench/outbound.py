"""Benchmark: shipment confirmations and stock levels back to Amazon (issue 7), against the sandbox.

A seller with 2,000 FBM listings (US) and 1,000 booked FBM orders; then a burst of 10,000 stock changes
over the listings' products and the 1,000 shipments, committed to the book. Printed for the outbox
sender and for a naive sender that makes one call per change (a patchListingsItem with the quantity
after each stock change, a confirmShipment per shipment) from the same starting state:
SP-API calls used (429s included), Amazon time from the end of the burst until the sandbox shows the
last change, and the minimum number of calls Amazon's quotas allow for the same end state (one
confirmShipment per shipment; one createFeedDocument + createFeed per marketplace for the stock).

Run: .venv/bin/python bench/outbound.py [--listings 2000 --changes 10000 --shipments 1000]
Figures come from the sandbox's virtual clock (speed 0: every wait advances it), never from sleeping.
"""

from __future__ import annotations

import argparse
import copy
import random
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from orderbridge import db_admin
from orderbridge.amazon.accounts import NewAccount, SellerAccount, add_account, credentials
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.api.quotas import QuotaBucket, QuotaLimiter
from orderbridge.amazon.orders.sync import sync_orders
from orderbridge.amazon.outbound.listing_quantities import PRODUCT_TYPE, FeedState, StockFeed, quantity_patch
from orderbridge.amazon.outbound.sender import send_outbox
from orderbridge.amazon.outbound.sender_pass import SenderDeps
from orderbridge.amazon.outbound.shipment_packages import Confirmation, confirmation_for
from orderbridge.book.catalog import Product
from orderbridge.book.inventory import MovementReason, available_quantity, move_stock, warehouse_by_code
from orderbridge.book.orders.model import Fulfilment, RowKind, SalesOrder
from orderbridge.book.orders.shipping import ship_order
from orderbridge.db import make_engine, session_factory
from orderbridge.jobs.runner import prepare_sandbox_book, stock_sandbox_catalog
from orderbridge.outbox.models import MessageStatus, OutboxMessage
from orderbridge.privacy.keystore import KeyStore, open_keystore
from orderbridge.simulator.app import Sandbox, create_app
from orderbridge.simulator.clock import VirtualClock, parse_iso
from orderbridge.simulator.generator import Settings, generate
from orderbridge.simulator.in_process import InProcessTransport as Transport
from orderbridge.simulator.lifecycle import READY_AFTER
from orderbridge.simulator.world import Listing as SandboxListing

NOW = parse_iso("2026-03-02T12:00:00Z")
BASE = "http://sandbox.local"
US = "ATVPDKIKX0DER"
AMAZON_OPERATIONS_EXCLUDED = {"lwa.token", "admin", "download", "upload"}
console = Console()


@dataclass
class Bench:
    sandbox: Sandbox
    sessions: sessionmaker[Session]
    keys: KeyStore
    account_id: int = 0
    transport: Transport = field(init=False)

    def __post_init__(self) -> None:
        self.transport = Transport(create_app(self.sandbox))

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

    def admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.transport.handle_request(httpx.Request("POST", f"{BASE}/_sandbox{path}", json=body))
        if response.status_code >= 300:
            raise RuntimeError(f"sandbox {path}: {response.status_code} {response.text[:200]}")
        result: dict[str, Any] = response.json()
        return result


def build(listings: int, orders: int, tmp: Path) -> tuple[Bench, list[str]]:
    """The sandbox seller with `listings` FBM listings, the book stocked and connected, `orders` booked."""
    world = generate(Settings(seed=7, orders_per_day=1, days=1, marketplaces=["US"], now=NOW))
    seller = next(iter(world.accounts.values()))
    skus = [f"OB-{n:05d}" for n in range(listings)]
    for n, sku in enumerate(skus):
        world.add_listing(
            SandboxListing(
                seller.seller_id,
                sku,
                f"B0OB{n:06d}",
                f"X0OB{n:06d}",
                f"Bench item {n}",
                {"US": Decimal("9.99")},
            )
        )
    sandbox = Sandbox(world, clock=VirtualClock(world.now, speed=0.0))
    engine = make_engine(f"sqlite:///{tmp / f'outbound-{uuid.uuid4().hex[:6]}.db'}")
    db_admin.upgrade(engine)
    sessions = session_factory(engine)
    bench = Bench(sandbox, sessions, open_keystore(tmp / "keys", key_file=tmp / "kek", environ={}))
    with sessions.begin() as session:
        new = NewAccount(
            selling_partner_id=seller.seller_id,
            name=seller.name,
            region=seller.region,
            lwa_client_id=seller.client_id,
            client_secret=seller.client_secret,
            refresh_token=seller.refresh_token,
            marketplaces=[US],
            sp_api_endpoint=BASE,
            lwa_endpoint=f"{BASE}/auth/o2/token",
        )
        bench.account_id = add_account(session, bench.keys, new, clock=bench.now).id
        prepare_sandbox_book(session, [US])
        catalog = [{"sku": sku, "fulfilledBy": "MERCHANT", "marketplaceIds": [US]} for sku in skus]
        stock_sandbox_catalog(session, catalog)
    rng = random.Random(3)
    for _ in range(orders):
        line = {"sku": rng.choice(skus), "quantity": rng.choice((1, 1, 2))}
        bench.admin("/orders", {"sellerId": seller.seller_id, "marketplace": "US", "items": [line]})
    bench.sleep(READY_AFTER + 600)
    sync_orders(
        bench.account_id, sessions=sessions, client_factory=bench.client, clock=bench.now, keys=bench.keys
    )
    return bench, skus


def drain(bench: Bench, wait: float = 30.0) -> None:
    """Outbox passes until nothing is pending or in a feed; Amazon time passes between passes."""
    for _ in range(500):
        report = send_outbox(SenderDeps(bench.sessions, bench.client, bench.now))
        with bench.sessions() as session:
            left = session.scalar(
                select(OutboxMessage.id)
                .where(OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.SENDING]))
                .limit(1)
            )
            feeds = session.scalar(
                select(StockFeed.id).where(StockFeed.state == FeedState.SUBMITTED).limit(1)
            )
        if left is None and feeds is None and not report.waiting_for_feed:
            return
        bench.sleep(wait)
    raise RuntimeError("the outbox did not drain")


@dataclass
class Event:
    """One change as a naive sender sees it: a listing's new quantity, or a shipment to confirm."""

    sku: str = ""
    quantity: int = 0
    shipment_id: int = 0


def burst(bench: Bench, skus: list[str], changes: int) -> list[Event]:
    """`changes` stock changes and every booked order shipped, interleaved, in transactions of 100."""
    rng = random.Random(11)
    events: list[Event] = []
    with bench.sessions() as session:
        orders = [
            o.id
            for o in session.scalars(select(SalesOrder).where(SalesOrder.fulfilment == Fulfilment.SELLER))
            if any(r.kind == RowKind.PRODUCT and r.allocated == r.quantity > 0 for r in o.rows)
        ]
    batches = max(1, changes // 100)
    per_batch_orders = -(-len(orders) // batches)
    for batch in range(batches):
        with bench.sessions.begin() as session:
            main = warehouse_by_code(session, "MAIN")
            products = {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(skus)))}
            for n in range(100):
                product = products[rng.choice(skus)]
                level = available_quantity(session, product, main)
                delta = rng.choice((-3, -2, -1, 1, 2, 3, 5)) if level > 5 else rng.randint(1, 5)
                reference = f"bench:{batch}:{n}"
                move_stock(
                    session,
                    product,
                    main,
                    delta,
                    reason=MovementReason.CORRECTION,
                    reference=reference,
                    now=bench.now(),
                )
                session.flush()
                events.append(Event(sku=product.sku, quantity=available_quantity(session, product, main)))
            for order_id in orders[batch * per_batch_orders : (batch + 1) * per_batch_orders]:
                order = session.get(SalesOrder, order_id)
                assert order is not None
                shipment = ship_order(
                    session,
                    order,
                    reference="S1",
                    now=bench.now(),
                    tracking_number=f"1Z{order_id:08d}",
                    carrier="UPS",
                )
                session.flush()
                events.append(Event(shipment_id=shipment.id))
    return events


def amazon_calls(sandbox: Sandbox) -> int:
    return sum(s.calls for op, s in sandbox.calls.stats.items() if op not in AMAZON_OPERATIONS_EXCLUDED)


def last_change(sandbox: Sandbox, started: float) -> float:
    """When the sandbox last changed what a listing or order shows: a write call, or a feed finishing."""
    writes = [
        c.ts
        for c in sandbox.calls.recent
        if c.operation in ("confirmShipment", "patchListingsItem") and c.status < 300
    ]
    feeds = [
        f.finished for f in sandbox.feeds.feeds.values() if f.finished is not None and f.created >= started
    ]
    return max([started, *writes, *feeds]) - started


def naive(bench: Bench, snapshot: Sandbox, events: list[Event], tmp: Path) -> tuple[int, float]:
    """One call per change, in the order the changes happened, on a copy of the sandbox before the burst."""
    # The naive sender's buckets live in an in-memory store: the same limiter, without its disk cost.
    engine = make_engine("sqlite://", poolclass=StaticPool)
    db_admin.upgrade(engine)
    quota_sessions = session_factory(engine)
    now: Callable[[], datetime] = lambda: datetime.fromtimestamp(snapshot.clock.now(), UTC)  # noqa: E731
    with bench.sessions() as session:
        account = session.get(SellerAccount, bench.account_id)
        assert account is not None
        creds = credentials(account, bench.keys)
        confirmations = {
            e.shipment_id: confirmation_for(session, e.shipment_id) for e in events if e.shipment_id
        }
    started = snapshot.clock.now()
    with SpApiClient(
        creds,
        quotas=QuotaLimiter(quota_sessions, clock=now),
        clock=now,
        sleep=snapshot.advance,
        transport=Transport(create_app(snapshot)),
    ) as client:
        for event in events:
            if event.shipment_id:
                found = confirmations[event.shipment_id]
                assert isinstance(found, Confirmation)
                client.confirm_shipment(found.amazon_order_id, found.marketplace_id, found.package)
            else:
                client.patch_listings_item(event.sku, [US], PRODUCT_TYPE, [quantity_patch(event.quantity)])
    engine.dispose()
    return amazon_calls(snapshot), last_change(snapshot, started)


def check_matches(bench: Bench, sandbox: Sandbox, skus: list[str]) -> int:
    """Listings whose quantity at the sandbox differs from the book's available stock (0 expected)."""
    seller = next(iter(sandbox.world.accounts))
    with bench.sessions() as session:
        main = warehouse_by_code(session, "MAIN")
        products = {p.sku: p for p in session.scalars(select(Product).where(Product.sku.in_(skus)))}
        wrong = 0
        for sku in skus:
            listing = sandbox.world.listing(seller, sku)
            wrong += listing is None or listing.quantity != available_quantity(session, products[sku], main)
    return wrong


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--listings", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=10000)
    parser.add_argument("--shipments", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        tmp = Path(directory)
        began = time.perf_counter()
        bench, skus = build(args.listings, args.shipments, tmp)
        drain(bench)  # every listing pushed once: the state both senders start from
        with bench.sessions.begin() as session:
            session.execute(delete(QuotaBucket))  # both senders start with full buckets
        snapshot = Sandbox(
            copy.deepcopy(bench.sandbox.world), clock=VirtualClock(bench.sandbox.clock.now(), speed=0.0)
        )
        setup = time.perf_counter() - began
        events = burst(bench, skus, args.changes)
        shipments = sum(1 for e in events if e.shipment_id)
        bench.sandbox.calls.clear()
        started = bench.sandbox.clock.now()
        began = time.perf_counter()
        drain(bench)
        ours_wall = time.perf_counter() - began
        ours_calls, ours_time = amazon_calls(bench.sandbox), last_change(bench.sandbox, started)
        ours_ops = {
            op: s.calls for op, s in bench.sandbox.calls.stats.items() if op not in AMAZON_OPERATIONS_EXCLUDED
        }
        wrong = check_matches(bench, bench.sandbox, skus)
        began = time.perf_counter()
        naive_calls, naive_time = naive(bench, snapshot, events, tmp)
        naive_wall = time.perf_counter() - began
        naive_wrong = check_matches(bench, snapshot, skus)
    minimum = shipments + 2  # one feed for the one marketplace: createFeedDocument + createFeed
    table = Table(
        title=f"{args.changes} stock changes over {args.listings} listings, {shipments} shipments (US)"
    )
    for column in (
        "sender",
        "SP-API calls",
        "vs minimum",
        "Amazon time to last change",
        "listings wrong",
        "wall",
    ):
        table.add_column(column, justify="right" if column != "sender" else "left")
    table.add_row(
        "outbox",
        str(ours_calls),
        f"{ours_calls / minimum:.3f}x",
        f"{ours_time:,.0f} s",
        str(wrong),
        f"{ours_wall:.0f} s",
    )
    table.add_row(
        "naive (a call per change)",
        str(naive_calls),
        f"{naive_calls / minimum:.3f}x",
        f"{naive_time:,.0f} s",
        str(naive_wrong),
        f"{naive_wall:.0f} s",
    )
    table.add_row("minimum the quotas allow", str(minimum), "1.000x", "-", "-", "-")
    console.print(table)
    console.print(f"outbox calls by operation: {ours_ops}; setup {setup:.0f} s (wall)", highlight=False)


if __name__ == "__main__":
    main()
