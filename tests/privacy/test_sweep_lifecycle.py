"""The sweep's later phases and the key lifecycle on both stores: contacts with no order, windowed contacts,
open keys rolled and destroyed, name search through blind indexes, index and archive key rotation, the
18-month purge, a seller purge that deletes rows, and the bulk-read alarm.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from orderbridge.book.contacts import Contact, NewContact, create_contact
from orderbridge.book.custom_fields import CustomFieldValue
from orderbridge.book.orders.model import OrderNote, SalesOrder
from orderbridge.book.payments import Payment, pay_order
from orderbridge.book.pii import REDACTED
from orderbridge.privacy import audit
from orderbridge.privacy.archive import restore, rotate_key
from orderbridge.privacy.bulk_reads import BulkReadPolicy
from orderbridge.privacy.canary import make_canary_buyer
from orderbridge.privacy.errors import ArchiveKeyError
from orderbridge.privacy.incidents import list_incidents
from orderbridge.privacy.index_rotation import rotate_index_keys
from orderbridge.privacy.keystore import KeyId, KeyKind
from orderbridge.privacy.models import AuditAction, RedactionLedger
from orderbridge.privacy.purge import purge_seller_data
from orderbridge.privacy.sealing import email_key, is_sealed, open_sealed, reveal
from orderbridge.privacy.search import find_contacts_by_name
from orderbridge.privacy.sweep.shredding import OPEN_KEY_DAYS
from tests.privacy.world import AMAZON_UK, World, make_world

STORES = pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def world(fresh_store_url: str, tmp_path: Path) -> Iterator[World]:
    built = make_world(fresh_store_url, tmp_path / "install")
    yield built
    built.engine.dispose()


def _amazon_contact(world: World, *, days_ago: float, name: str = "Pat Shopper") -> int:
    with world.sessions.begin() as session:
        first, last = name.split()
        contact = create_contact(
            session,
            NewContact(
                first_name=first,
                last_name=last,
                email=f"{first.lower()}@marketplace.amazon.co.uk",
                origin_channel_id=world.ids["amazon-uk"],
                marketplace_id=AMAZON_UK,
            ),
            now=world.clock() - timedelta(days=days_ago),
        )
        session.flush()
        return contact.id


def _local_contact(world: World, *, days_ago: float) -> int:
    with world.sessions.begin() as session:
        contact = create_contact(
            session,
            NewContact(first_name="Local", last_name="Customer"),
            now=world.clock() - timedelta(days=days_ago),
        )
        session.flush()
        return contact.id


def _redacted(world: World, contact_id: int) -> bool:
    with world.sessions() as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None
        return contact.pii_redacted_at is not None and contact.first_name == REDACTED


@STORES
def test_p1_an_amazon_contact_with_no_order_falls_due_the_retention_period_after_it_was_created(
    world: World,
) -> None:
    # given Amazon contacts with no order, created 31 and 29 days ago, and an old non-Amazon contact
    old = _amazon_contact(world, days_ago=31)
    young = _amazon_contact(world, days_ago=29)
    local = _local_contact(world, days_ago=400)

    # when the sweep runs, then only the one past the period is redacted, with a ledger entry
    report = world.sweep()
    assert report.contacts == 1
    assert (_redacted(world, old), _redacted(world, young), _redacted(world, local)) == (True, False, False)
    with world.sessions() as session:
        rule = session.scalar(select(RedactionLedger.rule).where(RedactionLedger.record_id == old))
        assert rule is not None and "no order" in rule
        assert session.get(Contact, old).email_key is None  # type: ignore[union-attr]

    # when two days pass, then the younger one follows and the non-Amazon one never does (P8)
    world.clock.advance(days=2)
    assert world.sweep().contacts == 1
    assert (_redacted(world, young), _redacted(world, local)) == (True, False)


@STORES
def test_p4_the_contacts_phase_walks_bounded_windows_in_batches(world: World) -> None:
    # given due Amazon contacts on both sides of a long run of non-Amazon ids
    due = [_amazon_contact(world, days_ago=40) for _ in range(5)]
    for _ in range(20):
        _local_contact(world, days_ago=40)
    due += [_amazon_contact(world, days_ago=40) for _ in range(5)]

    # when the sweep runs with batches of two, then every one is redacted, batch by batch
    batches: list[int] = []
    report = world.sweep(batch_size=2, between_batches=batches.append)
    assert report.contacts == 10 and all(_redacted(world, contact_id) for contact_id in due)
    assert len(batches) >= 5
    assert world.sweep(batch_size=2).contacts == 0


@STORES
def test_ac17_open_keys_roll_and_the_replaced_key_is_destroyed_once_its_records_moved(world: World) -> None:
    # given an open (unshipped) order, its note, gift message and contact under the open key
    buyer = make_canary_buyer()
    order_id = world.book("202-0000050-0000050", buyer)
    with world.sessions() as session:
        order = world.order(session, order_id)
        first_key, old_name = KeyId.parse(str(order.pii_key)), order.billing_name
        contact_id = order.contact_id
    assert first_key.kind is KeyKind.OPEN
    local_open = [k for k in world.privacy.keys.live_keys("web-shop") if k.kind is KeyKind.OPEN]

    # when a sweep runs before the open key is OPEN_KEY_DAYS old, then nothing rolls
    assert world.sweep().keys_rolled == []
    # when it is older, then a new open key starts and the old one stays while records use it
    world.clock.advance(days=OPEN_KEY_DAYS + 1)
    rolled = world.sweep()
    assert [KeyId.parse(k).serial for k in rolled.keys_rolled] == [first_key.serial + 1]
    assert first_key in world.privacy.keys.live_keys()

    # when the next sweep runs, then every record moved to the new key and the old key is destroyed
    moved = world.sweep()
    assert moved.rekeyed >= 3 and str(first_key) in moved.keys_destroyed
    with world.sessions() as session:
        for model in (SalesOrder, OrderNote, CustomFieldValue, Contact):
            left = session.scalar(select(func.count()).where(model.pii_key == str(first_key)))
            assert left == 0, model
        order = world.order(session, order_id)
        assert KeyId.parse(str(order.pii_key)).serial == first_key.serial + 1
        assert open_sealed(world.privacy, order.billing_name, table="sales_orders", ref=order.pii_ref,
                           name="billing_name") == buyer.name  # fmt: skip
        contact = session.get(Contact, contact_id)
        assert contact is not None and contact.pii_key == order.pii_key
        # a copy of the old ciphertext (a backup taken before) no longer opens
        assert open_sealed(world.privacy, old_name, table="sales_orders", ref=order.pii_ref,
                           name="billing_name") == REDACTED  # fmt: skip
        destroyed = audit.entries(session, action=AuditAction.KEY_DESTROYED, subject=f"key:{first_key}")
        assert destroyed and destroyed[0].detail["reason"] == "open key rolled"
    # and non-Amazon open keys never roll (P8)
    assert [k for k in world.privacy.keys.live_keys("web-shop") if k.kind is KeyKind.OPEN] == local_open


@STORES
def test_p7_ac6_ac19_ac20_search_by_name_through_blind_indexes_survives_index_key_rotation(
    world: World,
) -> None:
    # given a live buyer
    buyer = make_canary_buyer()
    order_id = world.book("202-0000051-0000051", buyer)
    with world.sessions() as session:
        contact = world.contact_of(session, order_id)
        contact_id, stored_name_key = contact.id, contact.name_key
    assert stored_name_key is not None and buyer.name.lower() not in stored_name_key

    # then search by name finds it whatever the case and spacing, and nothing else matches
    with world.sessions() as session:
        assert [c.id for c in find_contacts_by_name(session, f"  {buyer.name.upper()} ")] == [contact_id]
        assert find_contacts_by_name(session, "Nobody Atall") == []
        assert find_contacts_by_name(session, "   ") == []

    # when the index keys rotate, then every live contact is re-indexed and the old keys are destroyed
    old_index = [k for k in world.privacy.keys.live_keys() if k.kind is KeyKind.INDEX]
    rotation = rotate_index_keys(world.sessions, world.privacy, actor="user:ops", clock=world.clock)
    assert rotation.reindexed == 1 and sorted(rotation.destroyed) == sorted(str(k) for k in old_index)
    assert rotation.unexplained == 0
    with world.sessions() as session:
        contact = session.get(Contact, contact_id)
        assert contact is not None and contact.name_key != stored_name_key
        assert contact.email_key == email_key(
            world.privacy, buyer.email, seller="amazon-uk", marketplace=AMAZON_UK
        )
        assert [c.id for c in find_contacts_by_name(session, buyer.name)] == [contact_id]
        rotated = audit.entries(session, action=AuditAction.INDEX_KEY_ROTATED)
        assert len(rotated) == len(old_index)

    # when the buyer's order is due and swept, then the name finds nothing (P7)
    world.ship(order_id, days_ago=31)
    world.sweep()
    with world.sessions() as session:
        assert find_contacts_by_name(session, buyer.name) == []
        contact = session.get(Contact, contact_id)
        assert contact is not None and contact.name_key is None


@STORES
def test_ac13_ac14_ac20_archive_key_rotation_keeps_old_files_restorable_with_the_old_key(
    world: World, tmp_path: Path
) -> None:
    # given an order archived under the first key
    first, second = make_canary_buyer(), make_canary_buyer()
    a = world.book("202-0000052-0000052", first)
    world.ship(a, days_ago=31)
    world.sweep()

    # when the archive key rotates, then later archives are sealed to the new key
    new_private = tmp_path / "offline-2" / "archive.key"
    new_private.parent.mkdir()
    old_fp, new_fp = rotate_key(new_private, world.public_key)
    assert old_fp != new_fp and (world.public_key.parent / f"archive.pub.{old_fp}.retired").exists()
    b = world.book("202-0000053-0000053", second)
    world.ship(b, days_ago=31)
    world.sweep()

    # then each key restores its own records, both keys restore all, and the wrong key is named
    (old_record,) = restore(world.archive_dir, world.private_key, order_id="202-0000052-0000052")
    assert old_record.fields["name"] == first.name
    with pytest.raises(ArchiveKeyError, match="wrong private key"):
        restore(world.archive_dir, world.private_key, order_id="202-0000053-0000053")
    both = restore(world.archive_dir, [world.private_key, new_private])
    assert sorted(r.fields["name"] for r in both) == sorted([first.name, second.name])


@STORES
def test_ac29_the_sweep_deletes_redacted_amazon_data_past_18_months_unless_a_legal_basis_keeps_it(
    world: World,
) -> None:
    # given an Amazon order placed 19 months ago (shipped 31 days ago), and a recent one
    old = world.book("202-0000054-0000054", make_canary_buyer())
    recent = world.book("202-0000055-0000055", make_canary_buyer())
    web = world.book("W-1", make_canary_buyer(), channel="web-shop")
    for order_id in (old, recent, web):
        world.ship(order_id, days_ago=31)
    with world.sessions.begin() as session:
        for order_id in (old, web):
            order = world.order(session, order_id)
            order.placed_at = world.clock() - timedelta(days=580)
            contact = session.get(Contact, order.contact_id)
            assert contact is not None
            contact.created_at = world.clock() - timedelta(days=580)

    # when the sweep runs with a legal basis configured, then the old order is redacted but kept
    kept = world.sweep(non_pii_legal_basis="HMRC: VAT records for 6 years")
    assert (kept.orders, kept.old_orders_deleted) == (2, 0)
    # when it runs with none, then the old Amazon order and its contact are deleted; the rest stays
    purged = world.sweep(non_pii_legal_basis="")
    assert (purged.old_orders_deleted, purged.old_contacts_deleted) == (1, 1)
    with world.sessions() as session:
        assert session.get(SalesOrder, old) is None
        assert session.get(SalesOrder, recent) is not None and session.get(SalesOrder, web) is not None
        assert (
            session.scalar(select(func.count()).select_from(OrderNote).where(OrderNote.order_id == old)) == 0
        )
        entry = audit.entries(session, action=AuditAction.SWEEP, limit=1)[0]
        assert entry.detail["old_orders_deleted"] == 1


@STORES
def test_ac28_a_seller_purge_destroys_its_keys_and_deletes_its_amazon_rows_only(world: World) -> None:
    # given a seller's Amazon order with a payment, and a web-shop order
    buyer = make_canary_buyer()
    amazon = world.book("202-0000056-0000056", buyer)
    web = world.book("W-2", make_canary_buyer(), channel="web-shop")
    with world.sessions.begin() as session:
        pay_order(session, world.order(session, amazon), world.order(session, amazon).total_gross,
                  method="amazon", reference="settlement-1", paid_at=world.clock())  # fmt: skip
        amazon_contact = world.contact_of(session, amazon).id

    # when the seller is purged
    certificate = purge_seller_data(
        world.sessions,
        world.privacy,
        "amazon-uk",
        actor="user:ops",
        clock=world.clock,
        reason="Amazon notice",
    )

    # then its keys are gone, its rows deleted, the certificate says so, and the web shop is untouched
    assert certificate.keys_destroyed and world.privacy.keys.live_keys("amazon-uk") == []
    assert (
        certificate.rows_deleted["orders_deleted"] == 1 and certificate.rows_deleted["payments_deleted"] == 1
    )
    assert "orders deleted: 1" in certificate.as_text()
    with world.sessions() as session:
        assert session.get(SalesOrder, amazon) is None and session.get(Contact, amazon_contact) is None
        assert session.scalar(select(func.count()).select_from(Payment)) == 0
        kept = world.order(session, web)
        assert is_sealed(kept.billing_name)
        (purged,) = audit.entries(session, action=AuditAction.DATA_PURGED)
        assert purged.subjects == ["seller:amazon-uk"] and purged.detail["contacts_deleted"] == 1
    # and purging again finishes quietly (idempotent)
    again = purge_seller_data(
        world.sessions,
        world.privacy,
        "amazon-uk",
        actor="user:ops",
        clock=world.clock,
        reason="Amazon notice",
    )
    assert again.rows_deleted["orders_deleted"] == 0


@STORES
def test_ac22_many_pii_reads_by_one_caller_raise_one_alert_and_incident_per_window(world: World) -> None:
    # given orders to read and a threshold of three reads an hour
    policy = BulkReadPolicy(threshold=3, window=timedelta(hours=1))
    orders = [world.book(f"202-00000{60 + n}-0000060", make_canary_buyer()) for n in range(6)]

    def read(order_id: int, actor: str) -> None:
        with world.sessions.begin() as session:
            reveal(session, world.order(session, order_id), ["billing_name"], actor=actor,
                   purpose="support", clock=world.clock, bulk_reads=policy)  # fmt: skip

    # when one caller reads three, then no alert; the fourth raises one; more in the window add none
    for order_id in orders[:3]:
        read(order_id, "user:clerk")
    read(orders[0], "user:other")
    with world.sessions() as session:
        assert list_incidents(session, clock=world.clock) == []
    read(orders[3], "user:clerk")
    read(orders[4], "user:clerk")
    with world.sessions() as session:
        (incident,) = list_incidents(session, clock=world.clock)
        assert "user:clerk" in incident.summary and "4 records" in incident.summary
        (alert,) = audit.entries(session, action=AuditAction.BULK_READ_ALERT)
        assert alert.actor == "user:clerk" and alert.subjects == [f"incident:{incident.id}"]

    # when the window has passed and the caller reads in bulk again, then a second alert is raised
    world.clock.advance(hours=2)
    for order_id in orders[:4]:
        read(order_id, "user:clerk")
    with world.sessions() as session:
        assert len(list_incidents(session, clock=world.clock)) == 2
        assert audit.verify_chain(session) > 0


@STORES
def test_p7_the_sweep_indexes_the_names_of_live_contacts_written_without_a_name_key(world: World) -> None:
    # given a live contact whose writer left no name key (a bulk path that does not fill it)
    contact_id = _amazon_contact(world, days_ago=1, name="Robin Qzbulkwriter")
    with world.sessions.begin() as session:
        session.execute(update(Contact).where(Contact.id == contact_id).values(name_key=None))
    with world.sessions() as session:
        assert find_contacts_by_name(session, "Robin Qzbulkwriter") == []

    # when the sweep runs, then the contact has its name key and is found
    assert world.sweep().names_indexed == 1
    with world.sessions() as session:
        assert [c.id for c in find_contacts_by_name(session, "robin qzbulkwriter")] == [contact_id]
    assert world.sweep().names_indexed == 0


@STORES
def test_p1_p2_raw_amazon_payloads_in_the_inbox_are_redacted_once_booked_and_due(world: World) -> None:
    from orderbridge.amazon.accounts import NewAccount, add_account
    from orderbridge.amazon.orders.inbox import InboxItem, mark_booked, store_orders

    # given two raw Amazon orders in the inbox holding a buyer's name: one booked 31 days ago, one waiting
    buyer = make_canary_buyer()
    docs = [
        {
            "orderId": ref,
            "lastUpdatedTime": "2026-10-01T10:00:00Z",
            "salesChannel": {"marketplaceId": AMAZON_UK},
            "buyer": {"buyerName": buyer.name},
        }
        for ref in ("202-0000080-0000080", "202-0000081-0000080")
    ]
    with world.sessions.begin() as session:
        account = add_account(
            session,
            world.privacy.keys,
            NewAccount("A2SELLER0001", "UK", "EU", "client-id", "secret", "Atzr|test", marketplaces=["UK"]),
            clock=world.clock,
        )
        store_orders(session, account.id, docs, now=world.clock())
        booked = session.scalars(select(InboxItem).order_by(InboxItem.id)).first()
        assert booked is not None and is_sealed(booked.payload)
        # sealed under an Amazon scope's open key (rolled and destroyed by the sweep), not the local one
        inbox_key = KeyId.parse(str(booked.pii_key))
        assert (inbox_key.kind, inbox_key.marketplace) == (KeyKind.OPEN, AMAZON_UK)
        mark_booked(session, [booked], now=world.clock() - timedelta(days=31))

    # when the sweep runs, then the booked one is redacted with a ledger entry and the waiting one kept
    assert world.sweep().other_records == 1
    with world.sessions() as session:
        first, second = session.scalars(select(InboxItem).order_by(InboxItem.id)).all()
        assert first.payload == REDACTED and first.pii_redacted_at is not None
        assert is_sealed(second.payload)
        rule = session.scalar(
            select(RedactionLedger.rule).where(RedactionLedger.record_kind == "amazon_inbox")
        )
        assert rule is not None and rule.startswith("P1: inbox payload")
    assert world.sweep().other_records == 0
