"""The audited key lifecycle: destruction events, seller purge certificate, logged rotations."""

from __future__ import annotations

import base64
from datetime import date
from pathlib import Path

from sqlalchemy.orm import Session

from orderbridge.privacy import audit
from orderbridge.privacy.key_lifecycle import destroy_key, purge_seller, rotate_index_key, rotate_kek
from orderbridge.privacy.keystore import KeyEncryptionKey, KeyStore
from orderbridge.privacy.models import AuditAction
from orderbridge.privacy.vault import FieldRef, Vault
from tests.privacy.fakes import MARKETPLACE, SELLER, CanaryBuyer, FakeClock

DAY = date(2026, 12, 23)


def test_ac17_destroying_an_epoch_key_writes_an_audit_event_without_key_bytes(
    keystore: KeyStore, session: Session, clock: FakeClock
) -> None:
    key = keystore.epoch_key(SELLER, MARKETPLACE, DAY)

    assert destroy_key(keystore, session, key.key_id, actor="job:sweep", clock=clock) is True
    assert destroy_key(keystore, session, key.key_id, actor="job:sweep", clock=clock) is False

    first, second = reversed(audit.entries(session, action=AuditAction.KEY_DESTROYED))
    assert first.subjects == [f"key:{key.key_id}"]
    assert (first.detail["was_live"], second.detail["was_live"]) == (True, False)
    stored = repr([(e.subjects, e.detail, e.hash) for e in (first, second)])
    assert key.secret.hex() not in stored
    assert base64.b64encode(key.secret).decode() not in stored
    assert audit.verify_chain(session) == 2


def test_ac28_purging_a_seller_destroys_its_keys_and_certifies_it(
    keystore: KeyStore, session: Session, clock: FakeClock, canary: CanaryBuyer
) -> None:
    # given a seller with PII on two marketplaces and another seller
    vault = Vault(keystore)
    ref = FieldRef("sales_order", 1, "ship_name")
    blob = vault.encrypt(canary.name, at=ref, key=keystore.epoch_key(SELLER, MARKETPLACE, DAY))
    keystore.open_key(SELLER, "ATVPDKIKX0DER")
    keystore.index_key(SELLER, MARKETPLACE)
    other = keystore.epoch_key("A2SELLER0002", MARKETPLACE, DAY)

    # when the seller revokes its authorisation
    certificate = purge_seller(
        keystore, session, SELLER, actor="user:1", clock=clock, reason="authorisation revoked"
    )

    # then
    assert len(certificate.keys_destroyed) == 3
    assert keystore.live_keys() == [other.key_id]
    assert vault.read(blob, at=ref) == "[Redacted]"
    text = certificate.as_text()
    assert SELLER in text
    assert f"{SELLER}/{MARKETPLACE}/{DAY}" in text
    assert canary.name not in text
    (purged,) = audit.entries(session, action=AuditAction.SELLER_PURGED)
    assert (purged.seq, purged.hash) == (certificate.audit_seq, certificate.audit_hash)
    assert len(audit.entries(session, action=AuditAction.KEY_DESTROYED)) == 3


def test_ac20_kek_rotation_is_logged_and_keeps_data_readable(
    keystore: KeyStore, session: Session, clock: FakeClock, key_file: Path, canary: CanaryBuyer
) -> None:
    vault = Vault(keystore)
    ref = FieldRef("contact", 9, "email")
    blob = vault.encrypt(canary.email, at=ref, key=keystore.epoch_key(SELLER, MARKETPLACE, DAY))
    before = keystore.kek.fingerprint

    assert rotate_kek(keystore, session, actor="user:1", clock=clock, key_file=key_file) == 1
    assert rotate_kek(keystore, session, actor="user:1", clock=clock, new=KeyEncryptionKey.generate()) == 1
    assert rotate_kek(keystore, session, actor="user:1", clock=clock) == 0

    assert Vault(KeyStore(keystore.root, keystore.kek)).decrypt(blob, at=ref) == canary.email
    logged = list(reversed(audit.entries(session, action=AuditAction.KEK_ROTATED)))
    assert [e.detail["rewrapped"] for e in logged] == [1, 1, 0]
    assert logged[0].detail["from_kek"] == before
    assert keystore.kek.to_text() not in repr([e.detail for e in logged])


def test_ac20_index_key_rotation_is_logged(keystore: KeyStore, session: Session, clock: FakeClock) -> None:
    keystore.index_key(SELLER, MARKETPLACE)

    key_id = rotate_index_key(keystore, session, SELLER, MARKETPLACE, actor="user:1", clock=clock)

    assert key_id.slot == "index-2"
    (logged,) = audit.entries(session, action=AuditAction.INDEX_KEY_ROTATED)
    assert logged.subjects == [f"key:{key_id}"]
