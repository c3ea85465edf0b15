"""The FBA opening balance: a seller who connects with stock already at Amazon and sales under way.

The sandbox's seller has sold for weeks when orderbridge connects: its first FBA sync takes Amazon's
count (the ledger summary view by centre) as the opening, books the ledger's history without moving
stock twice, and from then on every change applies on top of the count.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.channel import change_settings, channel_for
from orderbridge.amazon.fba.claims import REIMBURSEMENTS
from orderbridge.amazon.fba.ledger_booking import stock_by_centre
from orderbridge.amazon.fba.ledger_rows import LEDGER, REPLACEMENTS
from orderbridge.amazon.fba.opening import OPENING_EVENT, SUMMARY, fetch_opening, parse_summary, take_opening
from orderbridge.amazon.fba.records import BEFORE_OPENING, FbaOpening, InboundShipmentRecord, LedgerEntry
from orderbridge.amazon.reports.locales import COMMA_DAY_FIRST
from orderbridge.amazon.reports.returns import FBA_RETURNS, MFN_RETURNS
from orderbridge.amazon.reports.sync import sync_reports
from orderbridge.book.inventory import MovementReason, StockMovement
from orderbridge.db import make_engine, session_factory
from orderbridge.notify.notices import Notice
from orderbridge.simulator import worldfile
from orderbridge.simulator.generator import parse_mix
from orderbridge.simulator.world import SellerAccount as SandboxSeller
from tests.amazon.fba.fba_world import (
    admin,
    fba_skus,
    on_hand,
    poll_inbound,
    sandbox_fba_stock,
    stock_catalog,
)
from tests.e2e.sync_world import SyncWorld, make_sandbox, open_world
from tests.simulator.sandbox_helpers import small_world

DAYS = 24
_WORLD = worldfile.dump(
    small_world(
        seed=5,
        orders_per_day=4,
        days=DAYS,
        marketplaces=["US"],
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


def _account(world: SyncWorld, seller: SandboxSeller) -> SellerAccount:
    with world.sessions() as session:
        account = session.get(SellerAccount, world.accounts[seller.seller_id])
        assert account is not None
        session.expunge(account)
        return account


def _ship_to_amazon(world: SyncWorld, seller: SandboxSeller, shipment_id: str, units: dict[str, int]) -> None:
    """An inbound shipment the sandbox walks through receiving on its own clock (110 h, then 24 h)."""
    items = [{"sku": sku, "quantityShipped": quantity} for sku, quantity in units.items()]
    body = {"sellerId": seller.seller_id, "shipmentId": shipment_id, "auto": True, "items": items}
    admin(world, "POST", "/inbound", body)


def fba_sync(world: SyncWorld, seller: SandboxSeller) -> list[str]:
    """What `orderbridge run` does for FBA: orders, reports (the first pass takes the opening), inbound."""
    world.sync(seller.seller_id, first_lookback=timedelta(days=DAYS + 10))
    account = _account(world, seller)
    with world.client(account) as client:
        result = sync_reports(
            world.sessions, client, account_id=account.id, clock=world.vtime.now, report_types=REPORTS
        )
    poll_inbound(world, seller)
    return result.lines()


def truth(world: SyncWorld, seller: SandboxSeller) -> dict[tuple[str, str], int]:
    return {
        (sku, fc): units
        for (s, sku, fc), units in world.sandbox.world.stock.items()
        if s == seller.seller_id and units
    }


def assert_book_is_amazon(world: SyncWorld, seller: SandboxSeller) -> None:
    with world.sessions() as session:
        assert on_hand(session, "FBA") == sandbox_fba_stock(world, seller)
        assert stock_by_centre(session, world.accounts[seller.seller_id]) == truth(world, seller)


def book_state(world: SyncWorld) -> tuple[object, ...]:
    with world.sessions() as session:
        return (
            session.scalar(select(func.count()).select_from(StockMovement)),
            session.scalar(select(func.count()).select_from(LedgerEntry)),
            on_hand(session, "FBA"),
            on_hand(session, "MAIN"),
        )


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_f10_a_seller_connecting_with_stock_and_sales_under_way_gets_amazons_count(
    world: SyncWorld, tmp_path: Path
) -> None:
    seller = world.seller("NA")
    assert sum(sandbox_fba_stock(world, seller).values()) > 0  # given: stock at Amazon, sales under way
    # and an inbound shipment whose receiving straddles the count: half before its cutoff, half after
    a, b = fba_skus(world, seller)[:2]
    _ship_to_amazon(world, seller, "FBA1STRADDLE", {a: 20, b: 30})
    world.sandbox.advance(134 * 3600 + 60)  # receiving starts after 110 hours and closes 24 hours later
    # when: the first FBA sync runs
    lines = fba_sync(world, seller)
    assert any(line.startswith("FBA opening balance set") for line in lines), lines
    # then: the book holds Amazon's stock per SKU and centre, the history did not move it twice
    assert_book_is_amazon(world, seller)
    with world.sessions() as session:
        (opening,) = session.scalars(select(FbaOpening))
        assert opening.reports and opening.units > 0
        movements = list(
            session.scalars(select(StockMovement).where(StockMovement.reason == MovementReason.OPENING))
        )
        assert movements and all(m.reference.startswith("fba-opening") for m in movements)
        assert any(opening.reports in (m.note or "") for m in movements)  # F10: the report it came from
        before = session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.movement == BEFORE_OPENING)
        )
        assert before  # the history before the count was read, and moved nothing
        assert session.scalar(
            select(func.count()).select_from(LedgerEntry).where(LedgerEntry.event_type == OPENING_EVENT)
        )
        receipts = dict(
            session.execute(
                select(LedgerEntry.movement, func.sum(LedgerEntry.quantity))
                .where(LedgerEntry.reference_id == "FBA1STRADDLE")
                .group_by(LedgerEntry.movement)
            ).all()
        )
        assert receipts[BEFORE_OPENING] > 0 and receipts[None] > 0  # it did straddle the cutoff
        taken_back = session.scalar(
            select(func.sum(StockMovement.quantity)).where(
                StockMovement.reference.like("fba-opening-receipts:%FBA1STRADDLE%")
            )
        )
        assert taken_back == -receipts[BEFORE_OPENING]  # the transfer released those into the count again

    # when: life goes on at Amazon (units are lost, some found) and FBA syncs again
    admin(
        world, "POST", "/fba/events", {"sellerId": seller.seller_id, "sku": a, "kind": "lost", "quantity": 2}
    )
    admin(
        world, "POST", "/fba/events", {"sellerId": seller.seller_id, "sku": b, "kind": "found", "quantity": 1}
    )
    world.sandbox.advance(3 * 86400)
    assert "FBA opening balance" not in " ".join(fba_sync(world, seller))
    # then: the changes applied on top of the count
    assert_book_is_amazon(world, seller)

    # when: the opening is taken again on demand (a new count) and every report is read again
    state = book_state(world)
    account = _account(world, seller)
    with world.client(account) as client:
        again = fetch_opening(world.sessions, client, account_id=account.id, clock=world.vtime.now)
    assert again.lines and all(line.change == 0 for line in again.lines), again.line()
    fba_sync(world, seller)
    # then: nothing changed, stock still equals Amazon's
    assert book_state(world)[2:] == state[2:]
    assert_book_is_amazon(world, seller)


def test_f5_f10_inbound_waits_for_the_opening_so_a_shipment_amazon_had_before_its_count_stays_history(
    world: SyncWorld,
) -> None:
    seller = world.seller("NA")
    a, b = fba_skus(world, seller)[:2]
    _ship_to_amazon(world, seller, "FBA1HISTORIC", {a: 6, b: 4})
    world.sandbox.advance(134 * 3600 + 3 * 86400)  # received and closed days before the count's cutoff
    world.sync(seller.seller_id, first_lookback=timedelta(days=DAYS + 10))
    with world.sessions() as session:
        main_before = on_hand(session, "MAIN")
    # when: the inbound poll runs before the first ledger sync has taken Amazon's count
    early = poll_inbound(world, seller)
    # then: it waits, and says for what
    assert early.waiting is not None and "opening" in early.waiting and early.shipments_seen == 0
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(InboundShipmentRecord)) == 0
    # when: the count is taken but the ledger is not booked yet: it still waits, for the ledger
    account = _account(world, seller)
    with world.client(account) as client:
        fetch_opening(world.sessions, client, account_id=account.id, clock=world.vtime.now)
    waiting = poll_inbound(world, seller).waiting
    assert waiting is not None and "inventory ledger" in waiting
    # when: the first FBA sync runs (the ledger up to now, then inbound)
    fba_sync(world, seller)
    # then: the shipment is known but inside Amazon's count: no transfer out of MAIN, no e-mail about it
    with world.sessions() as session:
        record = session.scalar(
            select(InboundShipmentRecord).where(InboundShipmentRecord.shipment_id == "FBA1HISTORIC")
        )
        assert record is not None and record.status == "CLOSED" and record.transfer_id is None
        main_after = on_hand(session, "MAIN")  # (FBM returns restock other SKUs there)
        assert (main_after[a], main_after[b]) == (main_before[a], main_before[b])
        assert not session.scalar(
            select(func.count()).select_from(Notice).where(Notice.event_key.contains("FBA1HISTORIC"))
        )
    assert_book_is_amazon(world, seller)


def test_f10_the_same_count_twice_changes_nothing_and_a_dry_run_nothing_at_all(world: SyncWorld) -> None:
    seller = world.seller("NA")
    account = _account(world, seller)
    with world.client(account) as client:
        preview = fetch_opening(
            world.sessions, client, account_id=account.id, clock=world.vtime.now, dry_run=True
        )
    assert preview.dry_run and preview.units == sum(sandbox_fba_stock(world, seller).values())
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FbaOpening)) == 0
        assert on_hand(session, "FBA") == Counter()
    cutoff = preview.cutoff
    balances = []
    with world.client(account) as client:
        taken = fetch_opening(world.sessions, client, account_id=account.id, clock=world.vtime.now)
    assert taken.units == preview.units and not taken.already
    # the very same count (same report, same cutoff) once more: recognised, nothing booked
    with world.sessions.begin() as session:
        twice = take_opening(
            session, account.id, balances, countries=["US"], cutoff=cutoff, reports=taken.reports,
            now=world.vtime.now(),
        )  # fmt: skip
    assert twice.already
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FbaOpening)) == 1
        assert sum(on_hand(session, "FBA").values()) == taken.units


def test_the_summary_view_is_read_by_header_in_the_marketplaces_locale() -> None:
    text = (
        "Date\tFNSKU\tASIN\tMSKU\tTitle\tDisposition\tStarting Warehouse Balance\tReceipts\t"
        "Ending Warehouse Balance\tLocation\tExtra\n"
        "01.12.2026\tX1\tB1\tSKU-1\tT\tSELLABLE\t5\t0\t5\tLEJ1\tx\n"
        "02.12.2026\tX1\tB1\tSKU-1\tT\tSELLABLE\t5\t2\t7\tLEJ1\tx\n"
        "02.12.2026\tX1\tB1\tSKU-1\tT\tDEFECTIVE\t1\t0\t1\tLEJ1\tx\n"
        "01.12.2026\tX2\tB2\tSKU-2\tT\tSELLABLE\t3\t0\t3\tFRA3\tx\n"
    )
    balances = parse_summary(text, locale=COMMA_DAY_FIRST, country="DE")
    found = {(b.sku, b.centre): (b.units, b.day.date().isoformat()) for b in balances}
    # the last day counts; a SKU and centre without a row that day has nothing sellable left there
    assert found == {("SKU-1", "LEJ1"): (7, "2026-12-02"), ("SKU-2", "FRA3"): (0, "2026-12-02")}
    with pytest.raises(Exception, match="Ending Warehouse Balance"):
        parse_summary("Date\tMSKU\tDisposition\tLocation\n", locale=COMMA_DAY_FIRST, country="DE")
    assert SUMMARY == "GET_LEDGER_SUMMARY_VIEW_DATA"
    assert datetime(2026, 12, 2, tzinfo=UTC)  # dates are UTC days


def test_f10_without_an_fba_warehouse_the_opening_waits_and_so_does_the_ledger(world: SyncWorld) -> None:
    seller = world.seller("NA")
    marketplace_id = world.sandbox.world.accounts[seller.seller_id].marketplace_ids[0]
    with world.sessions.begin() as session:
        change_settings(session, channel_for(session, marketplace_id), {"fba_warehouse": ""})
    # when: the first FBA sync runs without a warehouse to hold Amazon's count
    account = _account(world, seller)
    with world.client(account) as client:
        result = sync_reports(
            world.sessions, client, account_id=account.id, clock=world.vtime.now, report_types=[LEDGER]
        )
    # then: it says which setting is missing, and neither the count nor the ledger is booked
    (problem,) = result.failed
    assert "fba_warehouse" in problem and "the ledger waits" in problem
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(FbaOpening)) == 0
        assert session.scalar(select(func.count()).select_from(LedgerEntry)) == 0
    # when: the setting is made and the sync runs again, the count is taken and the ledger follows
    with world.sessions.begin() as session:
        change_settings(session, channel_for(session, marketplace_id), {"fba_warehouse": "FBA"})
    with world.client(account) as client:
        result = sync_reports(
            world.sessions, client, account_id=account.id, clock=world.vtime.now, report_types=[LEDGER]
        )
    assert not result.failed and result.opening and result.opening.startswith("FBA opening balance set")
    assert_book_is_amazon(world, seller)
