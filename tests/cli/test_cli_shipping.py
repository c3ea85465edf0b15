"""`orderbridge orders ship|tracking|ship-csv` and `carriers`: a shipment is checked before anything
ships, a correction resends exactly one confirmation, a file ships all its orders or none (O23)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import func, select

from orderbridge.amazon.outbound.sender_pass import ALERT_KIND
from orderbridge.book.alerts import Subject, open_alerts, raise_alert
from orderbridge.book.channels import ChannelKind, save_channel
from orderbridge.book.inventory import StockMovement
from orderbridge.book.orders.model import SalesOrder
from orderbridge.cli import context
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage
from tests.book.builders import NOW, make_book
from tests.cli.conftest import Run, json_of
from tests.conftest import STORES

pytestmark = pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
REFS = ("202-0000001-0000001", "202-0000002-0000002", "202-0000003-0000003")
SHOP_REF = "SHOP-1"


@pytest.fixture
def booked(run: Run) -> Run:
    """Three allocated Amazon orders (one mug each) and one order of the seller's own shop; the book is
    written through the CLI's own sessions, so buyer data is sealed (privacy on)."""
    with context.unit_of_work() as session:
        book = make_book(session, skus=("MUG-1",))
        book.receive("MUG-1", 10)
        for ref in REFS:
            book.order(ref, [("MUG-1", 1)])
        shop = save_channel(session, "shop", "Own shop", ChannelKind.MANUAL)
        session.flush()
        book.order(SHOP_REF, [("MUG-1", 1)]).channel_id = shop.id
    return run


def _confirmations() -> list[OutboxMessage]:
    with context.unit_of_work() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == MessageKind.ORDER_SHIPPED)
        found = list(session.scalars(query.order_by(OutboxMessage.id)))
        session.expunge_all()
        return found


def _movements() -> int:
    with context.unit_of_work() as session:
        return int(session.scalar(select(func.count()).select_from(StockMovement)) or 0)


def _shipped(ref: str) -> bool:
    with context.unit_of_work() as session:
        order = session.scalars(select(SalesOrder).where(SalesOrder.external_ref == ref)).one()
        return order.shipped_at is not None


def test_O23_ship_without_tracking_or_with_an_unknown_carrier_is_refused_and_nothing_changes(
    booked: Run,
) -> None:
    before = _movements()
    # an Amazon order: a tracking number is required (Amazon's confirmation needs one), whatever the carrier
    for args, says in (
        (("--carrier", "UPS"), "enter a tracking number; Amazon needs one"),
        (("--carrier", "Other (no tracking)"), "enter a tracking number; Amazon needs one"),
        (("--carrier", "Carrier Pigeon", "--tracking", "CP1"), "'Carrier Pigeon' is not on the carrier list"),
        (("--tracking", "1Z1"), "choose a carrier"),
    ):
        refused = booked("orders", "ship", REFS[0], *args)
        assert refused.exit_code == 1, refused.output
        assert says in refused.output and "Traceback" not in refused.output
    assert _movements() == before and _confirmations() == [] and not _shipped(REFS[0])
    # the shop's order: a carrier with tracking still needs a number; one marked as having none does not
    refused = booked("orders", "ship", SHOP_REF, "--carrier", "Royal Mail")
    assert refused.exit_code == 1 and "carrier Royal Mail needs one" in refused.output
    assert booked("carriers", "add", "Royal Mail 2nd Class Letter", "--no-tracking").exit_code == 0
    shipped = booked("orders", "ship", SHOP_REF, "--carrier", "royal mail 2nd class letter")
    assert shipped.exit_code == 0, shipped.output
    assert f"order {SHOP_REF}: shipment S1 (1 units)" in shipped.stdout
    listed = {c["name"]: c["has_tracking"] for c in json_of(booked("carriers", "list", "--json"))}
    assert listed["Royal Mail 2nd Class Letter"] is False and listed["UPS"] is True


