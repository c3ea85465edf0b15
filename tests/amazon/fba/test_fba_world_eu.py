"""FBA and settlements end to end in Europe: a 60-day sandbox world of one seller on Amazon.co.uk (GBP)
and Amazon.de (EUR), with each marketplace's flat files written the way it writes them (German files
with decimal commas and DD.MM.YYYY days, British ones with DD/MM/YYYY days).

The history is caught up, a live phase walks a new inbound shipment through receiving at a German
centre (over-receipt and an unexpected SKU) and adds losses and returns, settlements are discovered,
and everything is synced again: FBA stock, payments and e-mails must match the sandbox, and reading
every report again must change nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from orderbridge.amazon.fba.claims import REIMBURSEMENTS
from orderbridge.amazon.fba.ledger_booking import stock_by_centre
from orderbridge.amazon.fba.ledger_rows import LEDGER, REPLACEMENTS
from orderbridge.amazon.reports.inbox import quarantined_rows
from orderbridge.amazon.reports.returns import FBA_RETURNS, MFN_RETURNS
from orderbridge.amazon.reports.settlements import SETTLEMENT_REPORT
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.settlements import Settlement, SettlementStatus
from orderbridge.db import make_engine, session_factory
from orderbridge.notify.mail import MailSettings
from orderbridge.notify.notices import Notice
from orderbridge.simulator import fba, worldfile
from orderbridge.simulator.generator import parse_mix
from orderbridge.simulator.marketplaces import marketplace
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
    sync_report_types,
)
from tests.e2e.sync_world import SyncWorld, make_sandbox, open_world
from tests.notify.smtp_server import Inbox
from tests.simulator.sandbox_helpers import small_world

DAYS = 60
_WORLD = worldfile.dump(
    small_world(
        seed=23,
        orders_per_day=3,
        days=DAYS,
        marketplaces=["UK", "DE"],
        mix=parse_mix("fba=0.6,return=0.2,replacement=0.04,lost=0.04"),
    )
)
REPORTS = (REPLACEMENTS, LEDGER, REIMBURSEMENTS, FBA_RETURNS, MFN_RETURNS)
PAID_TYPES = ("ItemPrice", "Promotion", "ItemWithheldTax")  # what pays an order (fees are costs, O4/R2)


@pytest.fixture
def world(fresh_store_url: str, tmp_path: Path) -> Iterator[SyncWorld]:
    engine = make_engine(fresh_store_url)
    found = open_world(session_factory(engine), make_sandbox(_WORLD), tmp_path)
    stock_catalog(found)
    yield found
    engine.dispose()


def sync_everything(world: SyncWorld, tmp: Path, mail: MailSettings, *, since: datetime) -> list[Path]:
    seller = world.seller("EU")
    world.sync(seller.seller_id, first_lookback=timedelta(days=DAYS + 10))
    poll_inbound(world, seller)
    files = fetch_reports(world, tmp, REPORTS, since=since, region="EU")
    result = sync_report_types(world, seller, [SETTLEMENT_REPORT])
    assert not result.failed, result.failed
    send(world, mail)
    return files


def live_phase(world: SyncWorld, mail: MailSettings) -> None:
    seller = world.seller("EU")
    a, b, c = fba_skus(world, seller)[:3]
    germany = marketplace("DE")
    items = [
        {"sku": a, "quantityShipped": 10, "receive": 12},
        {"sku": b, "quantityShipped": 10, "receive": 10},
        {"sku": c, "quantityShipped": 0, "receive": 2},
    ]
    admin(world, "POST", "/inbound", {
        "sellerId": seller.seller_id, "marketplace": germany.marketplace_id, "shipmentId": "FBA1LIVEDE01",
        "auto": True, "items": items,
    })  # fmt: skip
    admin(world, "POST", "/inbound", {
        "sellerId": seller.seller_id, "shipmentId": "FBA1LIVEUK02", "auto": False,
        "items": [{"sku": a, "quantityShipped": 10**6}],
    })  # fmt: skip
    admin(world, "POST", "/inbound/FBA1LIVEUK02/step")  # shipped, the book has not the stock: one e-mail
    for kind in ("lost", "damaged", "found", "disposed"):
        admin(world, "POST", "/fba/events", {"sellerId": seller.seller_id, "sku": b, "kind": kind})
    returned = {e.order_id for e in world.sandbox.world.fba_events}
    shipped = [
        order
        for order in world.sandbox.world.orders.values()
        if order.seller_id == seller.seller_id
        and order.status == "SHIPPED"
        and not order.doc.get("associatedOrders")
        and order.order_id not in returned
    ]
    for order, disposition in zip(shipped[:3], fba.RETURN_DISPOSITIONS, strict=False):
        sku = order.doc["orderItems"][0]["product"]["sellerSku"]
        body = {"sku": sku, "disposition": disposition} if order.fulfilled_by == "AMAZON" else {"sku": sku}
        admin(world, "POST", f"/orders/{order.order_id}/return", body)
    for _ in range(24):
        world.sandbox.advance(6 * 3600)
        poll_inbound(world, seller)
        send(world, mail)


def expected_payments(world: SyncWorld) -> dict[str, tuple[str, Decimal]]:
    """Order id -> (currency, amount the published settlements released for it), from the sandbox."""
    reports = world.sandbox.reports.reports.values()
    periods = [(r.start, r.end, r.marketplace_ids[0]) for r in reports if r.report_type == SETTLEMENT_REPORT]
    paid: dict[str, tuple[str, Decimal]] = {}
    for event in world.sandbox.world.financial_events:
        if event.transaction_type != "Order" or event.amount_type not in PAID_TYPES or not event.order_id:
            continue
        if any(start <= event.ts < end and m == event.marketplace_id for start, end, m in periods):
            currency = marketplace(event.marketplace_id).currency
            paid[event.order_id] = (
                currency,
                paid.get(event.order_id, (currency, Decimal(0)))[1] + event.amount,
            )
    return {order_id: value for order_id, value in paid.items() if value[1]}


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_f1_to_f10_r2_o4_o16_the_eu_world_in_gbp_and_eur_matches_the_sandbox(
    world: SyncWorld, tmp_path: Path, smtp: tuple[Inbox, MailSettings]
) -> None:
    inbox, mail = smtp
    seller = world.seller("EU")
    since = datetime.fromtimestamp(world.sandbox.clock.now(), UTC) - timedelta(days=DAYS + 8)
    # given: the files are written in each marketplace's own formats
    germany = marketplace("DE").marketplace_id
    german = [
        world.sandbox.reports.documents[r.document_id].content.decode("utf-8").splitlines()
        for r in world.sandbox.reports.reports.values()
        if r.report_type == SETTLEMENT_REPORT and r.marketplace_ids == [germany]
    ]
    rows = [line.split("\t") for lines in german for line in lines[2:]]
    assert rows and all("," in row[14] and "." not in row[14] for row in rows)  # amount: 12,34
    assert all(len(row[16].split(".")) == 3 for row in rows)  # posted-date: 20.01.2026
    # when: the history is caught up, the live phase runs, and everything is synced again
    sync_everything(world, tmp_path, mail, since=since)
    live_phase(world, mail)
    world.sandbox.advance(16 * 86400)  # the live phase's money reaches a settlement too
    files = sync_everything(world, tmp_path, mail, since=since)

    with world.sessions() as session:
        assert [row.reason for row in quarantined_rows(session)] == []
        # F3-F9: FBA stock equals the sandbox's, per SKU and per centre (British and German centres)
        assert on_hand(session, "FBA") == sandbox_fba_stock(world, seller)
        truth = {
            (sku, fc): n
            for (s, sku, fc), n in world.sandbox.world.stock.items()
            if s == seller.seller_id and n
        }
        assert stock_by_centre(session, world.accounts[seller.seller_id]) == truth
        assert {fc for _, fc in truth} & set(marketplace("DE").fulfillment_centers)
        # R1/R2: every settlement of both currencies is booked and reconciles to its deposit
        settlements = list(session.scalars(select(Settlement)))
        published = [r for r in world.sandbox.reports.reports.values() if r.report_type == SETTLEMENT_REPORT]
        assert len(settlements) == len(published) >= 8
        assert {s.currency for s in settlements} == {"GBP", "EUR"}
        assert all(s.status == SettlementStatus.RECONCILED for s in settlements)
        # O4/O16: every shipped order in a settlement is paid exactly what the settlement released
        expected = expected_payments(world)
        orders = {
            o.external_ref: o
            for o in session.scalars(select(SalesOrder).where(SalesOrder.external_ref.in_(list(expected))))
        }
        assert set(orders) == set(expected)
        paid = {ref: (o.currency, o.amount_paid) for ref, o in orders.items()}
        assert paid == expected
        assert {currency for currency, _ in paid.values()} == {"GBP", "EUR"}
        kinds = Counter(notice.kind for notice in session.scalars(select(Notice)))
    # F5: the e-mails reached the SMTP server exactly once each, every kind among them
    events = inbox.events()
    assert len(events) == len(set(events)) == sum(kinds.values())
    assert {
        "inbound_not_enough_stock",
        "inbound_receiving_started",
        "inbound_over_receipt",
        "inbound_unexpected_sku",
        "inbound_receiving_complete",
    } <= set(kinds)
    assert any("FBA1LIVEDE01" in event and ":over:" in event for event in events)

    # F10: re-running every report (and the settlements, the inbound poll) changes nothing
    before = book_snapshot(world)
    for path in files:
        import_file(world, path.name.split("-")[0], path, region="EU")
    sync_everything(world, tmp_path, mail, since=since)
    assert book_snapshot(world) == before
    assert len(inbox.events()) == len(events)
