"""The book with privacy wired in, on both stores: sealed writes, the sweep, the archive, the byte scans.

Each test books through the book's own paths (bulk INSERT for orders and notes, ORM for contacts,
shipments, cancellations and custom field values) and checks the raw bytes of the store: the SQLite
file, -wal and -shm, or a pg_dump of the PostgreSQL database, plus the logs, archive and key store.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from orderbridge.book.contacts import Contact
from orderbridge.book.custom_fields import CustomFieldValue
from orderbridge.book.orders.model import OrderNote, OrderRow, SalesOrder
from orderbridge.book.pii import REDACTED, pii_fields
from orderbridge.privacy import audit
from orderbridge.privacy.archive import restore, verify
from orderbridge.privacy.canary import make_canary_buyer, scan
from orderbridge.privacy.errors import DecryptionError
from orderbridge.privacy.keystore import KeyId
from orderbridge.privacy.models import AuditAction, RedactionLedger
from orderbridge.privacy.sealing import email_key, enable, is_sealed, open_sealed, reveal
from tests.privacy.world import AMAZON_UK, World, make_world

STORES = pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def world(fresh_store_url: str, tmp_path: Path) -> Iterator[World]:
    built = make_world(fresh_store_url, tmp_path / "install")
    yield built
    built.engine.dispose()


@pytest.fixture
def sql_log(world: World) -> Iterator[Path]:
    """Every SQL statement and its parameters, written to a log file in the installation (AC-5)."""
    path = world.root / "logs" / "sql.log"
    path.parent.mkdir()
    handler = logging.FileHandler(path)
    logger = logging.getLogger("sqlalchemy.engine")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield path
    logger.removeHandler(handler)
    logger.setLevel(logging.WARNING)
    handler.close()


def _order_fields(world: World, order_id: int) -> dict[str, str | None]:
    with world.sessions() as session:
        order = world.order(session, order_id)
        return {name: getattr(order, name) for name in pii_fields(SalesOrder.__table__)}


@STORES
def test_ac3_ac5_ac16_ac21_plaintext_never_reaches_the_store_and_reads_are_audited(
    world: World, sql_log: Path, tmp_path: Path
) -> None:
    # given a canary buyer's order booked through the bulk path, with a note and a gift message
    buyer = make_canary_buyer()
    order_id = world.book("202-0000001-0000001", buyer)

    # then no byte store holds any of the buyer's values, in any form (AC-3 before any sweep, AC-5)
    assert scan(world.byte_stores(tmp_path), buyer) == []
    stored = _order_fields(world, order_id)
    assert all(value is None or is_sealed(value) for value in stored.values())
    with world.sessions.begin() as session:
        order = world.order(session, order_id)
        assert order.pii_key is not None and KeyId.parse(order.pii_key).slot.startswith("open-")
        # and a caller allowed to see PII reads it back, each read audited without values (AC-21)
        shown = reveal(
            session,
            order,
            ["billing_name", "delivery_line1"],
            actor="user:7",
            purpose="ship_label",
            clock=world.clock,
        )
        assert shown == {"billing_name": buyer.name, "delivery_line1": buyer.address_line1}
        (entry,) = audit.entries(session, action=AuditAction.PII_READ)
        assert entry.subjects == [f"order:{order_id}"] and buyer.name not in str(entry.detail)
        # and a ciphertext moved to another field does not decrypt (AC-16)
        with pytest.raises(DecryptionError):
            open_sealed(
                world.privacy,
                stored["billing_name"],
                table="sales_orders",
                ref=order.pii_ref,
                name="delivery_name",
            )
        note = session.scalars(select(OrderNote).where(OrderNote.order_id == order_id)).one()
        assert reveal(session, note, ["body"], actor="user:7", purpose="support", clock=world.clock) == {
            "body": buyer.gift_message
        }
    assert scan(world.byte_stores(tmp_path), buyer) == []


@STORES
def test_p2_p1_c4_contacts_created_in_bulk_are_sealed_indexed_and_swept(world: World, tmp_path: Path) -> None:
    # given a canary buyer's contact created on the bulk path (a page of new Amazon buyers)
    buyer = make_canary_buyer()
    order_id = world.book("202-0000009-0000009", buyer, bulk_contact=True)

    # then no byte store holds the buyer's values, the contact is sealed under the channel's open key
    assert scan(world.byte_stores(tmp_path), buyer) == []
    with world.sessions.begin() as session:
        contact = world.contact_of(session, order_id)
        stored = [getattr(contact, name) for name in pii_fields(Contact.__table__)]
        assert all(value is None or is_sealed(value) for value in stored) and any(stored)
        assert contact.pii_key is not None
        assert KeyId.parse(contact.pii_key).slot.startswith("open-") and "amazon-uk" in contact.pii_key
        # and its e-mail carries the keyed blind index that matches the buyer's next order (C4, C8)
        key = email_key(world.privacy, buyer.email, seller="amazon-uk", marketplace=AMAZON_UK)
        assert contact.email_key == key
        shown = reveal(session, contact, ["email"], actor="user:7", purpose="support", clock=world.clock)
        assert shown == {"email": buyer.email}

    # when its order shipped 31 days ago and the sweep runs, the contact is redacted with it (P1)
    world.ship(order_id, days_ago=31)
    report = world.sweep()

    assert report.contacts == 1
    with world.sessions() as session:
        contact = world.contact_of(session, order_id)
        assert (contact.first_name, contact.email, contact.email_key) == (REDACTED, REDACTED, None)
    assert scan(world.byte_stores(tmp_path), buyer) == []


@STORES
def test_ac2_ac4_ac13_ac17_p5_p6_a_due_order_is_archived_redacted_and_shredded(
    world: World, sql_log: Path, tmp_path: Path
) -> None:
    # given a canary buyer's order shipped 31 days ago (due yesterday), and a copy of its ciphertext
    buyer = make_canary_buyer()
    order_id = world.book("202-0000002-0000002", buyer)
    world.ship(order_id, days_ago=31)
    before = _order_fields(world, order_id)
    with world.sessions() as session:
        order = world.order(session, order_id)
        ref, epoch_key = order.pii_ref, order.pii_key
        contact_key = world.contact_of(session, order_id).pii_key
    assert epoch_key is not None and KeyId.parse(epoch_key).day is not None  # re-keyed on shipment
    assert epoch_key == contact_key  # the contact follows its last Amazon order
    assert scan(world.byte_stores(tmp_path), buyer) == []

    # when the sweep runs
    report = world.sweep()

    # then the order, its note, gift message and contact read [Redacted]
    assert (report.orders, report.contacts, report.archived) == (1, 1, 1)
    assert epoch_key in report.keys_destroyed
    after = _order_fields(world, order_id)
    assert {name for name, value in after.items() if value is not None} == {
        name for name, value in before.items() if value is not None
    }
    assert set(after.values()) <= {REDACTED, None}
    with world.sessions() as session:
        assert session.scalars(select(OrderNote.body)).all() == [REDACTED]
        assert session.scalars(select(CustomFieldValue.value)).all() == [REDACTED]
        contact = world.contact_of(session, order_id)
        assert (contact.first_name, contact.email, contact.email_key) == (REDACTED, REDACTED, None)
        ledger = session.scalars(select(RedactionLedger).order_by(RedactionLedger.record_kind)).all()
        assert [(e.record_kind, e.key_id) for e in ledger] == [
            ("contact", epoch_key),
            ("sales_order", epoch_key),
        ]
        assert ledger[1].archive_file is not None and ledger[1].archive_entry == 0  # AC-13
        assert buyer.name not in repr([vars(e) for e in ledger])
        # and the key's destruction is audited without key bytes (AC-17)
        (destroyed,) = audit.entries(session, action=AuditAction.KEY_DESTROYED)
        assert destroyed.subjects == [f"key:{epoch_key}"]
    # and the ciphertext a backup taken before the sweep holds no longer decrypts (AC-4)
    assert {
        open_sealed(world.privacy, v, table="sales_orders", ref=ref, name=n) for n, v in before.items() if v
    } == {REDACTED}
    # and no byte store holds the buyer: store, journal, dump, logs, archive, key store (AC-2, AC-3, P5),
    # nor PostgreSQL's heap files and WAL (recycled segments included) where this process can read them
    stores = world.byte_stores(tmp_path) + ([] if world.is_sqlite else world.pg_data_files())
    assert scan(stores, buyer) == []
    assert KeyId.parse(epoch_key) in world.privacy.keys.destroyed_keys()
    assert KeyId.parse(epoch_key) not in world.privacy.keys.live_keys()
    # while the operator's offline key restores exactly the tax fields (P6, AC-14, AC-15)
    assert verify(world.archive_dir).ok
    (restored,) = restore(world.archive_dir, world.private_key, order_id="202-0000002-0000002")
    assert dict(restored.fields) == {
        "name": buyer.name,
        "address_line1": buyer.address_line1,
        "address_line2": buyer.address_line2,
        "city": "London",
        "postcode": "SW1A 1AA",
        "country": "GB",
    }


def _clear_headers(path: Path) -> list[dict[str, Any]]:
    """Each entry's clear header, read as `archive verify` reads them: without any key."""
    data, headers, offset = path.read_bytes(), [], 56
    while offset < len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        body = data[offset + 4 : offset + 4 + length]
        headers.append(json.loads(body[2 : 2 + int.from_bytes(body[:2], "big")]))
        offset += 4 + length + 32
    return headers