def test_O23_a_tracking_correction_queues_exactly_one_new_confirmation_and_replaces_a_failed_one(
    booked: Run,
) -> None:
    assert booked("orders", "ship", REFS[0], "--carrier", "UPS", "--tracking", "1Z-WRONG").exit_code == 0
    [first] = _confirmations()
    # the first confirmation failed (say, Amazon refused the tracking number) and raised an alert
    with context.unit_of_work() as session:
        message = session.get(OutboxMessage, first.id)
        assert message is not None
        message.status = MessageStatus.FAILED
        text = f"Amazon refused the shipment confirmation (outbox message {message.id}): bad tracking"
        raise_alert(session, Subject.ORDER, message.subject_id, ALERT_KIND, text, now=NOW)
    corrected = booked("orders", "tracking", REFS[0], "--tracking", "1Z-RIGHT", "--carrier", "DHL")
    assert corrected.exit_code == 0, corrected.output
    assert "shipment S1 now DHL 1Z-RIGHT" in corrected.stdout
    old, new = _confirmations()
    assert old.id == first.id and old.status == MessageStatus.SKIPPED
    assert new.status == MessageStatus.PENDING
    assert new.payload == {"shipment_id": first.payload["shipment_id"], "revision": 1}
    with context.unit_of_work() as session:
        assert [a for a in open_alerts(session) if a.kind == ALERT_KIND] == []
    detail = json_of(booked("orders", "show", REFS[0], "--json"))
    assert [(s["carrier"], s["tracking_number"]) for s in detail["shipments"]] == [("DHL", "1Z-RIGHT")]
    # the same details again correct nothing and queue nothing; an unknown shipment is named
    again = booked("orders", "tracking", REFS[0], "--tracking", "1Z-RIGHT")
    assert again.exit_code == 1 and "nothing to correct" in again.output
    missing = booked("orders", "tracking", REFS[0], "--tracking", "X", "--shipment", "S9")
    assert missing.exit_code == 1 and "no shipment 'S9' (its shipments: S1)" in missing.output
    empty = booked("orders", "tracking", REFS[0], "--tracking", " ")
    assert empty.exit_code == 1 and "enter a tracking number" in empty.output
    assert len(_confirmations()) == 2


def test_O23_ship_csv_names_every_bad_line_and_ships_nothing_then_ships_a_good_file_whole(
    booked: Run, csv_file: Callable[[str, str], Path]
) -> None:
    before = _movements()
    bad = csv_file(
        "bad.csv",
        f"""
        order_id,carrier,tracking,ship_date
        {REFS[0]},UPS,1Z1,
        202-9999999-9999999,UPS,1Z2,
        {REFS[1]},Carrier Pigeon,CP1,
        {REFS[2]},UPS,,
        {REFS[0]},UPS,1Z5,
        {SHOP_REF},DPD,DPD6,2099-01-01
        """,
    )
    refused = booked("orders", "ship-csv", str(bad))
    assert refused.exit_code == 1, refused.output
    assert "5 problem(s); nothing was shipped" in refused.output
    assert "line 3, column order_id: no order has this order id" in refused.output
    assert "line 4: order 202-0000002-0000002: carrier 'Carrier Pigeon' is not on the carrier list" in (
        refused.output
    )
    assert "line 5: order 202-0000003-0000003: enter a tracking number" in refused.output
    assert "line 6, column order_id: is also on line 2" in refused.output
    assert "line 7, column ship_date: is in the future (2099-01-01)" in refused.output
    assert _movements() == before and _confirmations() == []
    assert not any(_shipped(ref) for ref in (*REFS, SHOP_REF))
    good = csv_file(
        "good.csv",
        f"""
        order_id,carrier,tracking,ship_date
        {REFS[0]},UPS,1Z1,2026-11-01
        {REFS[1]},Royal Mail,RM2,
        {REFS[2]},DPD,DPD3,
        """,
    )
    shipped = booked("orders", "ship-csv", str(good))
    assert shipped.exit_code == 0, shipped.output
    assert "shipped 3 order(s), 3 unit(s)" in shipped.stdout
    assert all(_shipped(ref) for ref in REFS) and len(_confirmations()) == 3
    again = booked("orders", "ship-csv", str(good))
    assert again.exit_code == 1 and "line 2: order 202-0000001-0000001: is already shipped" in again.output
