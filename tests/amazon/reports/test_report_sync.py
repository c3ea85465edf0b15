"""Settlements end to end over a generated sandbox world (FBA and FBM, several settlements), both stores."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.api.layers import Request
from orderbridge.amazon.reports.inbox import AmazonReport, ReportRowRecord, ReportState
from orderbridge.amazon.reports.settlements import SETTLEMENT_REPORT
from orderbridge.amazon.reports.sync import sync_reports
from orderbridge.book.channels import Channel
from orderbridge.book.orders.model import Fulfilment, SalesOrder
from orderbridge.book.payments import Payment
from orderbridge.book.settlements import Settlement, SettlementLine, SettlementStatus, unknown_orders
from orderbridge.clock import as_utc
from orderbridge.db import make_engine, session_factory
from orderbridge.simulator import trickle, worldfile
from orderbridge.simulator.generator import DEFAULT_MIX, parse_mix
from orderbridge.simulator.world import Trickle
from tests.e2e.sync_world import SyncWorld, make_sandbox, open_world
from tests.simulator.sandbox_helpers import assert_valid, small_world

_WORLD = worldfile.dump(
    small_world(
        seed=5, orders_per_day=4, days=30, marketplaces=["US", "UK"], mix=parse_mix("fba=0.5,return=0.1")
    )
)
SALE_TYPES = ("ItemPrice", "Promotion", "ItemWithheldTax")


STORES = pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def world(fresh_store_url: str, tmp_path: Path) -> Iterator[SyncWorld]:
    engine = make_engine(fresh_store_url)
    found = open_world(session_factory(engine), make_sandbox(_WORLD), tmp_path)
    for seller in found.accounts:
        found.sync(seller, first_lookback=timedelta(days=40))
    yield found
    engine.dispose()


def sync_all(world: SyncWorld) -> int:
    booked = 0
    for account_id in world.accounts.values():
        with world.sessions() as session:
            account = session.get(SellerAccount, account_id)
            assert account is not None
        result = sync_reports(
            world.sessions, world.client(account), account_id=account_id, clock=world.vtime.now
        )
        assert not result.failed
        booked += result.booked
    return booked


def expected_released(world: SyncWorld, settlement: Settlement, marketplace_id: str) -> dict[str, Decimal]:
    """The sandbox's truth: per order, what the settlement's period released for its sales."""
    start = as_utc(settlement.period_start).timestamp()  # type: ignore[arg-type]
    end = as_utc(settlement.period_end).timestamp()  # type: ignore[arg-type]
    out: dict[str, Decimal] = defaultdict(Decimal)
    for event in world.sandbox.world.financial_events:
        if (
            event.marketplace_id == marketplace_id
            and start <= event.ts < end
            and event.transaction_type == "Order"
            and event.amount_type in SALE_TYPES
        ):
            out[event.order_id] += event.amount
    return out


@STORES
def test_r1_r2_o4_every_settlement_reconciles_and_pays_its_orders_with_its_amounts(world: SyncWorld) -> None:
    # when every report of every account is synced
    assert sync_all(world) > 0
    with world.sessions() as session:
        settlements = list(session.scalars(select(Settlement)))
        # every settlement Amazon published (one per marketplace and 14-day period with money) (R1)
        published = [
            r
            for r in world.sandbox.reports.reports.values()
            if r.report_type == "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2" and r.status == "DONE"
        ]
        assert len(settlements) == len(published) >= 4
        # two marketplaces, each settled over more than one 14-day period (R1); a period without money
        # has no settlement, so the 30 days of sales give two periods each
        periods = {(s.channel_id, s.period_start) for s in settlements}
        per_marketplace = Counter(channel_id for channel_id, _ in periods)
        assert len(per_marketplace) == 2 and min(per_marketplace.values()) >= 2, per_marketplace
        paid_channels: set[str] = set()
        for settlement in settlements:
            # then every settlement reconciles to its deposit (R2) ...
            assert settlement.status == SettlementStatus.RECONCILED, settlement.reference
            assert settlement.lines_total == settlement.deposit_total
            channel = session.get(Channel, settlement.channel_id)
            assert channel is not None and channel.marketplace_id
            truth = expected_released(world, settlement, channel.marketplace_id)
            booked = dict(session.execute(select(SalesOrder.external_ref, SalesOrder.id)).all())
            for order_ref, amount in truth.items():
                if order_ref not in booked:
                    assert order_ref in unknown_orders(session, settlement.id)  # listed, not dropped
                    continue
                # ... and every order in it is paid with exactly what the settlement released (O4)
                payment = session.scalar(
                    select(Payment).where(
                        Payment.order_id == booked[order_ref],
                        Payment.reference == f"settlement {settlement.reference}",
                    )
                )
                assert payment is not None, (settlement.reference, order_ref)
                assert payment.amount == amount
                order = session.get(SalesOrder, booked[order_ref])
                assert order is not None
                paid_channels.add(order.fulfilment)
        assert {Fulfilment.CHANNEL, Fulfilment.SELLER} <= paid_channels  # FBA and FBM orders were both paid


@STORES
def test_f10_re_running_every_report_changes_nothing(world: SyncWorld) -> None:
    sync_all(world)
    with world.sessions() as session:
        before = (
            session.scalar(select(func.count()).select_from(SettlementLine)),
            session.scalar(select(func.count()).select_from(Payment)),
            session.scalar(select(func.sum(SalesOrder.amount_paid))),
            session.scalar(select(func.count()).select_from(ReportRowRecord)),
        )
    # a second pass finds every settlement booked ...
    assert sync_all(world) == 0
    # ... and even downloading and reading every report again books nothing twice
    with world.sessions.begin() as session:
        session.execute(update(AmazonReport).values(state=ReportState.DOWNLOADED))
    assert sync_all(world) == 0
    with world.sessions() as session:
        after = (
            session.scalar(select(func.count()).select_from(SettlementLine)),
            session.scalar(select(func.count()).select_from(Payment)),
            session.scalar(select(func.sum(SalesOrder.amount_paid))),
            session.scalar(select(func.count()).select_from(ReportRowRecord)),
        )
        assert after == before
        reports = list(session.scalars(select(AmazonReport)))
        assert all(r.state in (ReportState.BOOKED, ReportState.EMPTY) for r in reports)
        assert SETTLEMENT_REPORT in {r.report_type for r in reports}


def test_settlement_discovery_answers_pass_amazons_models_strictly(world: SyncWorld) -> None:
    account_id = next(iter(world.accounts.values()))
    with world.sessions() as session:
        account = session.get(SellerAccount, account_id)
        assert account is not None
    client = world.client(account)
    params = {"reportTypes": SETTLEMENT_REPORT, "processingStatuses": "DONE"}
    listed = client.call(Request("getReports", "GET", "/reports/2021-06-30/reports", params)).json()
    assert_valid("reports_2021-06-30.json", "GetReportsResponse", listed)
    document_id = listed["reports"][0]["reportDocumentId"]
    path = f"/reports/2021-06-30/documents/{document_id}"
    document = client.call(Request("getReportDocument", "GET", path)).json()
    assert_valid("reports_2021-06-30.json", "ReportDocument", document)
    assert client.get_reports([SETTLEMENT_REPORT], statuses=["DONE"]).reports


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_r1_r2_the_live_demo_settles_its_new_orders_and_a_restart_books_nothing_twice(
    fresh_store_url: str, tmp_path: Path
) -> None:
    # given: a live sandbox settling daily, the book synced with it
    live = small_world(seed=5, orders_per_day=10, days=2, marketplaces=["UK"], live=True)
    live.settlement_days = 1
    trickle.start(live, Trickle(48, dict(DEFAULT_MIX), seed=5))
    started = live.now
    engine = make_engine(fresh_store_url)
    world = open_world(session_factory(engine), make_sandbox(worldfile.dump(live)), tmp_path)
    (seller,) = world.accounts
    world.sync(seller)
    # when: two days pass (new orders arrive and ship), then orders and settlements are synced
    world.sandbox.advance(2 * 86400)
    world.sync(seller)
    assert sync_all(world) > 0
    # then: the settlements reconcile, and the orders that arrived meanwhile are paid by them
    new_orders = {o.order_id for o in world.sandbox.world.orders.values() if o.created_ts > started}
    with world.sessions() as session:
        settlements = list(session.scalars(select(Settlement)))
        assert settlements and all(s.status == SettlementStatus.RECONCILED for s in settlements)
        assert all(s.lines_total == s.deposit_total != 0 for s in settlements)
        paid = set(
            session.scalars(
                select(SalesOrder.external_ref)
                .join(Payment, Payment.order_id == SalesOrder.id)
                .where(Payment.reference.like("settlement %"))
            )
        )
        assert len(paid & new_orders) >= 10
        lines = session.scalar(select(func.count()).select_from(SettlementLine))
    # when: the sandbox restarts from its saved world and the settlements are synced again
    restarted = SyncWorld(make_sandbox(worldfile.dump(world.sandbox.world)), world.sessions, world.keys)
    restarted.accounts = world.accounts
    assert sync_all(restarted) == 0
    # then: nothing is booked twice
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SettlementLine)) == lines
        assert session.scalar(select(func.count()).select_from(Settlement)) == len(settlements)
    engine.dispose()