@STORES
def test_ac13_each_ledger_entry_points_to_the_archive_entry_that_holds_its_order(world: World) -> None:
    # given five due orders swept two per batch (one grouped archive entry per batch)
    refs = [f"202-200000{n}-0000005" for n in range(5)]
    for ref in refs:
        world.ship(world.book(ref, make_canary_buyer()), days_ago=35)

    report = world.sweep(batch_size=2)

    # then each order's ledger entry names the file, the entry holding the order, and a head hash
    assert report.archived == 5
    with world.sessions() as session:
        entries = session.scalars(
            select(RedactionLedger).where(RedactionLedger.record_kind == "sales_order")
        ).all()
        by_order = {world.order(session, e.record_id).external_ref: e for e in entries}
    assert sorted(by_order) == refs
    (file,) = {e.archive_file for e in entries}
    headers = _clear_headers(world.archive_dir / str(file))
    assert len(headers) == 3
    for ref, entry in by_order.items():
        assert entry.archive_entry is not None and entry.archive_head
        assert ref in [record["order_id"] for record in headers[entry.archive_entry]["records"]]


@STORES
def test_p1_ac12_only_orders_due_today_or_earlier_are_swept(world: World) -> None:
    # given orders shipped 31 and 29 days ago, cancelled 30 days ago, and one never shipped
    buyers = {name: make_canary_buyer() for name in ("late", "tomorrow", "cancelled", "pending")}
    ids = {
        name: world.book(f"202-000000{n}-0000003", buyer) for n, (name, buyer) in enumerate(buyers.items())
    }
    world.ship(ids["late"], days_ago=31)
    world.ship(ids["tomorrow"], days_ago=29)
    world.cancel(ids["cancelled"], days_ago=30)

    # when the sweep runs today
    report = world.sweep()

    # then the orders due by today are redacted; the one due tomorrow and the pending one are untouched
    assert report.orders == 2
    with world.sessions.begin() as session:
        redacted = {
            name
            for name, order_id in ids.items()
            if world.order(session, order_id).pii_redacted_at is not None
        }
        assert redacted == {"late", "cancelled"}
        for name in ("tomorrow", "pending"):
            order = world.order(session, ids[name])
            shown = reveal(
                session, order, ["billing_name"], actor="user:1", purpose="check", clock=world.clock
            )
            assert shown == {"billing_name": buyers[name].name}
        tomorrow_key = KeyId.parse(str(world.order(session, ids["tomorrow"]).pii_key))
        assert tomorrow_key.day == (world.clock() + timedelta(days=1)).date()
    assert tomorrow_key in world.privacy.keys.live_keys()


