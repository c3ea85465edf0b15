"""Order download over a generated sandbox world on both stores: the book matches the sandbox's truth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from orderbridge.amazon.leases import LeaseHeld, try_acquire
from orderbridge.amazon.orders.cursors import SyncCursor
from orderbridge.amazon.orders.inbox import InboxItem, InboxStatus
from orderbridge.amazon.orders.sync import check_completeness, fetch_order, lease_name, retry_quarantined
from orderbridge.book.orders.model import OrderRow, SalesOrder
from orderbridge.book.tax import TaxRule, add_tax_code, add_tax_rule
from orderbridge.db import make_engine, session_factory
from orderbridge.simulator import worldfile
from tests.e2e.sync_world import SyncWorld, assert_book_matches, make_sandbox, open_world
from tests.simulator.sandbox_helpers import small_world

STORES = ["sqlite", "postgresql"]
BOOKED_STATUSES = ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED")
_WORLD = worldfile.dump(small_world(seed=11, orders_per_day=40))


@pytest.fixture
def world(fresh_store_url: str, tmp_path: Path) -> Iterator[SyncWorld]:
    engine = make_engine(fresh_store_url)
    yield open_world(session_factory(engine), make_sandbox(_WORLD), tmp_path)
    engine.dispose()


def counts(world: SyncWorld) -> tuple[int, int]:
    with world.sessions() as session:
        orders = session.scalar(select(func.count()).select_from(SalesOrder)) or 0
        rows = session.scalar(select(func.count()).select_from(OrderRow)) or 0
    return orders, rows


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_sync_books_the_sandbox_truth_and_a_resync_books_nothing_twice(world: SyncWorld) -> None:
    # given / when: every seller synced
    for seller_id in world.accounts:
        report = world.sync(seller_id, page_size=25)
        assert report.quarantined == 0 and report.pages >= 2
    # then: the book matches the sandbox order by order
    assert sum(assert_book_matches(world, seller_id) for seller_id in world.accounts) > 50
    before = counts(world)
    # when: time passes and the next passes run
    world.sandbox.advance(200)
    again = [world.sync(seller_id) for seller_id in world.accounts]
    # then: what changed at Amazon is applied, nothing is booked twice
    assert counts(world)[0] == before[0] + sum(r.actions.get("booked", 0) for r in again)
    for seller_id in world.accounts:
        assert_book_matches(world, seller_id)
    world.sandbox.advance(200)
    idle = [world.sync(seller_id) for seller_id in world.accounts]
    assert all(r.stored == 0 or r.actions.get("booked", 0) == 0 for r in idle)
    with world.sessions() as session:
        keys = session.execute(select(InboxItem.natural_id, InboxItem.version_time)).all()
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_late_arriving_order_is_caught_by_the_overlap(world: SyncWorld) -> None:
    seller = world.seller("NA")
    world.sync(seller.seller_id)
    world.sandbox.faults.configure({"late_order_rate": 1.0, "late_order_delay_seconds": 480})
    # given: an order placed now turns up at Amazon eight minutes after its lastUpdatedTime
    world.sandbox.advance(600)
    late = world.place_order(seller.seller_id)
    world.sandbox.advance(150)
    first = world.sync(seller.seller_id)
    assert late not in {o.order_id for o in world.visible_orders(seller.seller_id)}
    # when: the next passes run, 3 minutes apart (the searchOrders quota)
    for _ in range(4):
        world.sandbox.advance(180)
        world.sync(seller.seller_id)
    # then: the overlap re-read the window the late order belongs to
    with world.sessions() as session:
        stored = session.scalars(select(InboxItem.natural_id).where(InboxItem.natural_id == late)).all()
    assert first.stored >= 0 and stored, "the late order was missed"
    assert_book_matches(world, seller.seller_id)


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_quarantined_orders_do_not_stop_the_page_and_retry_books_them_after_a_fix(world: SyncWorld) -> None:
    # given: tax rules for Great Britain only, so orders shipped to Germany (or, under the marketplace's
    # export VAT, from Amazon.co.uk to Ireland) cannot be mapped (O13)
    with world.sessions.begin() as session:
        for rule in session.scalars(select(TaxRule)).all():
            session.delete(rule)
        session.flush()
        add_tax_rule(session, "T20", ship_to_country="GB")
    seller = world.seller("EU")
    # when
    report = world.sync(seller.seller_id)
    # then: those orders wait in quarantine with a readable reason, the British ones are booked
    assert report.quarantined > 0 and report.booked > 0
    with world.sessions() as session:
        held = session.scalars(select(InboxItem).where(InboxItem.status == InboxStatus.QUARANTINED)).all()
        reasons = {item.reason for item in held}
    assert all(r and "no tax code" in r and "add a tax rule" in r for r in reasons)
    buyers = {o.doc.get("buyer", {}).get("buyerName") for o in world.visible_orders(seller.seller_id)}
    assert not any(name and name in reason for name in buyers for reason in reasons if reason)
    # when: the rules are added and the quarantine retried
    with world.sessions.begin() as session:
        add_tax_rule(session, "T19", ship_to_country="DE")
        add_tax_code(session, "T23", "IE 23 %", Decimal("0.23"))
        session.flush()
        add_tax_rule(session, "T23", ship_to_country="IE")
    retried = retry_quarantined(world.accounts[seller.seller_id], world.deps())
    # then
    assert retried.booked == report.quarantined and retried.quarantined == 0
    assert_book_matches(world, seller.seller_id)


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_completeness_check_fetches_what_the_search_missed_and_fetch_reimports_one(world: SyncWorld) -> None:
    seller = world.seller("NA")
    account_id = world.accounts[seller.seller_id]
    world.sync(seller.seller_id)
    # given: a late order that an overlap of zero misses for good
    world.sandbox.faults.configure({"late_order_rate": 1.0, "late_order_delay_seconds": 480})
    late = world.place_order(seller.seller_id)
    for _ in range(4):  # while it is still Pending (30 minutes)
        world.sandbox.advance(180)
        world.sync(seller.seller_id, overlap=timedelta(0))
    with world.sessions() as session:
        assert not session.scalars(select(InboxItem).where(InboxItem.natural_id == late)).all()
    # when
    report = check_completeness(account_id, world.deps(report_poll_seconds=60.0), days=2)
    # then: the report named it, getOrder fetched it (Pending: held back until Ready, O1)
    assert (report.missing, report.stored, report.actions) == (1, 1, {"waiting": 1})
    # and: re-importing an order whose version is already stored changes nothing
    again = fetch_order(account_id, late, world.deps())
    assert (again.fetched, again.stored, again.booked) == (1, 0, 0)
    world.sandbox.advance(1800)
    assert world.sync(seller.seller_id).booked >= 1
    assert_book_matches(world, seller.seller_id)


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_two_runners_never_sync_one_account_at_once(world: SyncWorld) -> None:
    seller = world.seller("NA")
    name = lease_name(world.accounts[seller.seller_id])
    assert try_acquire(world.sessions, name, "other-runner", clock=world.vtime.now)
    with pytest.raises(LeaseHeld, match="another runner holds it"):
        world.sync(seller.seller_id)
    # a runner that died lets its lease expire
    world.sandbox.advance(11 * 60)
    assert world.sync(seller.seller_id).booked > 0


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_backlog_fills_searchorders_waits_with_getorder_and_ends_when_the_report_is_covered(
    world: SyncWorld,
) -> None:
    # given: a new account whose backlog takes more searchOrders pages (of 2) than the burst of 20
    seller = world.seller("NA")
    # when
    report = world.sync(seller.seller_id, page_size=2, report_poll_seconds=60.0)
    # then: getOrder fetched part of it while searchOrders waited, and the book is complete
    assert report.by_get_order > 0 and report.pages < len(world.visible_orders(seller.seller_id)) / 2
    assert report.quarantined == 0
    assert_book_matches(world, seller.seller_id)
    with world.sessions() as session:
        cursor = session.scalars(select(SyncCursor)).one()
        assert cursor.next_token is None and cursor.position is not None


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_an_order_turning_ready_is_booked_by_the_pending_watch_before_search_can_see_it(
    world: SyncWorld,
) -> None:
    seller = world.seller("NA")
    world.sync(seller.seller_id)
    placed = world.place_order(seller.seller_id)
    world.sandbox.advance(150)
    assert world.sync(seller.seller_id).actions.get("waiting") == 1  # Pending: held back (O1)
    # when: it turned Ready 30 s ago, which searchOrders may not ask about yet (two-minute rule)
    world.sandbox.advance(1800 - 150 + 30)
    report = world.sync(seller.seller_id)
    # then
    assert report.by_get_order >= 1 and report.actions.get("booked", 0) >= 1
    with world.sessions() as session:
        booked = session.scalars(
            select(InboxItem.status).where(InboxItem.natural_id == placed).order_by(InboxItem.version_time)
        ).all()
    assert booked == [InboxStatus.SKIPPED, InboxStatus.BOOKED]


FAULTS = {
    "seed": 4,
    "error_500_rate": 0.1,
    "error_503_rate": 0.1,
    "throttle_rate": 0.1,
    "reset_rate": 0.05,
    "duplicate_page_rate": 0.2,
    "reorder_page_rate": 0.2,
    "expired_token_rate": 0.05,
    "late_order_rate": 0.1,
    "late_order_delay_seconds": 300.0,
}


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_with_faults_switched_on_the_book_still_matches_the_sandbox(world: SyncWorld) -> None:
    world.sandbox.faults.configure(FAULTS)
    # when: the sellers sync every 3 minutes for half an hour (pages of 10) while orders come and change
    for step in range(10):
        for seller_id in world.accounts:
            if step % 3 == 0:
                world.place_order(seller_id)
            world.sync(seller_id, page_size=10)
        world.sandbox.advance(180)
    world.sandbox.faults.configure({})
    for seller_id in world.accounts:
        world.sync(seller_id)
    # then
    for seller_id in world.accounts:
        assert assert_book_matches(world, seller_id) > 10
    with world.sessions() as session:
        keys = session.execute(select(InboxItem.natural_id, InboxItem.version_time)).all()
        held = session.scalars(select(InboxItem).where(InboxItem.status == InboxStatus.QUARANTINED)).all()
    assert len(keys) == len(set(keys)) and not held
