"""Every report finds its product through the listing, as orders do: seller SKUs that are not the
product's SKU (an FBA listing `SKU-NA-0000` connected to product `BOOK-SKU-NA-0000`) book returns,
the ledger, inbound receipts, claims and settlements to the right product."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.channel import channel_for
from orderbridge.amazon.fba.claims import REIMBURSEMENTS, claims
from orderbridge.amazon.fba.ledger_booking import stock_by_centre
from orderbridge.amazon.fba.ledger_rows import LEDGER, REPLACEMENTS
from orderbridge.amazon.fba.records import LedgerEntry
from orderbridge.amazon.listings import ListingFulfilment, connect_listing
from orderbridge.amazon.reports.inbox import quarantined_rows
from orderbridge.amazon.reports.returns import FBA_RETURNS, MFN_RETURNS, ReturnCredit
from orderbridge.amazon.reports.settlements import SETTLEMENT_REPORT
from orderbridge.amazon.reports.sync import sync_reports
from orderbridge.book.catalog import Product, save_product
from orderbridge.book.credits import CreditRow, SalesCredit
from orderbridge.book.inventory import count_stock, warehouse_by_code
from orderbridge.book.settlements import SettlementLine
from orderbridge.db import make_engine, session_factory
from orderbridge.simulator import worldfile
from orderbridge.simulator.generator import parse_mix
from tests.amazon.fba.fba_world import fetch_reports, on_hand, poll_inbound, sandbox_fba_stock
from tests.e2e.sync_world import SyncWorld, make_sandbox, open_world
from tests.simulator.sandbox_helpers import small_world

DAYS = 20
_WORLD = worldfile.dump(
    small_world(
        seed=5,
        orders_per_day=6,
        days=DAYS,
        marketplaces=["US"],
        mix=parse_mix("fba=0.6,return=0.25,lost=0.05"),
    )
)
REPORTS = (REPLACEMENTS, LEDGER, REIMBURSEMENTS, FBA_RETURNS, MFN_RETURNS)


def product_sku(seller_sku: str) -> str:
    return f"BOOK-{seller_sku}"


@pytest.fixture
def world(fresh_store_url: str, tmp_path: Path) -> Iterator[SyncWorld]:
    engine = make_engine(fresh_store_url)
    found = open_world(session_factory(engine), make_sandbox(_WORLD), tmp_path)
    _catalog_under_other_skus(found)
    yield found
    engine.dispose()


def _catalog_under_other_skus(world: SyncWorld) -> None:
    """A product per sandbox listing under a SKU of the seller's own, the listing connected to it."""
    now = datetime.fromtimestamp(world.sandbox.clock.now(), UTC)
    with world.sessions.begin() as session:
        main = warehouse_by_code(session, "MAIN")
        for (seller_id, sku), listing in sorted(world.sandbox.world.listings.items()):
            product = save_product(session, product_sku(sku), listing.title or sku)
            session.flush()
            fba = listing.fulfilled_by == "AMAZON"
            count_stock(session, product, main, 5000, reference=f"opening:{sku}", now=now)
            for marketplace_id in world.sandbox.world.accounts[seller_id].marketplace_ids:
                connect_listing(
                    session, channel_for(session, marketplace_id), sku, product_sku(sku), now=now,
                    asin=listing.asin, fulfilment=ListingFulfilment.FBA if fba else ListingFulfilment.FBM,
                )  # fmt: skip


def _settlements(world: SyncWorld, account_id: int) -> None:
    with world.sessions() as session:
        account = session.get(SellerAccount, account_id)
        assert account is not None
        session.expunge(account)
    sync_reports(world.sessions, world.client(account), account_id=account_id, clock=world.vtime.now,
                 report_types=[SETTLEMENT_REPORT])  # fmt: skip


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_F1_F8_F10_reports_find_products_through_listings_whose_seller_sku_is_not_the_product_sku(
    world: SyncWorld, tmp_path: Path
) -> None:
    seller = world.seller("NA")
    account_id = world.accounts[seller.seller_id]
    since = datetime.fromtimestamp(world.sandbox.clock.now(), UTC) - timedelta(days=DAYS + 8)
    # when: orders, inbound shipments, every FBA report and the settlements are synced
    world.sync(seller.seller_id, first_lookback=timedelta(days=DAYS + 10))
    poll_inbound(world, seller)
    fetch_reports(world, tmp_path, REPORTS, since=since)
    poll_inbound(world, seller)  # inbound waits for the ledger up to now
    _settlements(world, account_id)
    fetch_reports(world, tmp_path, [FBA_RETURNS, MFN_RETURNS], since=since)  # reprice from the refunds

    with world.sessions() as session:
        # then: no row of any report was refused, and no product carries a seller SKU
        assert [row.reason for row in quarantined_rows(session)] == []
        assert session.scalar(select(Product).where(Product.sku.like("SKU-%"))) is None
        # F3-F8, F10: the FBA warehouse holds per product what Amazon holds per seller SKU, per centre too
        truth = sandbox_fba_stock(world, seller)
        assert truth and on_hand(session, "FBA") == Counter({product_sku(s): n for s, n in truth.items()})
        by_centre = {
            (sku, fc): n
            for (s, sku, fc), n in world.sandbox.world.stock.items()
            if s == seller.seller_id and n
        }
        assert stock_by_centre(session, account_id) == by_centre
        # the ledger's entries name the listing's product; every movement of one is of that product
        entries = list(session.scalars(select(LedgerEntry).where(LedgerEntry.event_type == "Shipments")))
        assert entries and all(e.product_id is not None for e in entries)
        products = {p.id: p.sku for p in session.scalars(select(Product))}
        assert {products[e.product_id] for e in entries if e.product_id} <= {
            product_sku(e.sku) for e in entries
        }
        # F1, F8: every return is a credit on the order's row of the listing's product
        returns = [e for e in world.sandbox.world.fba_events if e.kind in ("RETURN", "MFN_RETURN")]
        links = list(session.scalars(select(ReturnCredit)))
        assert returns and len(links) == len(returns)
        for link in links:
            credit = session.get(SalesCredit, link.credit_id)
            assert credit is not None and credit.total_gross > 0
            (row,) = session.scalars(select(CreditRow).where(CreditRow.credit_id == credit.id))
            assert row.sku == product_sku(link.sku)
            assert credit.restock == (link.disposition in ("SELLABLE", "C-RETURNS"))
        # R2: the settlements' refund lines carry the seller SKU and price the credits of settled returns
        refunds = session.scalars(select(SettlementLine).where(SettlementLine.transaction_type == "Refund"))
        refunded = {(line.order_ref, line.sku) for line in refunds}
        assert refunded
        settled = [link for link in links if (link.order_ref, link.sku) in refunded]
        assert settled and all(not link.priced_from_order for link in settled)
        # F7: claims list lost units by seller SKU
        assert all(claim.sku.startswith("SKU-") for claim in claims(session, include_settled=True))
