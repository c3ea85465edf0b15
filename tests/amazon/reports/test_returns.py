"""Returns from Amazon as sales credits against the order, with amounts and stock (F1, F2, F8)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.channel import change_settings, channel_for
from orderbridge.amazon.reports.inbox import quarantined_rows
from orderbridge.amazon.reports.returns import FBA_RETURNS, MFN_RETURNS, ReturnCredit
from orderbridge.amazon.reports.settlements import SETTLEMENT_REPORT
from orderbridge.amazon.reports.sync import sync_reports
from orderbridge.book.credits import SalesCredit
from orderbridge.book.orders.model import OrderRow, SalesOrder
from orderbridge.book.payments import Payment
from orderbridge.simulator.world import SimOrder
from tests.amazon.fba.fba_world import admin, fba_skus, fetch_reports, on_hand, stock_catalog
from tests.e2e.sync_world import SyncWorld


def _since(world: SyncWorld) -> datetime:
    return datetime.fromtimestamp(world.sandbox.clock.now(), UTC) - timedelta(days=10)


def _shipped(world: SyncWorld, *, by_amazon: bool) -> list[SimOrder]:
    seller = world.seller("NA")
    return [
        order
        for order in world.sandbox.world.orders.values()
        if order.seller_id == seller.seller_id
        and order.fulfilled_by == ("AMAZON" if by_amazon else "MERCHANT")
        and order.status == "SHIPPED"
        and order.marketplace_id == seller.marketplace_ids[0]
    ]


def _credit(world: SyncWorld, order_ref: str) -> tuple[SalesCredit, ReturnCredit, OrderRow]:
    with world.sessions() as session:
        order = session.scalar(select(SalesOrder).where(SalesOrder.external_ref == order_ref))
        assert order is not None
        credit = session.scalar(select(SalesCredit).where(SalesCredit.order_id == order.id))
        assert credit is not None, f"no credit for {order_ref}"
        link = session.get(ReturnCredit, credit.id)
        assert link is not None
        list(credit.rows)
        row = session.get(OrderRow, credit.rows[0].order_row_id)
        assert row is not None
        return credit, link, row


def _sku(order: SimOrder) -> str:
    return str(order.doc["orderItems"][0]["product"]["sellerSku"])


def test_f1_f8_fba_returns_become_credits_and_only_sellable_units_go_back_to_fba(
    world: SyncWorld, tmp_path: Path
) -> None:
    seller = world.seller("NA")
    stock_catalog(world)
    world.sync(seller.seller_id)
    sellable, damaged = _shipped(world, by_amazon=True)[:2]
    with world.sessions() as session:
        before = on_hand(session, "FBA")
    # when: one unit comes back sellable, one damaged, and the returns report is read
    admin(
        world,
        "POST",
        f"/orders/{sellable.order_id}/return",
        {"sku": _sku(sellable), "disposition": "SELLABLE"},
    )
    admin(
        world, "POST", f"/orders/{damaged.order_id}/return", {"sku": _sku(damaged), "disposition": "DAMAGED"}
    )
    world.sandbox.advance(600)  # reports end two minutes before now
    fetch_reports(world, tmp_path, [FBA_RETURNS], since=_since(world))
    fetch_reports(world, tmp_path, [FBA_RETURNS], since=_since(world))  # F10: again, nothing more
    # then F1: a credit against each order, one unit, priced like the order row until the refund settles
    credit, link, row = _credit(world, sellable.order_id)
    assert [r.quantity for r in credit.rows] == [1]
    assert credit.total_net == (row.net / row.quantity).quantize(credit.total_net) and credit.total_gross > 0
    assert link.priced_from_order and link.disposition == "SELLABLE"
    damaged_credit, _, _ = _credit(world, damaged.order_id)
    assert (credit.restock, damaged_credit.restock) == (True, False)
    # then F8: the sellable unit is back in FBA stock, the damaged one is not
    with world.sessions() as session:
        after = on_hand(session, "FBA")
        assert after[_sku(sellable)] - before[_sku(sellable)] == 1
        if _sku(damaged) != _sku(sellable):
            assert after[_sku(damaged)] == before[_sku(damaged)]
        assert len(list(session.scalars(select(SalesCredit)))) == 2

    # when: the settlement that carries the refunds is published and read, and returns are read again
    world.sandbox.advance(16 * 86400)
    with world.sessions() as session:
        account = session.get(SellerAccount, world.accounts[seller.seller_id])
        assert account is not None
    sync_reports(world.sessions, world.client(account), account_id=account.id, clock=world.vtime.now,
                 report_types=[SETTLEMENT_REPORT])  # fmt: skip
    fetch_reports(world, tmp_path, [FBA_RETURNS], since=_since(world) - timedelta(days=16))
    # then F1: the credit now carries the settlement's refund, and the refund is paid against it
    credit, link, _ = _credit(world, sellable.order_id)
    assert not link.priced_from_order and link.settlement_ref
    refunded = sum(
        -e.amount
        for e in world.sandbox.world.financial_events
        if e.order_id == sellable.order_id and e.transaction_type == "Refund" and e.amount_type == "ItemPrice"
    )
    assert credit.total_gross == refunded
    with world.sessions() as session:
        paid = session.scalar(select(Payment).where(Payment.credit_id == credit.id))
        assert paid is not None and paid.amount == credit.total_gross


def test_f2_fbm_returns_go_back_to_stock_only_when_the_channel_setting_says_so(
    world: SyncWorld, tmp_path: Path
) -> None:
    seller = world.seller("NA")
    stock_catalog(world)
    world.sync(seller.seller_id)
    kept, restocked = _shipped(world, by_amazon=False)[:2]
    with world.sessions.begin() as session:
        change_settings(session, channel_for(session, seller.marketplace_ids[0]), {"returns_to_stock": "no"})
    admin(world, "POST", f"/orders/{kept.order_id}/return", {"sku": _sku(kept)})
    world.sandbox.advance(600)
    fetch_reports(world, tmp_path, [MFN_RETURNS], since=_since(world))
    with world.sessions.begin() as session:
        change_settings(session, channel_for(session, seller.marketplace_ids[0]), {"returns_to_stock": "yes"})
        before = on_hand(session, "MAIN")
    admin(world, "POST", f"/orders/{restocked.order_id}/return", {"sku": _sku(restocked)})
    world.sandbox.advance(600)
    fetch_reports(world, tmp_path, [MFN_RETURNS], since=_since(world))
    # then: both are credits against their orders; only the second went back on hand in MAIN
    kept_credit, _, _ = _credit(world, kept.order_id)
    restocked_credit, _, _ = _credit(world, restocked.order_id)
    assert (kept_credit.restock, restocked_credit.restock) == (False, True)
    with world.sessions() as session:
        assert on_hand(session, "MAIN")[_sku(restocked)] - before[_sku(restocked)] == 1


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_f8_o19_a_return_of_a_multi_channel_order_credits_nothing_and_its_sellable_unit_goes_back_to_fba(
    world: SyncWorld, tmp_path: Path
) -> None:
    # given: a multi-channel order (sold elsewhere, shipped by Amazon from FBA stock), skipped as no sale
    seller = world.seller("NA")
    stock_catalog(world)
    sku = fba_skus(world, seller)[0]
    placed = admin(
        world,
        "POST",
        "/orders",
        {
            "sellerId": seller.seller_id,
            "marketplace": "US",
            "items": [{"sku": sku}],
            "salesChannel": "NON_AMAZON",
        },
    )
    world.sandbox.advance(2 * 86400)  # Amazon ships it
    world.sync(seller.seller_id)
    assert world.sandbox.world.orders[placed["orderId"]].status == "SHIPPED"
    with world.sessions() as session:
        assert session.scalar(select(SalesOrder).where(SalesOrder.external_ref == placed["orderId"])) is None
        before = on_hand(session, "FBA")
    # when: the unit comes back sellable and the returns report is read (twice: F10)
    admin(world, "POST", f"/orders/{placed['orderId']}/return", {"sku": sku, "disposition": "SELLABLE"})
    world.sandbox.advance(600)
    fetch_reports(world, tmp_path, [FBA_RETURNS], since=_since(world))
    fetch_reports(world, tmp_path, [FBA_RETURNS], since=_since(world))
    # then: no credit (there was no sale to credit) and nothing held, but the unit is back in FBA stock
    with world.sessions() as session:
        assert list(session.scalars(select(SalesCredit))) == []
        assert [row.reason for row in quarantined_rows(session)] == []
        assert on_hand(session, "FBA")[sku] - before[sku] == 1
    # and Amazon refunded nothing for it (the seller refunds the buyer where the order was sold)
    assert not [e for e in world.sandbox.world.financial_events if e.order_id == placed["orderId"]]
