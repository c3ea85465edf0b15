"""A synced sandbox world with a stocked, connected catalog, and the outbox sender pointed at the sandbox."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.outbound.sender import send_outbox
from orderbridge.amazon.outbound.sender_pass import SenderDeps, SenderOptions, SendReport
from orderbridge.book.orders.model import Fulfilment, OrderRow, RowKind, SalesOrder
from orderbridge.jobs.runner import stock_sandbox_catalog
from orderbridge.outbox.models import MessageStatus, OutboxMessage
from orderbridge.simulator.app import Sandbox, create_app
from orderbridge.simulator.in_process import InProcessTransport
from orderbridge.simulator.world import SimOrder
from tests.amazon.conftest import BASE
from tests.e2e.sync_world import SyncWorld, open_world

V0_CONFIRM = "/shipmentConfirmation"


class RecordingTransport(InProcessTransport):
    """The in-process sandbox, keeping every JSON body sent to an SP-API path (for strict validation)."""

    def __init__(self, app: Any) -> None:
        super().__init__(app)
        self.sent: list[tuple[str, str, Any]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        if request.url.path.startswith(("/orders/", "/feeds/", "/listings/")) and body:
            self.sent.append((request.method, request.url.path, json.loads(body)))
        return super().handle_request(request)


def sandbox_listings(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The sandbox's listings as its admin endpoint lists them."""
    from orderbridge.simulator.marketplaces import marketplace

    return [
        {
            "sellerId": listing.seller_id,
            "sku": listing.sku,
            "asin": listing.asin,
            "title": listing.title,
            "fulfilledBy": listing.fulfilled_by,
            "marketplaceIds": sorted(marketplace(code).marketplace_id for code in listing.prices),
        }
        for listing in sandbox.world.listings.values()
    ]


@dataclass
class OutboundWorld:
    """The synced world, its recording transport and the sender's dependencies."""

    world: SyncWorld
    transport: RecordingTransport
    options: SenderOptions = field(default_factory=SenderOptions)

    @property
    def sandbox(self) -> Sandbox:
        return self.world.sandbox

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.world.sessions

    def deps(self) -> SenderDeps:
        return SenderDeps(self.sessions, self.world.client, self.world.vtime.now, self.options)

    def send(self) -> SendReport:
        return send_outbox(self.deps())

    def drain(self, passes: int = 30, *, wait: float = 60.0) -> list[SendReport]:
        """Send until nothing is pending, sending or waiting for a feed; Amazon time passes between."""
        reports = []
        for _ in range(passes):
            reports.append(self.send())
            if not self.unfinished() and not reports[-1].waiting_for_feed:
                return reports
            self.world.vtime.sleep(wait)
        raise AssertionError(f"the outbox did not drain: {self.unfinished()}")

    def unfinished(self) -> list[tuple[int, str]]:
        with self.sessions() as session:
            rows = session.execute(
                select(OutboxMessage.id, OutboxMessage.status).where(
                    OutboxMessage.status.in_([MessageStatus.PENDING, MessageStatus.SENDING])
                )
            ).all()
        from orderbridge.amazon.outbound.listing_quantities import FeedState, StockFeed

        with self.sessions() as session:
            feeds = session.scalars(select(StockFeed.id).where(StockFeed.state == FeedState.SUBMITTED)).all()
        return [(int(i), str(s)) for i, s in rows] + [(int(f), "feed") for f in feeds]

    def sim_order(self, order: SalesOrder) -> SimOrder:
        return self.sandbox.world.orders[order.external_ref]

    def sent_bodies(self, fragment: str) -> list[Any]:
        return [body for _, path, body in self.transport.sent if fragment in path]


def open_outbound(
    sessions: sessionmaker[Session], sandbox: Sandbox, tmp: Path, *, base: str = BASE
) -> OutboundWorld:
    """Accounts for every seller, a stocked product per listing, and every seller's orders booked."""
    world = open_world(sessions, sandbox, tmp, base=base)
    transport = RecordingTransport(create_app(sandbox))
    world.transport = transport
    with sessions.begin() as session:
        stock_sandbox_catalog(session, sandbox_listings(sandbox))
    for seller_id in world.accounts:
        world.sync(seller_id)
    return OutboundWorld(world, transport)


def shippable_orders(session: Session, sandbox: Sandbox, *, limit: int = 100) -> Iterator[SalesOrder]:
    """Booked seller-fulfilled orders, unshipped at Amazon, every product row allocated, none shipped."""
    query = select(SalesOrder).where(
        SalesOrder.fulfilment == Fulfilment.SELLER,
        SalesOrder.shipped_at.is_(None),
        SalesOrder.confirm_shipments.is_(True),  # Amazon collects Easy Ship orders itself (O24)
    )
    found = 0
    for order in session.scalars(query.order_by(SalesOrder.id)):
        products = [row for row in order.rows if row.kind == RowKind.PRODUCT]
        at_amazon = sandbox.world.orders.get(order.external_ref)
        if at_amazon is None or at_amazon.status != "UNSHIPPED" or order.is_cancelled:
            continue
        if products and all(_ready(row) for row in products):
            yield order
            found += 1
            if found >= limit:
                return


def _ready(row: OrderRow) -> bool:
    return row.shipped == 0 and row.allocated == row.quantity and row.quantity > 0
