"""A generated sandbox world with orderbridge synced against it: the store, accounts, book and clock."""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.accounts import NewAccount, SellerAccount, add_account, credentials
from orderbridge.amazon.api.calls import CallLog
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.api.quotas import QuotaLimiter
from orderbridge.amazon.channel import change_settings, channel_for, settings_for
from orderbridge.amazon.orders.mapping import status_name
from orderbridge.amazon.orders.records import AmazonOrderRecord, BookedState
from orderbridge.amazon.orders.sync import SyncDeps, SyncOptions, SyncReport, sync_orders
from orderbridge.book.inventory import WarehouseKind, add_warehouse
from orderbridge.book.orders.model import RowKind, SalesOrder
from orderbridge.book.orders.statuses import ensure_default_statuses
from orderbridge.book.tax import add_tax_code, add_tax_rule
from orderbridge.privacy.keystore import KeyStore, open_keystore
from orderbridge.simulator import worldfile
from orderbridge.simulator.app import Sandbox, create_app
from orderbridge.simulator.clock import VirtualClock
from orderbridge.simulator.in_process import InProcessTransport
from orderbridge.simulator.serving import ServedSandbox
from orderbridge.simulator.world import SellerAccount as SandboxSeller
from orderbridge.simulator.world import SimOrder
from tests.amazon.conftest import BASE, VirtualTime


def make_sandbox(world_data: dict[str, Any]) -> Sandbox:
    world = worldfile.load(copy.deepcopy(world_data))
    return Sandbox(world, clock=VirtualClock(world.now, speed=0.0))


def setup_book(session: Session, marketplace_ids: list[str]) -> None:
    """Statuses, an own warehouse and an FBA one per region, every marketplace's channel pointed at them."""
    ensure_default_statuses(session)
    add_warehouse(session, "MAIN", "Main warehouse")
    add_warehouse(session, "FBA", "Amazon FBA", WarehouseKind.FBA, region="EU")
    add_tax_code(session, "T20", "Standard 20 %", Decimal("0.20"))
    add_tax_code(session, "T19", "DE 19 %", Decimal("0.19"))
    session.flush()
    add_tax_rule(session, "T20")
    add_tax_rule(session, "T19", ship_to_country="DE")
    for marketplace_id in marketplace_ids:
        channel = channel_for(session, marketplace_id)
        change_settings(session, channel, {"fbm_warehouse": "MAIN", "fba_warehouse": "FBA"})


@dataclass
class SyncWorld:
    """orderbridge's store and the sandbox it syncs from, on the sandbox's virtual clock."""

    sandbox: Sandbox
    sessions: sessionmaker[Session]
    keys: KeyStore
    accounts: dict[str, int] = field(default_factory=dict)  # sandbox seller id -> account id
    options: SyncOptions = field(default_factory=SyncOptions)

    def __post_init__(self) -> None:
        self.vtime = VirtualTime(self.sandbox)
        self.transport = InProcessTransport(create_app(self.sandbox))
        self.calls = CallLog()

    def client(self, account: SellerAccount) -> SpApiClient:
        return SpApiClient(
            credentials(account, self.keys),
            quotas=QuotaLimiter(self.sessions, clock=self.vtime.now),
            clock=self.vtime.now,
            sleep=self.vtime.sleep,
            transport=self.transport,
            calls=self.calls,
        )

    def deps(self, **changes: Any) -> SyncDeps:
        options = SyncOptions(**{**self.options.__dict__, **changes})
        return SyncDeps(self.sessions, self.client, self.vtime.now, self.keys, options)

    def sync(self, seller_id: str, **changes: Any) -> SyncReport:
        deps = self.deps(**changes)
        return sync_orders(
            self.accounts[seller_id],
            sessions=self.sessions,
            client_factory=deps.client_factory,
            clock=deps.clock,
            keys=deps.keys,
            options=deps.options,
        )

    def place_order(self, seller_id: str) -> str:
        """A new order of one unit of the seller's first listing, through the sandbox's admin API."""
        seller = self.sandbox.world.accounts[seller_id]
        sku = next(sku for (sid, sku) in self.sandbox.world.listings if sid == seller_id)
        body = {
            "sellerId": seller_id,
            "marketplace": seller.marketplace_ids[0],
            "items": [{"sku": sku, "quantity": 1}],
        }
        response = self.transport.handle_request(httpx.Request("POST", f"{BASE}/_sandbox/orders", json=body))
        assert response.status_code in (200, 201), response.read()
        return str(response.json()["orderId"])

    def seller(self, region: str) -> SandboxSeller:
        return next(s for s in self.sandbox.world.accounts.values() if s.region == region)

    def visible_orders(self, seller_id: str) -> list[SimOrder]:
        """The sandbox's truth: the seller's orders Amazon shows now (late ones only once visible)."""
        now = self.sandbox.clock.now()
        return [
            o
            for o in self.sandbox.world.orders.values()
            if o.seller_id == seller_id and o.visible_ts <= now and o.updated_ts <= now - 120
        ]


