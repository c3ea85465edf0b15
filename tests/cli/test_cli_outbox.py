"""`orderbridge orders ship`, `outbox list|show|retry`, `listings buffer` (O23: the audit trail)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from orderbridge.amazon.outbound.sender_pass import ALERT_KIND
from orderbridge.book.alerts import Subject, raise_alert
from orderbridge.db import make_engine, session_factory, transaction
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage
from tests.book.builders import NOW, make_book
from tests.cli.conftest import Run, json_of
from tests.conftest import STORES

pytestmark = pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
REF = "202-7654321-7654321"


@pytest.fixture
def booked(run: Run, store_url: str) -> Run:
    """An Amazon order of 2 mugs and 1 spoon, all allocated."""
    engine = make_engine(store_url)
    with transaction(session_factory(engine)) as session:
        book = make_book(session, skus=("MUG-1", "SPOON-1"))
        book.receive("MUG-1", 5)
        book.receive("SPOON-1", 5)
        book.order(REF, [("MUG-1", 2), ("SPOON-1", 1)])
    engine.dispose()
    return run


def _fail_message(store_url: str) -> int:
    """Fail the confirmation as the sender does when Amazon refuses it."""
    engine = make_engine(store_url)
    with transaction(session_factory(engine)) as session:
        message = session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == MessageKind.ORDER_SHIPPED)
        ).one()
        message.status, message.last_error = MessageStatus.FAILED, "confirmShipment: HTTP 400 InvalidInput"
        raise_alert(
            session,
            Subject.ORDER,
            message.subject_id,
            ALERT_KIND,
            f"Amazon refused the shipment confirmation (outbox message {message.id}): HTTP 400",
            now=NOW,
        )
        message_id = message.id
    engine.dispose()
    return message_id


def test_o23_ship_some_rows_queues_one_confirmation_that_outbox_list_shows(
    booked: Run, store_url: str
) -> None:
    shipped = booked("orders", "ship", REF, "--tracking", "1Z9", "--carrier", "UPS", "--rows", "1:1")
    assert shipped.exit_code == 0, shipped.output
    assert "shipment S1 (1 units)" in shipped.stdout
    detail = json_of(booked("orders", "show", REF, "--json"))
    assert [(s["carrier"], s["tracking_number"]) for s in detail["shipments"]] == [("UPS", "1Z9")]
    listed = json_of(booked("outbox", "list", "--kind", "order_shipped", "--json"))
    assert [(m["kind"], m["status"]) for m in listed] == [("order_shipped", "pending")]
    # a failed message is retried by id; the attempt is in its history
    message_id = _fail_message(store_url)
    assert json_of(booked("outbox", "list", "--status", "failed", "--json"))[0]["id"] == message_id
    assert [a["subject"] for a in json_of(booked("outbox", "alerts", "--json"))] == ["order"]
    retried = booked("outbox", "retry", str(message_id))
    assert retried.exit_code == 0, retried.output
    shown = json_of(booked("outbox", "show", str(message_id), "--json"))
    assert shown["status"] == "pending" and shown["history"][-1]["outcome"] == "requeued"
    assert json_of(booked("outbox", "alerts", "--json")) == []


def test_outbox_retry_of_a_message_that_did_not_fail_is_refused_by_name(booked: Run) -> None:
    booked("orders", "ship", REF, "--tracking", "1Z9", "--carrier", "UPS")
    message_id = json_of(booked("outbox", "list", "--kind", "order_shipped", "--json"))[0]["id"]
    refused = booked("outbox", "retry", str(message_id))
    assert refused.exit_code == 1
    assert f"outbox message {message_id} is pending" in refused.output
    missing = booked("outbox", "retry", "999999")
    assert missing.exit_code == 1 and "outbox message 999999 does not exist" in missing.output


def test_orders_ship_refuses_bad_rows_and_empty_tracking_naming_them(booked: Run) -> None:
    bad = booked("orders", "ship", REF, "--tracking", "1Z9", "--rows", "9")
    assert bad.exit_code == 2 and "has no row #9" in bad.output
    worse = booked("orders", "ship", REF, "--tracking", "1Z9", "--rows", "1:x")
    assert worse.exit_code == 2 and "'1:x' is not #[:QTY]" in worse.output
    empty = booked("orders", "ship", REF, "--tracking", " ", "--carrier", "UPS")
    assert empty.exit_code == 1 and "enter a tracking number" in empty.output
    too_many = booked("orders", "ship", REF, "--tracking", "1Z9", "--carrier", "UPS", "--rows", "1:5")
    assert too_many.exit_code == 1 and "cannot ship 5" in too_many.output


def test_i1_listings_buffer_is_refused_for_an_unknown_listing_and_negative_units(booked: Run) -> None:
    unknown = booked("listings", "buffer", "amazon-uk", "NOPE", "3")
    assert unknown.exit_code == 1 and "NOPE" in unknown.output
    assert booked("listings", "connect", "amazon-uk", "MUG-UK", "MUG-1").exit_code == 0
    negative = booked("listings", "buffer", "amazon-uk", "MUG-UK", "--", "-1")
    assert negative.exit_code == 1 and "buffer -1 is negative" in negative.output
    fine = booked("listings", "buffer", "amazon-uk", "MUG-UK", "2")
    assert fine.exit_code == 0 and "holds back 2 units" in fine.stdout
