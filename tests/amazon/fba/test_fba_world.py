"""FBA end to end over a generated 60-day sandbox world: stock, returns, ledger, inbound and e-mails.

The world's history (orders, inbound shipments with over-, short- and unexpected receipts, returns,
replacements, lost / damaged / found / disposed units, reimbursements) is caught up in one go; then a
live phase walks new inbound shipments through receiving on the sandbox clock, adds the ledger reason
codes and return dispositions the generator does not make, and everything is synced again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from orderbridge.amazon.fba.claims import REIMBURSEMENTS, claims
from orderbridge.amazon.fba.ledger_booking import stock_by_centre
from orderbridge.amazon.fba.ledger_rows import LEDGER, REPLACEMENTS
from orderbridge.amazon.fba.records import InboundShipmentRecord, LedgerEntry
from orderbridge.amazon.reports.inbox import quarantined_rows
from orderbridge.amazon.reports.returns import FBA_RETURNS, MFN_RETURNS, ReturnCredit
from orderbridge.book.credits import SalesCredit
from orderbridge.db import make_engine, session_factory
from orderbridge.notify.mail import MailSettings
from orderbridge.notify.notices import Notice
from orderbridge.simulator import fba, worldfile
from orderbridge.simulator.generator import parse_mix
from orderbridge.simulator.world import LedgerEvent, SimOrder
from tests.amazon.fba.fba_world import (
    admin,
    book_snapshot,
    fba_skus,
    fetch_reports,
    import_file,
    on_hand,
    poll_inbound,
    sandbox_fba_stock,
    send,
    stock_catalog,
)
from tests.e2e.sync_world import SyncWorld, make_sandbox, open_world
from tests.notify.smtp_server import Inbox
from tests.simulator.sandbox_helpers import small_world

DAYS = 60
_WORLD = worldfile.dump(
    small_world(
        seed=11,
        orders_per_day=5,
        days=DAYS,
        marketplaces=["US"],
        mix=parse_mix("fba=0.6,return=0.2,replacement=0.04,lost=0.04"),
    )
)
REPORTS = (REPLACEMENTS, LEDGER, REIMBURSEMENTS, FBA_RETURNS, MFN_RETURNS)
# Reason codes the generator does not make, added in the live phase: (code, quantity, disposition).
MORE_CODES = [
    ("5", -1, "SELLABLE"),
    ("6", -1, "CARRIER_DAMAGED"),
    ("7", -1, "EXPIRED"),
    ("H", -1, "CUSTOMER_DAMAGED"),
    ("K", -1, "DEFECTIVE"),
    ("U", -1, "DEFECTIVE"),
    ("G", -1, "SELLABLE"),
    ("O", -1, "SELLABLE"),
    ("3", 2, "SELLABLE"),
    ("4", -2, "SELLABLE"),
    ("Q", -1, "SELLABLE"),
    ("P", 1, "DEFECTIVE"),
]
EVERY_CODE = {"M", "5", "E", "6", "7", "H", "K", "U", "D", "G", "F", "N", "O", "3", "4", "P", "Q"}


@pytest.fixture
def world(fresh_store_url: str, tmp_path: Path) -> Iterator[SyncWorld]:
    engine = make_engine(fresh_store_url)
    found = open_world(session_factory(engine), make_sandbox(_WORLD), tmp_path)
    stock_catalog(found)
    yield found
    engine.dispose()


def sync_everything(world: SyncWorld, tmp: Path, mail: MailSettings, *, since: datetime) -> list[Path]:
    seller = world.seller("NA")
    world.sync(seller.seller_id, first_lookback=timedelta(days=DAYS + 10))
    poll_inbound(world, seller)
    files = fetch_reports(world, tmp, REPORTS, since=since)
    send(world, mail)
    return files


def _shipped_orders(world: SyncWorld, *, by_amazon: bool) -> list[SimOrder]:
    wanted = "AMAZON" if by_amazon else "MERCHANT"
    return [
        order
        for order in world.sandbox.world.orders.values()
        if order.fulfilled_by == wanted
        and order.status == "SHIPPED"
        and not any(e.order_id == order.order_id for e in world.sandbox.world.fba_events)
        and not order.doc.get("associatedOrders")
    ]


def live_phase(world: SyncWorld, tmp: Path, mail: MailSettings) -> None:
    """New inbound shipments received step by step, more reason codes, returns of every disposition."""
    seller = world.seller("NA")
    a, b, c = fba_skus(world, seller)[:3]
    admin(
        world,
        "POST",
        "/inbound",
        {
            "sellerId": seller.seller_id,
            "shipmentId": "FBA1LIVE0001",
            "auto": True,
            "items": [
                {"sku": a, "quantityShipped": 12, "receive": 14},
                {"sku": b, "quantityShipped": 12, "receive": 9},
                {"sku": c, "quantityShipped": 0, "receive": 4},
            ],
        },
    )
    admin(
        world,
        "POST",
        "/inbound",
        {
            "sellerId": seller.seller_id,
            "shipmentId": "FBA1LIVE0002",
            "auto": False,
            "items": [{"sku": a, "quantityShipped": 10**6}],
        },
    )
    admin(world, "POST", "/inbound/FBA1LIVE0002/step")  # shipped, never received: the book has no stock
    sandbox_world = world.sandbox.world
    fc = sandbox_world.inbound["FBA1LIVE0001"].destination
    for code, quantity, disposition in MORE_CODES:
        sandbox_world.record_ledger(
            LedgerEvent(
                seller.seller_id,
                sandbox_world.now,
                a,
                "Adjustments",
                f"ADJ-{code}",
                quantity,
                fc,
                disposition,
                code,
                "US",
                reconciled=0 if code in fba.CLAIMABLE else None,
            )
        )
    inventory_reimbursement = {
        "sellerId": seller.seller_id,
        "sku": b,
        "kind": "reimbursement",
        "inventory": True,
    }
    admin(world, "POST", "/fba/events", inventory_reimbursement)  # ledger code N
    fba_orders = _shipped_orders(world, by_amazon=True)
    for order, disposition in zip(fba_orders, fba.RETURN_DISPOSITIONS, strict=False):
        sku = order.doc["orderItems"][0]["product"]["sellerSku"]
        admin(world, "POST", f"/orders/{order.order_id}/return", {"sku": sku, "disposition": disposition})
    for order in _shipped_orders(world, by_amazon=False)[:2]:
        sku = order.doc["orderItems"][0]["product"]["sellerSku"]
        admin(world, "POST", f"/orders/{order.order_id}/return", {"sku": sku})
    # the sandbox walks the new shipments through receiving; orderbridge polls every six hours
    for _ in range(24):
        world.sandbox.advance(6 * 3600)
        poll_inbound(world, seller)
        send(world, mail)


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_f1_to_f10_fba_book_matches_the_sandbox_after_60_days(
    world: SyncWorld, tmp_path: Path, smtp: tuple[Inbox, MailSettings]
) -> None:
    inbox, mail = smtp
    seller = world.seller("NA")
    since = datetime.fromtimestamp(world.sandbox.clock.now(), UTC) - timedelta(days=DAYS + 8)
    # when: the history is caught up, the live phase runs, and everything is synced again
    sync_everything(world, tmp_path, mail, since=since)
    live_phase(world, tmp_path, mail)
    files = sync_everything(world, tmp_path, mail, since=since)

    with world.sessions() as session:
        # then: nothing was refused
        assert [row.reason for row in quarantined_rows(session)] == []
        # F3-F8: FBA stock in the book equals the sandbox's, per SKU and per centre
        assert on_hand(session, "FBA") == sandbox_fba_stock(world, seller)
        truth = {
            (sku, fc): n
            for (s, sku, fc), n in world.sandbox.world.stock.items()
            if s == seller.seller_id and n
        }
        assert stock_by_centre(session, world.accounts[seller.seller_id]) == truth
        # F6, F7, F9: every ledger reason code was booked
        codes = set(
            session.scalars(select(LedgerEntry.reason).where(LedgerEntry.event_type == "Adjustments"))
        )
        assert codes == EVERY_CODE
        # F1, F2, F8: every return became a credit with amounts; dispositions of every kind
        returns = [e for e in world.sandbox.world.fba_events if e.kind in ("RETURN", "MFN_RETURN")]
        links = list(session.scalars(select(ReturnCredit)))
        assert len(links) == len(returns)
        assert {link.disposition for link in links} >= set(fba.RETURN_DISPOSITIONS)
        for link in links:
            credit = session.get(SalesCredit, link.credit_id)
            assert credit is not None and credit.total_gross > 0
            assert credit.restock == (link.disposition in ("SELLABLE", "C-RETURNS"))
        # F3-F5: the generated restock with over, short and unexpected receipts, and the live one
        record = session.scalar(
            select(InboundShipmentRecord).where(InboundShipmentRecord.shipment_id == "FBA1LIVE0001")
        )
        assert record is not None and record.status == "CLOSED"
        short = session.scalar(
            select(InboundShipmentRecord).where(InboundShipmentRecord.shipment_id == "FBA1LIVE0002")
        )
        assert short is not None and short.transfer_id is None and "not enough stock" in (short.problem or "")
        kinds = Counter(notice.kind for notice in session.scalars(select(Notice)))
        assert claims(session, include_settled=True)
    # F5: the e-mails reached the SMTP server exactly once each, every kind among them
    events = inbox.events()
    assert len(events) == len(set(events)) == sum(kinds.values())
    assert set(kinds) == {
        "inbound_not_enough_stock",
        "inbound_receiving_started",
        "inbound_receiving_progress",
        "inbound_over_receipt",
        "inbound_unexpected_sku",
        "inbound_receiving_complete",
    }
    live = {e.rsplit(":", 2)[-2] if "FBA1LIVE0001:" in e else "" for e in events}
    assert {"over", "unexpected"} <= live

    # F10: re-running every report (and the inbound poll) changes nothing
    before = book_snapshot(world)
    for path in files:
        import_file(world, path.name.split("-")[0], path)
    sync_everything(world, tmp_path, mail, since=since)
    assert book_snapshot(world) == before
    assert len(inbox.events()) == len(events)
