"""Disaster-recovery copies of data keys: restorable offline, and shredded with their key (AC-17)."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from orderbridge.privacy.archive import keygen, load_public_key
from orderbridge.privacy.errors import DecryptionError, KeyDestroyedError, KeyStoreError
from orderbridge.privacy.key_recovery import SealedKeyCopies, recover_keys
from orderbridge.privacy.keystore import KeyStore, open_keystore
from orderbridge.privacy.vault import FieldRef, Vault
from tests.privacy.fakes import MARKETPLACE, SELLER, CanaryBuyer, all_bytes_under

DAY = date(2026, 12, 23)
REF = FieldRef("sales_order", 1, "ship_name")


@pytest.fixture
def recovery_key(tmp_path: Path) -> Path:
    keygen(tmp_path / "offline-recovery.key", tmp_path / "recovery.pub")
    return tmp_path / "offline-recovery.key"


@pytest.fixture
def copies(tmp_path: Path, recovery_key: Path) -> SealedKeyCopies:
    return SealedKeyCopies(tmp_path / "key-copies", load_public_key(tmp_path / "recovery.pub"))


@pytest.fixture
def store(tmp_path: Path, key_file: Path, copies: SealedKeyCopies) -> KeyStore:
    return open_keystore(tmp_path / "keys", key_file=key_file, environ={}, copies=copies)


def test_every_new_key_gets_a_sealed_copy_holding_no_plain_key_bytes(
    store: KeyStore, copies: SealedKeyCopies
) -> None:
    key = store.epoch_key(SELLER, MARKETPLACE, DAY)

    assert copies.path(key.key_id).exists()
    assert key.secret not in all_bytes_under(copies.directory)


def test_ac17_the_recovery_copy_dies_with_its_key(store: KeyStore, copies: SealedKeyCopies) -> None:
    key = store.epoch_key(SELLER, MARKETPLACE, DAY)
    neighbour = store.epoch_key(SELLER, MARKETPLACE, date(2026, 12, 24))
    sealed = copies.path(key.key_id).read_bytes()

    store.destroy(key.key_id)

    assert not copies.path(key.key_id).exists()
    assert sealed not in all_bytes_under(copies.directory)
    assert copies.path(neighbour.key_id).exists()


def test_recover_keys_after_losing_the_key_store(
    tmp_path: Path, store: KeyStore, copies: SealedKeyCopies, recovery_key: Path, canary: CanaryBuyer
) -> None:
    # given PII under two epochs, one of them swept
    vault = Vault(store)
    swept = vault.encrypt(canary.name, at=REF, key=store.epoch_key(SELLER, MARKETPLACE, DAY))
    live = vault.encrypt(canary.name, at=REF, key=store.epoch_key(SELLER, MARKETPLACE, date(2026, 12, 30)))
    store.destroy(store.epoch_key(SELLER, MARKETPLACE, DAY).key_id)

    # when the key store and its KEK are lost and rebuilt from the recovery copies
    shutil.rmtree(store.root)
    (tmp_path / "secrets" / "kek").unlink()
    rebuilt = open_keystore(
        tmp_path / "keys", key_file=tmp_path / "secrets" / "kek", environ={}, copies=copies
    )
    restored = recover_keys(copies.directory, recovery_key, rebuilt)

    # then live PII reads again and the swept epoch stays unreadable
    assert [str(k) for k in restored] == [f"{SELLER}/{MARKETPLACE}/2026-12-30"]
    assert Vault(rebuilt).decrypt(live, at=REF) == canary.name
    with pytest.raises(DecryptionError, match="not in the key store"):
        Vault(rebuilt).decrypt(swept, at=REF)


def test_recovery_never_brings_back_a_destroyed_key(
    store: KeyStore, copies: SealedKeyCopies, recovery_key: Path
) -> None:
    key = store.epoch_key(SELLER, MARKETPLACE, DAY)
    stale = copies.path(key.key_id).read_bytes()
    store.destroy(key.key_id)
    copies.path(key.key_id).write_bytes(stale)  # a copy that escaped, e.g. from a snapshot

    assert recover_keys(copies.directory, recovery_key, store) == []
    with pytest.raises(KeyDestroyedError):
        store.get(key.key_id)


def test_the_running_system_cannot_read_its_recovery_copies(
    tmp_path: Path, store: KeyStore, copies: SealedKeyCopies
) -> None:
    store.epoch_key(SELLER, MARKETPLACE, DAY)
    keygen(tmp_path / "other.key", tmp_path / "other.pub")

    with pytest.raises(KeyStoreError, match="wrong key or damaged"):
        recover_keys(copies.directory, tmp_path / "other.key", store)


def test_a_copy_a_crash_left_unwritten_is_healed_on_next_use(
    tmp_path: Path, key_file: Path, store: KeyStore, copies: SealedKeyCopies
) -> None:
    key = store.epoch_key(SELLER, MARKETPLACE, DAY)
    copies.path(key.key_id).unlink()

    reopened = open_keystore(store.root, key_file=key_file, environ={}, copies=copies)
    assert reopened.get(key.key_id) == key

    assert copies.path(key.key_id).exists()