def open_world(
    store_url_sessions: sessionmaker[Session],
    sandbox: Sandbox,
    tmp: Path,
    *,
    base: str = BASE,
    prepare: bool = True,
) -> SyncWorld:
    """Accounts for every sandbox seller and a book ready to take their orders (`prepare=False`: the
    accounts alone, as on a brand-new installation)."""
    keys = open_keystore(tmp / "keys", key_file=tmp / "kek", environ={})
    world = SyncWorld(sandbox, store_url_sessions, keys)
    markets: list[str] = []
    with store_url_sessions.begin() as session:
        for seller in sandbox.world.accounts.values():
            new = NewAccount(
                selling_partner_id=seller.seller_id,
                name=seller.name,
                region=seller.region,
                lwa_client_id=seller.client_id,
                client_secret=seller.client_secret,
                refresh_token=seller.refresh_token,
                marketplaces=list(seller.marketplace_ids),
                sp_api_endpoint=base,
                lwa_endpoint=f"{base}/auth/o2/token",
            )
            account = add_account(session, keys, new, clock=world.vtime.now)
            world.accounts[seller.seller_id] = account.id
            markets += [m for m in seller.marketplace_ids if m not in markets]
        if prepare:
            setup_book(session, markets)
    return world


def account_of(world: SyncWorld, session: Session, seller_id: str) -> SellerAccount:
    found = session.scalar(select(SellerAccount).where(SellerAccount.id == world.accounts[seller_id]))
    assert found is not None
    return found


BOOKED_STATUSES = ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED")


def booked_orders(session: Session, marketplace_id: str) -> dict[str, SalesOrder]:
    channel = channel_for(session, marketplace_id)
    query = select(SalesOrder).where(SalesOrder.channel_id == channel.id)
    return {order.external_ref: order for order in session.scalars(query)}


def assert_book_matches(world: SyncWorld, seller_id: str) -> int:
    """Order by order: every order Amazon shows Ready is booked once with its items and its status."""
    truth = world.visible_orders(seller_id)
    checked = 0
    with world.sessions() as session:
        markets = {order.marketplace_id for order in truth}
        booked = {mid: booked_orders(session, mid) for mid in markets}
        skipped = set(
            session.scalars(
                select(AmazonOrderRecord.amazon_order_id).where(
                    AmazonOrderRecord.state == BookedState.SKIPPED
                )
            )
        )
        for order in truth:
            found = booked[order.marketplace_id].get(order.order_id)
            if order.status not in BOOKED_STATUSES or order.order_id in skipped:
                assert found is None or order.status == "CANCELLED", order.order_id
                continue
            assert found is not None, f"{order.order_id} ({order.status}) is not in the book"
            assert_rows(order, found)
            assert found.status.name == expected_status(session, order), order.order_id
            checked += 1
        # An order Amazon changed in the last two minutes is outside the truth but may be booked already.
        truth_ids = {o.order_id for o in truth}
        fresh = {
            o.order_id
            for o in world.sandbox.world.orders.values()
            if o.seller_id == seller_id and o.order_id not in truth_ids
        }
        total = sum(1 for orders in booked.values() for order_id in orders if order_id not in fresh)
        assert total == checked + sum(1 for o in truth if o.status == "CANCELLED" and _in(booked, o))
    return checked


def _in(booked: dict[str, dict[str, SalesOrder]], order: SimOrder) -> bool:
    return order.order_id in booked[order.marketplace_id]


def assert_rows(order: SimOrder, found: SalesOrder) -> None:
    wanted = Counter(
        (item["product"]["sellerSku"], int(item["quantityOrdered"])) for item in order.doc["orderItems"]
    )
    goods = Counter(
        (row.sku, row.quantity + row.cancelled_quantity)
        for row in found.rows
        if row.parent_row_id is None and row.kind in (RowKind.PRODUCT, RowKind.FREE_TEXT, RowKind.BUNDLE)
    )
    assert goods == wanted, order.order_id


def expected_status(session: Session, order: SimOrder) -> str:
    settings = settings_for(session, channel_for(session, order.marketplace_id))
    programs = set(order.doc.get("programs") or [])
    fba = order.fulfilled_by == "AMAZON"
    return status_name(settings, pending=False, prime="PRIME" in programs, fba=fba)


@contextmanager
def served(sandbox: Sandbox) -> Iterator[str]:
    """The sandbox on a real port of 127.0.0.1 (uvicorn in a thread), for other processes to call."""
    with ServedSandbox(sandbox) as running:
        yield running.url
