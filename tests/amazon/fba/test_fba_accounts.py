"""FBA with several seller accounts: each account's FBA stock in a warehouse of its own, its opening
count touching only that warehouse, and the book equal to Amazon per SKU, centre and account."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.fba.claims import REIMBURSEMENTS
from orderbridge.amazon.fba.ledger_booking import stock_by_centre
from orderbridge.amazon.fba.ledger_rows import LEDGER, REPLACEMENTS
from orderbridge.amazon.fba.records import FbaOpening
from orderbridge.amazon.fba_warehouses import FbaWarehouseError, fba_mappings, map_fba_warehouse, region_of
from orderbridge.amazon.reports.inbox import quarantined_rows
from orderbridge.amazon.reports.returns import FBA_RETURNS, MFN_RETURNS
from orderbridge.amazon.reports.sync import sync_reports
from orderbridge.book.inventory import WarehouseKind, add_warehouse, warehouse_by_code
from orderbridge.db import make_engine, session_factory
from orderbridge.simulator import worldfile
from orderbridge.simulator.generator import parse_mix
from orderbridge.simulator.world import SellerAccount as SandboxSeller
from tests.amazon.fba.fba_world import on_hand, poll_inbound, sandbox_fba_stock, stock_catalog
from tests.e2e.sync_world import SyncWorld, make_sandbox, open_world
from tests.simulator.sandbox_helpers import small_world

DAYS = 20
# Two sellers in North America, both selling on amazon.com with the same seller SKUs (one catalogue).
_WORLD = worldfile.dump(
    small_world(
        seed=9,
        orders_per_day=6,
        days=DAYS,
        marketplaces=["US"],
        sellers_per_region=2,
        mix=parse_mix("fba=0.7,return=0.2,replacement=0.04,lost=0.06"),
    )
)
REPORTS = [LEDGER, REPLACEMENTS, REIMBURSEMENTS, FBA_RETURNS, MFN_RETURNS]


@pytest.fixture
def world(fresh_store_url: str, tmp_path: Path) -> Iterator[SyncWorld]:
    engine = make_engine(fresh_store_url)
    found = open_world(session_factory(engine), make_sandbox(_WORLD), tmp_path)
    stock_catalog(found)
    yield found
    engine.dispose()


def _sellers(world: SyncWorld) -> list[SandboxSeller]:
    return sorted(world.sandbox.world.accounts.values(), key=lambda s: world.accounts[s.seller_id])


def fba_sync(world: SyncWorld, seller: SandboxSeller) -> list[str]:
    """What `orderbridge run` does for FBA: orders, reports (the first pass takes the opening), inbound."""
    world.sync(seller.seller_id, first_lookback=timedelta(days=DAYS + 10))
    with world.sessions() as session:
        account = session.get(SellerAccount, world.accounts[seller.seller_id])
        assert account is not None
        session.expunge(account)
    with world.client(account) as client:
        result = sync_reports(
            world.sessions, client, account_id=account.id, clock=world.vtime.now, report_types=REPORTS
        )
    poll_inbound(world, seller)
    return result.lines()


def _warehouse_of(world: SyncWorld, seller: SandboxSeller, session: Session | None = None) -> str:
    """The code of the FBA warehouse the seller's account books to; in `session` when one is open (a
    second session would wait for the first one's write lock on SQLite)."""
    if session is None:
        with world.sessions() as own:
            return _warehouse_of(world, seller, own)
    account = session.get(SellerAccount, world.accounts[seller.seller_id])
    assert account is not None
    (code,) = [m.warehouse for m in fba_mappings(session) if m.account == account.label]
    return code


def _truth_by_centre(world: SyncWorld, seller: SandboxSeller) -> dict[tuple[str, str], int]:
    return {
        (sku, fc): units
        for (s, sku, fc), units in world.sandbox.world.stock.items()
        if s == seller.seller_id and units
    }


def _assert_book_is_amazon(world: SyncWorld, sellers: list[SandboxSeller]) -> None:
    with world.sessions() as session:
        for seller in sellers:
            assert on_hand(session, _warehouse_of(world, seller, session)) == sandbox_fba_stock(world, seller)
            assert stock_by_centre(session, world.accounts[seller.seller_id]) == _truth_by_centre(
                world, seller
            )


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_F10_two_accounts_on_one_marketplace_keep_their_own_fba_stock_and_opening(world: SyncWorld) -> None:
    first, second = _sellers(world)
    assert set(sandbox_fba_stock(world, first)) & set(sandbox_fba_stock(world, second))  # the same SKUs
    # when: each account's first FBA sync takes its own opening count, then both sync on
    lines = fba_sync(world, first) + fba_sync(world, second)
    assert sum(line.startswith("FBA opening balance set") for line in lines) == 2, lines
    world.sandbox.advance(3 * 86400)
    fba_sync(world, first)
    fba_sync(world, second)
    # then: the book equals Amazon per SKU, centre and account, nothing refused
    _assert_book_is_amazon(world, [first, second])
    # with one FBA warehouse per account: the first took the channel's, the second got its own
    assert _warehouse_of(world, first) == "FBA"
    assert _warehouse_of(world, second) == f"FBA-{second.seller_id}"
    with world.sessions() as session:
        assert [row.reason for row in quarantined_rows(session)] == []
        assert len(list(session.scalars(select(FbaOpening)))) == 2


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_F10_accounts_the_seller_maps_together_share_a_warehouse_and_each_opening_keeps_the_others_stock(
    world: SyncWorld,
) -> None:
    first, second = _sellers(world)
    with world.sessions.begin() as session:
        accounts = {a.selling_partner_id: a for a in session.scalars(select(SellerAccount))}
        add_warehouse(session, "FBA-NA", "Amazon FBA North America", WarehouseKind.FBA)
        region = region_of(warehouse_by_code(session, "FBA"))  # the region the channels' warehouse stands for
        for seller in (first, second):
            map_fba_warehouse(session, accounts[seller.seller_id], region, "FBA-NA")
        with pytest.raises(FbaWarehouseError, match="'MAIN' is own, not an FBA warehouse"):
            map_fba_warehouse(session, accounts[first.seller_id], region, "MAIN")
        with pytest.raises(FbaWarehouseError, match="'MARS' is not an FBA region of the book"):
            map_fba_warehouse(session, accounts[first.seller_id], "MARS", "FBA-NA")
    # when: both accounts take their openings and sync
    fba_sync(world, first)
    fba_sync(world, second)
    # then: the shared warehouse holds both accounts' stock, per SKU the sum of Amazon's two counts
    both = sandbox_fba_stock(world, first) + sandbox_fba_stock(world, second)
    with world.sessions() as session:
        assert on_hand(session, "FBA-NA") == Counter({sku: n for sku, n in both.items() if n})
        assert on_hand(session, "FBA") == Counter()
        for seller in (first, second):
            assert stock_by_centre(session, world.accounts[seller.seller_id]) == _truth_by_centre(
                world, seller
            )
