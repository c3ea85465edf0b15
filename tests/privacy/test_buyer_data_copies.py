"""Buyer data copied between rows stays readable (C10), the clock counts Amazon's own events (P1, O24),
and a book with values sealed for the wrong row is repaired (issue 16)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from orderbridge.book.contacts import Contact
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.pii import REDACTED
from orderbridge.privacy.errors import MisboundValueError
from orderbridge.privacy.repair import repair_book
from orderbridge.privacy.report import retention_report
from orderbridge.privacy.sealing import open_sealed, reveal
from tests.conftest import STORES
from tests.privacy.fakes import CanaryBuyer
from tests.privacy.world import World, make_world


@pytest.fixture
def world(fresh_store_url: str, tmp_path: Path) -> Iterator[World]:
    built = make_world(fresh_store_url, tmp_path / "install")
    yield built
    built.engine.dispose()


def _opens(world: World, record: object) -> dict[str, str | None]:
    with world.sessions() as session:
        fresh = session.merge(record)
        return reveal(
            session, fresh, ["billing_name", "billing_line1"], actor="test", purpose="t", clock=world.clock
        )


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_c10_a_contacts_address_copied_to_an_order_is_sealed_again_for_the_order(
    world: World, canary: CanaryBuyer
) -> None:
    # given: a contact booked earlier, its values sealed for the contact's row
    order_id = world.book("202-0000001-0000001", canary)
    with world.sessions() as session:
        first = session.get(SalesOrder, order_id)
        assert first is not None
        contact_id = first.contact_id
    second = world.book("202-0000002-0000002", canary, contact_id=contact_id)
    with world.sessions.begin() as session:
        contact = session.get(Contact, contact_id)
        order = session.get(SalesOrder, second)
        assert contact is not None and order is not None
        # when: the contact's sealed billing address is put on the order as it was read (C10)
        order.billing_name = contact.billing_name
        order.billing_line1 = contact.billing_line1
    # then: the order opens it as its own
    with world.sessions() as session:
        stored = session.get(SalesOrder, second)
        assert stored is not None
        assert (
            open_sealed(
                world.privacy,
                stored.billing_name,
                table="sales_orders",
                ref=stored.pii_ref,
                name="billing_name",
            )
            == canary.name
        )


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_c10_a_sealed_value_whose_origin_is_unknown_is_refused_never_stored(
    world: World, canary: CanaryBuyer
) -> None:
    order_id = world.book("202-0000001-0000001", canary)
    with world.sessions() as session:
        order = session.get(SalesOrder, order_id)
        contact = session.get(Contact, order.contact_id if order else 0)
        assert order is not None and contact is not None
        raw = str(session.scalar(select(Contact.billing_line1).where(Contact.id == contact.id)))
        order.billing_line1 = raw  # sealed text from a query: where it was sealed is unknown
        with pytest.raises(MisboundValueError) as refused:
            session.flush()
        assert canary.address_line1 not in str(refused.value)


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_p1_o24_the_report_counts_an_order_shipped_at_amazon_31_days_ago_as_overdue(
    world: World, canary: CanaryBuyer
) -> None:
    # given: an order the book never shipped, which Amazon reports shipped 31 days ago
    order_id = world.book("202-0000001-0000001", canary)
    with world.sessions.begin() as session:
        session.execute(
            update(SalesOrder)
            .where(SalesOrder.id == order_id)
            .values(channel_shipped_at=world.clock() - timedelta(days=31))
        )
    # then: the report counts it from that fact, though no sweep wrote any date for it
    with world.sessions() as session:
        report = retention_report(session, world.privacy, world.archive_dir, clock=world.clock)
    assert report.overdue_orders == 1
    # and the sweep removes its buyer data; then the report is clean
    world.sweep()
    with world.sessions() as session:
        order = session.get(SalesOrder, order_id)
        assert order is not None and order.pii_redacted_at is not None
        assert order.billing_name in (None, REDACTED)
        assert retention_report(session, world.privacy, world.archive_dir, clock=world.clock).overdue == 0


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_c10_privacy_repair_reseals_the_billing_values_the_old_booking_copied_from_the_contact(
    world: World, canary: CanaryBuyer, capsys: pytest.CaptureFixture[str]
) -> None:
    # given: the broken state the old booking made: the order holds its contact's sealed billing values
    first = world.book("202-0000001-0000001", canary)
    with world.sessions.begin() as session:
        order = session.get(SalesOrder, first)
        assert order is not None
        contact_id = order.contact_id
    second = world.book("202-0000002-0000002", canary, contact_id=contact_id)
    third = world.book("202-0000003-0000003", canary)
    with world.sessions.begin() as session:
        contact = session.execute(
            select(Contact.billing_name, Contact.billing_line1).where(Contact.id == contact_id)
        ).one()
        session.execute(
            update(SalesOrder)
            .where(SalesOrder.id == second)
            .values(billing_name=contact.billing_name, billing_line1=contact.billing_line1)
        )
        session.execute(
            update(SalesOrder).where(SalesOrder.id == third).values(billing_name="ob1:AAAA" + "A" * 60)
        )
    with world.sessions() as session, pytest.raises(Exception):  # noqa: B017 - the old failure
        broken = session.get(SalesOrder, second)
        reveal(session, broken, ["billing_name"], actor="t", purpose="t", clock=world.clock)
    # when
    report = repair_book(world.sessions, world.privacy)
    # then: the copied values open as the order's own; what cannot be opened is named by order id
    assert report.resealed == 2 and report.unreadable == {"202-0000003-0000003": ["billing_name"]}
    with world.sessions() as session:
        fixed = session.get(SalesOrder, second)
        assert fixed is not None
        shown = reveal(
            session, fixed, ["billing_name", "billing_line1"], actor="t", purpose="t", clock=world.clock
        )
    assert shown["billing_name"] == canary.name and shown["billing_line1"] == canary.address_line1
    assert repair_book(world.sessions, world.privacy).resealed == 0  # idempotent
