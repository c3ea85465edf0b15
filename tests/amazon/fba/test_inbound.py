"""Inbound shipments as warehouse transfers, received into FBA as Amazon reports it (F3, F4, F5)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orderbridge.amazon.fba.records import InboundShipmentRecord
from orderbridge.book.transfers import TransferStatus, WarehouseTransfer
from orderbridge.notify.mail import MailSettings
from tests.amazon.fba.fba_world import (
    admin,
    fba_skus,
    first_fba_sync,
    on_hand,
    poll_inbound,
    send,
    stock_catalog,
)
from tests.e2e.sync_world import SyncWorld
from tests.notify.smtp_server import Inbox

HOUR = 3600.0


def _shipment(world: SyncWorld, shipment_id: str, items: list[dict[str, object]]) -> None:
    seller = world.seller("NA")
    body = {"sellerId": seller.seller_id, "shipmentId": shipment_id, "items": items}
    admin(world, "POST", "/inbound", body)


def _step(world: SyncWorld, shipment_id: str) -> str:
    return str(admin(world, "POST", f"/inbound/{shipment_id}/step")["status"])


def _record(world: SyncWorld, shipment_id: str) -> tuple[InboundShipmentRecord, WarehouseTransfer | None]:
    with world.sessions() as session:
        record = session.scalar(
            select(InboundShipmentRecord).where(InboundShipmentRecord.shipment_id == shipment_id)
        )
        assert record is not None
        transfer = session.get(WarehouseTransfer, record.transfer_id) if record.transfer_id else None
        if transfer is not None:
            list(transfer.rows)
        return record, transfer


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_f3_f4_f5_inbound_shipment_becomes_transfer_received_over_short_and_unexpected(
    world: SyncWorld, smtp: tuple[Inbox, MailSettings]
) -> None:
    inbox, mail = smtp
    seller = world.seller("NA")
    a, b, c = fba_skus(world, seller)[:3]
    stock_catalog(world)
    first_fba_sync(world, seller)  # Amazon's count first: inbound waits for it
    poll_inbound(world, seller)  # the world's own shipments first (the clock stands still below)
    with world.sessions() as session:
        main_before = on_hand(session, "MAIN")
        fba_before = on_hand(session, "FBA")
    # given: 10 of A (11 arrive), 10 of B (7 arrive) and 2 of C nobody announced
    _shipment(
        world,
        "FBA1IN000001",
        [
            {"sku": a, "quantityShipped": 10, "receive": 11},
            {"sku": b, "quantityShipped": 10, "receive": 7},
            {"sku": c, "quantityShipped": 0, "receive": 2},
        ],
    )
    poll_inbound(world, seller)
    record, transfer = _record(world, "FBA1IN000001")
    assert (record.status, transfer) == ("WORKING", None)  # F3: nothing leaves while WORKING

    # when: it ships
    assert _step(world, "FBA1IN000001") == "SHIPPED"
    poll_inbound(world, seller)
    # then F3: a transfer MAIN -> FBA, stock left MAIN and is in transit
    record, transfer = _record(world, "FBA1IN000001")
    assert transfer is not None and transfer.status == TransferStatus.IN_TRANSIT
    with world.sessions() as session:
        main = on_hand(session, "MAIN")
        assert (main_before[a] - main[a], main_before[b] - main[b]) == (10, 10)
        assert {row.quantity_sent for row in transfer.rows} == {10}

    # when: Amazon walks it to RECEIVING (half received), polled at each step, then CLOSED
    for expected in ("IN_TRANSIT", "DELIVERED", "CHECKED_IN", "RECEIVING"):
        assert _step(world, "FBA1IN000001") == expected
        poll_inbound(world, seller)
    with world.sessions() as session:
        fba_mid = on_hand(session, "FBA")
    assert (fba_mid[a] - fba_before[a], fba_mid[b] - fba_before[b], fba_mid[c] - fba_before[c]) == (5, 3, 1)
    assert _step(world, "FBA1IN000001") == "CLOSED"
    poll_inbound(world, seller)
    poll_inbound(world, seller)  # F10-style: polling again changes nothing

    # then F4: received quantities released into FBA; over, unexpected and short recorded on the transfer
    with world.sessions() as session:
        fba_after = on_hand(session, "FBA")
    assert (fba_after[a] - fba_before[a], fba_after[b] - fba_before[b], fba_after[c] - fba_before[c]) == (
        11,
        7,
        2,
    )
    record, transfer = _record(world, "FBA1IN000001")
    assert transfer is not None and transfer.status == TransferStatus.CLOSED
    rows = {(r.quantity_sent, r.quantity_received, r.quantity_short, r.unexpected) for r in transfer.rows}
    assert rows == {(10, 11, 0, False), (10, 7, 3, False), (0, 2, 0, True)}

    # then F5: each e-mail exactly once, naming shipment, SKUs and quantities
    send(world, mail)
    send(world, mail)
    mine = [m for m in inbox.messages if "FBA1IN000001" in str(m["Subject"])]
    kinds = sorted(str(m["X-Orderbridge-Event"]).rsplit("FBA1IN000001:", 1)[1] for m in mine)
    assert kinds == sorted(["started", "progress:9", f"over:{a}", f"unexpected:{c}", "complete"])
    by_kind = {str(m["X-Orderbridge-Event"]).rsplit(":", 1)[-1]: m.get_content() for m in mine}
    assert f"{a}" in by_kind[a] and "11" in by_kind[a] and "+1" in by_kind[a]
    assert "short 3" in by_kind["complete"]


def test_f5_not_enough_stock_to_create_the_transfer_is_mailed_once_and_retried(
    world: SyncWorld, smtp: tuple[Inbox, MailSettings]
) -> None:
    inbox, mail = smtp
    seller = world.seller("NA")
    a = fba_skus(world, seller)[0]
    stock_catalog(world, own_stock=4)
    first_fba_sync(world, seller)
    _shipment(world, "FBA1IN000002", [{"sku": a, "quantityShipped": 10}])
    _step(world, "FBA1IN000002")
    # when: polled twice while MAIN holds only 4
    poll_inbound(world, seller)
    poll_inbound(world, seller)
    send(world, mail)
    # then: no transfer, the problem named, one e-mail
    record, transfer = _record(world, "FBA1IN000002")
    assert transfer is None and record.problem is not None and "needs 10, has 4" in record.problem
    (message,) = [m for m in inbox.messages if "FBA1IN000002" in str(m["Subject"])]
    assert "Not enough stock" in str(message["Subject"]) and a in message.get_content()
    # when: stock arrives in MAIN, the next poll creates the transfer
    stock_catalog(world, own_stock=50, count="recount")
    poll_inbound(world, seller)
    record, transfer = _record(world, "FBA1IN000002")
    assert transfer is not None and record.problem is None