@STORES
def test_ac10_a_sweep_killed_halfway_leaves_each_record_whole_and_the_next_sweep_finishes(
    world: World,
) -> None:
    # given five due orders
    buyers = [make_canary_buyer() for _ in range(5)]
    ids = [world.book(f"202-100000{n}-0000004", buyer) for n, buyer in enumerate(buyers)]
    for order_id in ids:
        world.ship(order_id, days_ago=40)

    # when the sweep is killed after its first batch of two
    def kill(batch: int) -> None:
        raise KeyboardInterrupt(f"killed after batch {batch}")

    with pytest.raises(KeyboardInterrupt):
        world.sweep(batch_size=2, between_batches=kill)

    # then every order is either wholly redacted (ledger and archive included) or wholly readable
    with world.sessions.begin() as session:
        ledger = set(
            session.scalars(
                select(RedactionLedger.record_id).where(RedactionLedger.record_kind == "sales_order")
            )
        )
        for order_id, buyer in zip(ids, buyers, strict=True):
            order = world.order(session, order_id)
            values = {getattr(order, name) for name in ("billing_name", "delivery_line1", "billing_phone")}
            if order.pii_redacted_at is not None:
                assert values == {REDACTED} and order_id in ledger
            else:
                assert all(is_sealed(v) for v in values) and order_id not in ledger
                assert reveal(
                    session, order, ["billing_name"], actor="user:1", purpose="t", clock=world.clock
                ) == {"billing_name": buyer.name}
        assert len(ledger) == 2
    # when the next sweep runs, then it finishes the job
    assert world.sweep().orders == 3
    # and a third changes nothing and adds no ledger entries (AC-10)
    again = world.sweep()
    assert (again.orders, again.contacts, again.archived, again.keys_destroyed) == (0, 0, 0, [])
    with world.sessions() as session:
        assert session.scalar(select(func.count()).select_from(RedactionLedger)) == 10
    restored = {record.order_id for record in restore(world.archive_dir, world.private_key)}
    assert restored == {f"202-100000{n}-0000004" for n in range(5)}


