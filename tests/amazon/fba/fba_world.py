"""A sandbox world with orderbridge's FBA side set up: products for every listing, own stock to send,
an SMTP server for the notices, and helpers to drive the sandbox and read the book."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.channel import channel_for
from orderbridge.amazon.fba.inbound import InboundReport, sync_inbound
from orderbridge.amazon.fba.ledger_rows import LEDGER
from orderbridge.amazon.fba.records import LedgerEntry
from orderbridge.amazon.listings import ListingFulfilment, connect_listing
from orderbridge.amazon.reports.booking import ReportSource, import_report_file
from orderbridge.amazon.reports.sync import ReportSyncResult, sync_reports
from orderbridge.book.catalog import Product, save_product
from orderbridge.book.credits import SalesCredit
from orderbridge.book.inventory import StockLevel, StockMovement, count_stock, warehouse_by_code
from orderbridge.book.payments import Payment
from orderbridge.book.settlements import SettlementLine
from orderbridge.book.transfers import TransferRow
from orderbridge.notify.mail import MailSettings, SendReport, send_pending
from orderbridge.notify.notices import Notice
from orderbridge.simulator.world import SellerAccount as SandboxSeller
from tests.amazon.conftest import BASE
from tests.e2e.sync_world import SyncWorld

OWN_STOCK = 5000


def stock_catalog(world: SyncWorld, *, own_stock: int = OWN_STOCK, count: str = "opening") -> None:
    """A product per sandbox listing, connected on its marketplaces; FBA SKUs stocked in MAIN to send."""
    now = datetime.fromtimestamp(world.sandbox.clock.now(), UTC)
    with world.sessions.begin() as session:
        main = warehouse_by_code(session, "MAIN")
        for (seller_id, sku), listing in sorted(world.sandbox.world.listings.items()):
            product = save_product(session, sku, listing.title or sku)
            session.flush()
            fba = listing.fulfilled_by == "AMAZON"
            if fba and own_stock:
                count_stock(session, product, main, own_stock, reference=f"{count}:{sku}", now=now)
            for marketplace_id in world.sandbox.world.accounts[seller_id].marketplace_ids:
                connect_listing(
                    session,
                    channel_for(session, marketplace_id),
                    sku,
                    sku,
                    now=now,
                    asin=listing.asin,
                    fulfilment=ListingFulfilment.FBA if fba else ListingFulfilment.FBM,
                )


def admin(world: SyncWorld, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    response = world.transport.handle_request(httpx.Request(method, f"{BASE}/_sandbox{path}", json=body))
    assert response.status_code < 300, response.read()
    return response.json()


def fba_skus(world: SyncWorld, seller: SandboxSeller) -> list[str]:
    return sorted(
        listing.sku
        for (seller_id, _), listing in world.sandbox.world.listings.items()
        if seller_id == seller.seller_id and listing.fulfilled_by == "AMAZON"
    )


def sync_report_types(world: SyncWorld, seller: SandboxSeller, report_types: list[str]) -> ReportSyncResult:
    """`orderbridge reports sync --type ...` for one sandbox seller, on the sandbox clock."""
    with world.sessions() as session:
        account = session.get(SellerAccount, world.accounts[seller.seller_id])
        assert account is not None
        session.expunge(account)
    with world.client(account) as client:
        return sync_reports(
            world.sessions, client, account_id=account.id, clock=world.vtime.now, report_types=report_types
        )


def first_fba_sync(world: SyncWorld, seller: SandboxSeller) -> None:
    """A seller's first FBA sync, as `orderbridge run` starts: the ledger report sync takes Amazon's
    count (the FBA opening) and books the ledger up to now. Inbound shipments wait for it."""
    result = sync_report_types(world, seller, [LEDGER])
    assert not result.failed, result.failed


def poll_inbound(world: SyncWorld, seller: SandboxSeller) -> InboundReport:
    return sync_inbound(
        world.accounts[seller.seller_id],
        sessions=world.sessions,
        client_factory=world.client,
        clock=world.vtime.now,
    )


def send(world: SyncWorld, mail: MailSettings) -> SendReport:
    return send_pending(world.sessions, mail, clock=world.vtime.now)


def on_hand(session: Session, warehouse: str) -> Counter[str]:
    """SKU -> on hand in a warehouse (zero levels left out)."""
    found = warehouse_by_code(session, warehouse)
    rows = session.execute(
        select(Product.sku, StockLevel.on_hand)
        .join(Product, Product.id == StockLevel.product_id)
        .where(StockLevel.warehouse_id == found.id)
    )
    return Counter({sku: units for sku, units in rows if units})


def sandbox_fba_stock(world: SyncWorld, seller: SandboxSeller) -> Counter[str]:
    """The sandbox's sellable FBA units per SKU (all centres of the seller)."""
    totals: Counter[str] = Counter()
    for (seller_id, sku, _fc), units in world.sandbox.world.stock.items():
        if seller_id == seller.seller_id and units:
            totals[sku] += units
    return totals


def _account(world: SyncWorld, region: str = "NA") -> SellerAccount:
    with world.sessions() as session:
        account = session.get(SellerAccount, world.accounts[world.seller(region).seller_id])
        assert account is not None
        return account


def fetch_reports(
    world: SyncWorld, tmp: Path, report_types: Sequence[str], *, since: datetime, region: str = "NA"
) -> list[Path]:
    """Every FBA report from `since` to now, requested at the sandbox in 30-day windows and imported."""
    account = _account(world, region)
    client = world.client(account)
    files = []
    now = world.vtime.now() - timedelta(minutes=2)
    for report_type in report_types:
        start = since
        while start < now:
            end = min(start + timedelta(days=30), now)
            report_id = client.create_report(report_type, account.marketplace_ids, start=start, end=end)
            report = client.wait_for_report(report_id)
            if report.report_document_id:
                path = tmp / f"{report_type}-{report_id}.tsv"
                path.write_bytes(client.download_report(report.report_document_id).data)
                import_file(world, report_type, path, report_id=report_id, region=region)
                files.append(path)
            start = end
    return files


def import_file(
    world: SyncWorld, report_type: str, path: Path, *, report_id: str | None = None, region: str = "NA"
) -> None:
    account = _account(world, region)
    source = ReportSource(
        report_id=report_id, marketplace_ids=tuple(account.marketplace_ids), source="requested"
    )
    import_report_file(
        world.sessions,
        account_id=account.id,
        report_type=report_type,
        path=path,
        clock=world.vtime.now,
        source=source,
        force=True,
    )


def book_snapshot(world: SyncWorld) -> tuple[object, ...]:
    """What re-running every report must leave unchanged (F10): counts of what reports book, and every
    stock level."""
    with world.sessions() as session:
        levels = select(
            StockLevel.product_id,
            StockLevel.warehouse_id,
            StockLevel.on_hand,
            StockLevel.allocated,
            StockLevel.in_transit,
        ).order_by(StockLevel.product_id, StockLevel.warehouse_id)
        counted = (StockMovement, SalesCredit, LedgerEntry, SettlementLine, Payment, Notice, TransferRow)
        return (
            tuple(session.execute(levels).all()),
            *(session.scalar(select(func.count()).select_from(model)) for model in counted),
        )
