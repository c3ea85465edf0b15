"""O8, O20, O23: shipping in the book confirms the shipment at the sandbox once, with carrier and tracking."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from orderbridge.amazon.orders.records import AmazonOrderRecord
from orderbridge.amazon.outbound.corrections import correct_tracking
from orderbridge.amazon.outbound.sender import retry_message
from orderbridge.book.alerts import Subject, open_alerts
from orderbridge.book.orders.carriers import save_carrier
from orderbridge.book.orders.model import RowKind, SalesOrder, ShippingMethod
from orderbridge.book.orders.shipping import ship_order
from orderbridge.db import make_engine, session_factory
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage
from orderbridge.simulator import worldfile
from tests.e2e.outbound_world import OutboundWorld, open_outbound, shippable_orders
from tests.e2e.sync_world import make_sandbox
from tests.simulator.sandbox_helpers import assert_valid, small_world

_WORLD = worldfile.dump(small_world(seed=11, orders_per_day=30))


@pytest.fixture
def outbound(fresh_store_url: str, tmp_path: Path) -> Iterator[OutboundWorld]:
    sandbox = make_sandbox(copy.deepcopy(_WORLD))
    engine = make_engine(fresh_store_url)
    yield open_outbound(session_factory(engine), sandbox, tmp_path)
    engine.dispose()


def _ship_some(outbound: OutboundWorld, count: int) -> dict[str, tuple[str, str]]:
    """Ship `count` orders in the book; amazon order id -> (carrier, tracking)."""
    shipped: dict[str, tuple[str, str]] = {}
    now = outbound.world.vtime.now()
    with outbound.sessions.begin() as session:
        save_carrier(session, "Hermes Next Day Parcel")  # the seller's own carrier, not Amazon's list
        for number, order in enumerate(
            _across_channels(list(shippable_orders(session, outbound.sandbox, limit=500)), count)
        ):
            carrier = "Royal Mail" if number % 2 else "Hermes Next Day Parcel"
            tracking = f"TRK{number:05d}"
            ship_order(session, order, reference="S1", now=now, tracking_number=tracking, carrier=carrier)
            shipped[order.external_ref] = (carrier, tracking)
    return shipped


def _across_channels(orders: list[SalesOrder], count: int) -> list[SalesOrder]:
    by_channel: dict[int, list[SalesOrder]] = {}
    for order in orders:
        by_channel.setdefault(order.channel_id, []).append(order)
    picked: list[SalesOrder] = []
    while len(picked) < count and any(by_channel.values()):
        for queue in by_channel.values():
            if queue and len(picked) < count:
                picked.append(queue.pop(0))
    return picked


def _packages(outbound: OutboundWorld, amazon_order_id: str) -> list[dict[str, object]]:
    return list(outbound.sandbox.world.orders[amazon_order_id].doc.get("packages") or [])


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_o23_shipped_orders_show_shipped_at_the_sandbox_once_with_carrier_and_tracking(
    outbound: OutboundWorld,
) -> None:
    # given: FBM orders of both regions shipped in the book, one carrier known to Amazon, one not
    shipped = _ship_some(outbound, 12)
    assert len(shipped) >= 6
    regions = {outbound.sandbox.world.orders[ref].seller_id for ref in shipped}
    assert len(regions) >= 2, "orders of both sellers (NA and EU) are shipped"
    # when: the sender runs twice (the second pass must send nothing again)
    outbound.drain()
    outbound.send()
    # then: Amazon shows each order Shipped with one package of the right carrier and tracking
    for amazon_order_id, (carrier, tracking) in shipped.items():
        order = outbound.sandbox.world.orders[amazon_order_id]
        assert order.status == "SHIPPED", amazon_order_id
        packages = _packages(outbound, amazon_order_id)
        assert len(packages) == 1
        assert packages[0]["trackingNumber"] == tracking
        assert packages[0]["carrier"] == carrier  # Royal Mail as its code; others as Other + name
    confirms = outbound.sent_bodies("/shipmentConfirmation")
    assert len(confirms) == len(shipped)
    codes = {body["packageDetail"]["carrierCode"] for body in confirms}
    assert codes == {"Royal Mail", "Other"}
    for body in confirms:
        assert_valid("ordersV0.json", "ConfirmShipmentRequest", body)


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_o8_carrier_comes_from_the_shipping_method_and_partial_shipment_confirms_only_what_shipped(
    outbound: OutboundWorld,
) -> None:
    # given: an order with a shipping method whose carrier is DHL, shipping one unit of a two-unit row
    now = outbound.world.vtime.now()
    with outbound.sessions.begin() as session:
        order = next(
            o
            for o in shippable_orders(session, outbound.sandbox, limit=200)
            if _has_row_of_two(o) and o.shipping_method
        )
        assert order.shipping_method is not None
        session.get(ShippingMethod, order.shipping_method.id).carrier = "DHL"  # type: ignore[union-attr]
        row = next(r for r in order.rows if r.kind == RowKind.PRODUCT and r.quantity >= 2)
        ship_order(session, order, reference="P1", now=now, quantities={row.id: 1}, tracking_number="DHL-1")
        ref, item_id = order.external_ref, row.external_ref
    # when
    outbound.drain()
    # then: the package names DHL and only the shipped unit; Amazon shows the order partially shipped
    packages = _packages(outbound, ref)
    assert [(p["carrier"], p["trackingNumber"]) for p in packages] == [("DHL", "DHL-1")]
    assert packages[0]["packageItems"] == [{"orderItemId": item_id, "quantity": 1}]
    assert outbound.sandbox.world.orders[ref].status == "PARTIALLY_SHIPPED"
    body = outbound.sent_bodies("/shipmentConfirmation")[0]
    assert body["packageDetail"]["shippingMethod"]


def _has_row_of_two(order: SalesOrder) -> bool:
    return any(r.kind == RowKind.PRODUCT and r.quantity >= 2 for r in order.rows)


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_o20_sfp_order_set_to_skip_is_not_confirmed_and_the_skip_is_recorded(outbound: OutboundWorld) -> None:
    # given: a shipped order that the booking marked as SFP confirmed by another system
    now = outbound.world.vtime.now()
    with outbound.sessions.begin() as session:
        order = next(shippable_orders(session, outbound.sandbox))
        record = session.scalar(
            select(AmazonOrderRecord).where(AmazonOrderRecord.amazon_order_id == order.external_ref)
        )
        assert record is not None
        record.skip_shipment_confirmation = True
        ship_order(session, order, reference="S1", now=now, tracking_number="T1", carrier="UPS")
        ref = order.external_ref
    # when
    outbound.drain()
    # then: nothing reached Amazon; the message says why
    assert _packages(outbound, ref) == []
    assert outbound.sent_bodies("/shipmentConfirmation") == []
    with outbound.sessions() as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == MessageKind.ORDER_SHIPPED)
        ).one()
        assert message.status == MessageStatus.SKIPPED
        assert "Seller Fulfilled Prime" in str(message.result)


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_o23_confirmations_arrive_once_while_the_sandbox_answers_429_and_500_for_a_while(
    outbound: OutboundWorld,
) -> None:
    # given: for a while the sandbox answers every confirmShipment with 429 or 500
    shipped = _ship_some(outbound, 10)
    outbound.sandbox.faults.configure(
        {"throttle_rate": 0.5, "error_500_rate": 1.0, "operations": ["confirmShipment"], "seed": 3}
    )
    first = outbound.send()
    # when: the faults clear after a while
    outbound.sandbox.faults.configure({})
    outbound.drain(wait=3600.0)
    # then: retried until accepted, each exactly once; the retries are in the audit trail
    assert (first.confirmed, first.retrying) == (0, len(shipped))
    for amazon_order_id, (_, tracking) in shipped.items():
        packages = _packages(outbound, amazon_order_id)
        assert [p["trackingNumber"] for p in packages] == [tracking]
    stats = outbound.sandbox.calls.stats["confirmShipment"]
    assert stats.calls - stats.throttled - stats.errors == len(shipped)
    with outbound.sessions() as session:
        messages = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == MessageKind.ORDER_SHIPPED)
        )
        outcomes = [a.outcome for m in messages for a in m.attempts_log]
    assert outcomes.count("sent") == len(shipped) and "retry" in outcomes


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_o23_amazons_400_becomes_an_alert_on_the_order_that_can_be_retried(outbound: OutboundWorld) -> None:
    # given: an order Amazon has cancelled meanwhile, then shipped in the book (Amazon answers 400)
    now = outbound.world.vtime.now()
    with outbound.sessions.begin() as session:
        order = next(shippable_orders(session, outbound.sandbox))
        order_id, ref = order.id, order.external_ref
        ship_order(session, order, reference="S1", now=now, tracking_number="T-400", carrier="UPS")
    fulfillment = outbound.sandbox.world.orders[ref].doc["fulfillment"]
    fulfillment["fulfillmentStatus"] = "CANCELLED"
    # when
    outbound.drain()
    # then: the message failed with Amazon's reason and the order carries an alert saying so
    with outbound.sessions() as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == MessageKind.ORDER_SHIPPED)
        ).one()
        assert message.status == MessageStatus.FAILED
        assert "HTTP 400" in (message.last_error or "")
        alerts = open_alerts(session, Subject.ORDER, order_id)
        assert len(alerts) == 1 and f"outbox retry {message.id}" in alerts[0].message
        message_id = message.id
    # when: the seller sorts it out at Amazon and retries
    fulfillment["fulfillmentStatus"] = "UNSHIPPED"
    with outbound.sessions.begin() as session:
        retry_message(session, message_id, now=now)
    outbound.drain()
    # then: confirmed once, the alert cleared
    assert [p["trackingNumber"] for p in _packages(outbound, ref)] == ["T-400"]
    with outbound.sessions() as session:
        assert session.get(OutboxMessage, message_id).status == MessageStatus.SENT  # type: ignore[union-attr]
        assert open_alerts(session, Subject.ORDER, order_id) == []


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_o23_a_local_failure_says_not_sent_and_a_correction_edits_the_package_at_amazon_once(
    outbound: OutboundWorld,
) -> None:
    # given: a shipment that lost its carrier (made before shipments were checked): it cannot be sent
    now = outbound.world.vtime.now()
    with outbound.sessions.begin() as session:
        order = next(shippable_orders(session, outbound.sandbox))
        order_id, ref = order.id, order.external_ref
        shipment = ship_order(session, order, reference="S1", now=now, tracking_number="T-OLD", carrier="UPS")
        session.flush()
        shipment.carrier = None
        if order.shipping_method is not None:
            order.shipping_method.carrier = None
    outbound.drain()
    # then: the alert says it never reached Amazon, not that Amazon refused it
    with outbound.sessions() as session:
        [alert] = open_alerts(session, Subject.ORDER, order_id)
        assert "was not sent to Amazon" in alert.message and "Amazon refused" not in alert.message
    assert outbound.sent_bodies("/shipmentConfirmation") == []
    # when: the operator corrects the carrier and tracking; the sender runs
    with outbound.sessions.begin() as session:
        found = session.get(SalesOrder, order_id)
        assert found is not None
        correct_tracking(session, found, reference="S1", tracking_number="T-NEW", carrier="DHL", now=now)
    outbound.drain()
    # then: the corrected confirmation went once, the failed one was replaced, the alert cleared
    assert [
        body["packageDetail"]["trackingNumber"] for body in outbound.sent_bodies("/shipmentConfirmation")
    ] == ["T-NEW"]
    with outbound.sessions() as session:
        assert open_alerts(session, Subject.ORDER, order_id) == []
    # when: corrected again after Amazon has the package
    with outbound.sessions.begin() as session:
        found = session.get(SalesOrder, order_id)
        assert found is not None
        correct_tracking(session, found, reference="S1", tracking_number="T-NEWER", now=now)
    outbound.drain()
    # then: Amazon's one package carries the new tracking; no unit shipped twice
    [package] = _packages(outbound, ref)
    assert (package["trackingNumber"], package["carrier"]) == ("T-NEWER", "DHL")
    assert len(outbound.sent_bodies("/shipmentConfirmation")) == 2
    items = outbound.sandbox.world.orders[ref].doc["orderItems"]
    assert all(i["fulfillment"]["quantityFulfilled"] <= i["quantityOrdered"] for i in items)