@STORES
def test_p7_ac6_c5_ac19_search_after_redaction_and_a_returning_buyer_gets_a_new_contact(world: World) -> None:
    # given a buyer whose order is due, matched by a keyed blind index of the e-mail
    buyer = make_canary_buyer()
    order_id = world.book("202-0000005-0000005", buyer)
    key = email_key(world.privacy, buyer.email.upper(), seller="amazon-uk", marketplace=AMAZON_UK)
    with world.sessions() as session:
        first = world.contact_of(session, order_id)
        assert first.email_key == key  # C4/C8: matches case-insensitively, per seller and marketplace
    import hashlib

    assert key != hashlib.sha256(buyer.email.lower().encode()).hexdigest()[: len(key)]  # AC-19
    world.ship(order_id, days_ago=31)

    # when the sweep runs
    world.sweep()

    # then order id, SKU and date still find the order (P7); name and e-mail find nothing
    with world.sessions() as session:
        by_ref = session.scalar(select(SalesOrder.id).where(SalesOrder.external_ref == "202-0000005-0000005"))
        by_sku = session.scalar(select(OrderRow.order_id).where(OrderRow.sku == "SKU-1"))
        by_day = session.scalar(
            select(SalesOrder.id).where(SalesOrder.placed_at >= world.clock() - timedelta(days=1))
        )
        assert by_ref == by_sku == by_day == order_id
        name_hits = session.scalars(
            select(SalesOrder.id).where(SalesOrder.billing_name.in_([buyer.name, buyer.name.lower()]))
        ).all()
        assert (
            name_hits == [] and session.scalars(select(Contact).where(Contact.email_key == key)).all() == []
        )
    # and the returning buyer's next order creates a new contact (C5)
    again = world.book("202-0000006-0000005", buyer)
    with world.sessions() as session:
        second = world.contact_of(session, again)
        assert second.id != first.id and second.email_key == key
        assert session.scalars(select(Contact.id).where(Contact.email_key == key)).all() == [second.id]


@STORES
def test_c13_generic_customer_mode_keeps_pii_on_the_order_only(world: World) -> None:
    # given one contact chosen for all Amazon orders (not an Amazon buyer contact: no marketplace)
    with world.sessions.begin() as session:
        from orderbridge.book.contacts import NewContact, create_contact

        generic = create_contact(session, NewContact(company_name="Amazon UK customers"), now=world.clock())
        session.flush()
        generic_id = generic.id
    buyers = [make_canary_buyer(), make_canary_buyer()]
    ids = [world.book(f"202-000000{n}-0000013", b, contact_id=generic_id) for n, b in enumerate(buyers)]
    world.ship(ids[0], days_ago=31)

    # when the sweep runs, then the due order is redacted, the generic contact and open order are not
    report = world.sweep()
    assert (report.orders, report.contacts) == (1, 0)
    with world.sessions.begin() as session:
        contact = session.get(Contact, generic_id)
        assert contact is not None and contact.pii_redacted_at is None
        assert reveal(session, contact, ["company_name"], actor="user:1", purpose="t", clock=world.clock) == {
            "company_name": "Amazon UK customers"
        }
        assert world.order(session, ids[0]).billing_name == REDACTED
        assert reveal(
            session,
            world.order(session, ids[1]),
            ["billing_name"],
            actor="u:1",
            purpose="t",
            clock=world.clock,
        )


@STORES
def test_p8_ac11_other_channels_are_encrypted_but_never_redacted(world: World, tmp_path: Path) -> None:
    # given an order of the seller's own shop shipped 60 days ago
    buyer = make_canary_buyer()
    order_id = world.book("WEB-1001", buyer, channel="web-shop")
    world.ship(order_id, days_ago=60)

    # when the sweep runs, then it is untouched: still sealed (P2) and readable
    assert world.sweep().orders == 0
    with world.sessions.begin() as session:
        order = world.order(session, order_id)
        assert order.pii_redacted_at is None and is_sealed(order.billing_name)
        assert KeyId.parse(str(order.pii_key)).slot.startswith("open-")
        assert reveal(session, order, ["billing_name"], actor="user:1", purpose="t", clock=world.clock) == {
            "billing_name": buyer.name
        }
    assert scan(world.byte_stores(tmp_path), buyer) == []


@STORES
def test_p4_ac9_history_stored_before_privacy_is_sealed_and_swept_retroactively(
    fresh_store_url: str, tmp_path: Path
) -> None:
    # given a book that stored buyers in plaintext (privacy not yet enabled): one order long shipped
    world = make_world(fresh_store_url, tmp_path / "install", enabled=False)
    old, live = make_canary_buyer(), make_canary_buyer()
    old_id = world.book("202-0000009-0000009", old)
    live_id = world.book("202-0000010-0000009", live)
    world.ship(old_id, days_ago=90)
    assert _order_fields(world, old_id)["billing_name"] == old.name

    # when privacy is enabled and the first sweep runs
    enable(world.sessions, world.privacy)
    report = world.sweep()

    # then the old order is archived and redacted, the live one sealed, and no byte store holds either
    assert (report.orders, report.archived) == (1, 1) and report.sealed >= 3
    assert _order_fields(world, old_id)["billing_name"] == REDACTED
    assert is_sealed(_order_fields(world, live_id)["billing_name"])
    (restored,) = restore(world.archive_dir, world.private_key, order_id="202-0000009-0000009")
    assert restored.fields["name"] == old.name
    assert scan(world.byte_stores(tmp_path), old) == []
    assert scan(world.byte_stores(tmp_path), live) == []
    world.engine.dispose()


@STORES
def test_p1_a_contact_keeps_its_pii_while_any_of_its_amazon_orders_is_open(world: World) -> None:
    # given a buyer with one order long shipped and a second one still open
    buyer = make_canary_buyer()
    first = world.book("202-0000030-0000030", buyer)
    world.ship(first, days_ago=45)
    with world.sessions() as session:
        contact_id = world.contact_of(session, first).id
    second = world.book("202-0000031-0000030", buyer, contact_id=contact_id)
    with world.sessions() as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None and KeyId.parse(str(contact.pii_key)).slot.startswith("open-")

    # when the sweep runs, then the shipped order is redacted and the contact kept
    first_sweep = world.sweep()
    assert (first_sweep.orders, first_sweep.contacts) == (1, 0)
    # when the second order ships and falls due, then the contact goes with it
    world.ship(second, days_ago=31)
    with world.sessions() as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None and KeyId.parse(str(contact.pii_key)).day is not None
    report = world.sweep()
    assert (report.orders, report.contacts) == (1, 1)


@STORES
def test_ac1_ac22_ac29_the_report_shows_overdue_then_zero_and_flags_old_amazon_data(world: World) -> None:
    from orderbridge.privacy.report import retention_report

    # given an order due since yesterday, placed 19 months ago (non-PII Amazon data past 18 months)
    order_id = world.book("202-0000040-0000040", make_canary_buyer())
    world.ship(order_id, days_ago=31)
    with world.sessions.begin() as session:
        world.order(session, order_id).placed_at = world.clock() - timedelta(days=580)
    world.book("202-0000041-0000040", make_canary_buyer())
    with world.sessions() as session:
        before = retention_report(session, world.privacy, world.archive_dir, clock=world.clock)
    assert (before.overdue_orders, before.overdue_contacts, before.amazon_orders_holding_pii) == (1, 1, 2)
    assert before.last_sweep_at is None and before.amazon_orders_older_than_18_months == 1

    # when the sweep runs, then nothing is overdue (AC-1) and the audit chain verifies (AC-22)
    world.sweep()
    with world.sessions() as session:
        after = retention_report(
            session, world.privacy, world.archive_dir, clock=world.clock, legal_basis="HMRC: 6 years"
        )
        assert audit.verify_chain(session) == after.audit_head_seq
    assert (after.overdue, after.amazon_orders_holding_pii, after.amazon_contacts_holding_pii) == (0, 1, 1)
    assert after.last_sweep_at == world.clock() and after.last_sweep["orders"] == 1
    assert (after.archive_files, after.archive_entries, after.archive_ok) == (1, 1, True)
    assert after.amazon_orders_older_than_18_months == 1 and after.non_pii_legal_basis == "HMRC: 6 years"
