"""The key store: KEK handling, epoch keys, crypto-shredding, seller purge and KEK rotation."""

from __future__ import annotations

import base64
import json
import os
import stat
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orderbridge.privacy import files
from orderbridge.privacy.errors import KeyDestroyedError, KeyStoreError
from orderbridge.privacy.keystore import (
    KEK_ENV,
    KEK_PREVIOUS_ENV,
    KeyEncryptionKey,
    KeyId,
    KeyKind,
    KeyStore,
    open_keystore,
    rotate_kek_file,
)
from tests.privacy.fakes import MARKETPLACE, SELLER, all_bytes_under

DAY = date(2026, 12, 23)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ac18_kek_file_is_created_0600_on_first_use(keystore: KeyStore, key_file: Path) -> None:
    assert mode(key_file) == 0o600
    assert len(base64.urlsafe_b64decode(key_file.read_text().strip())) == 32


def test_ac18_key_files_are_0600_and_key_directories_0700(keystore: KeyStore) -> None:
    keystore.epoch_key(SELLER, MARKETPLACE, DAY)
    keystore.index_key(SELLER, MARKETPLACE)

    key_files = list(keystore.root.rglob("*.key"))
    assert len(key_files) == 2
    assert all(mode(path) == 0o600 for path in key_files)
    assert all(mode(path) == 0o700 for path in keystore.root.rglob("*") if path.is_dir())
    assert mode(keystore.root) == 0o700


def test_ac18_kek_file_readable_by_others_is_refused(tmp_path: Path, key_file: Path) -> None:
    open_keystore(tmp_path / "keys", key_file=key_file, environ={})
    key_file.chmod(0o644)

    with pytest.raises(KeyStoreError, match="chmod 600"):
        open_keystore(tmp_path / "keys", key_file=key_file, environ={})


def test_ac18_kek_from_environment_writes_no_key_file(tmp_path: Path, key_file: Path) -> None:
    kek = KeyEncryptionKey.generate()

    store = open_keystore(tmp_path / "keys", key_file=key_file, environ={KEK_ENV: kek.to_text()})

    assert store.kek == kek
    assert not key_file.exists()


def test_ac18_key_files_hold_no_plain_key_bytes(keystore: KeyStore, key_file: Path) -> None:
    key = keystore.epoch_key(SELLER, MARKETPLACE, DAY)
    stored = all_bytes_under(keystore.root)
    assert key.secret not in stored
    assert base64.b64encode(key.secret) not in stored
    assert keystore.kek.secret not in stored
    assert keystore.kek.to_text().encode() not in stored


def test_repr_of_keys_shows_no_key_bytes(keystore: KeyStore) -> None:
    key = keystore.epoch_key(SELLER, MARKETPLACE, DAY)
    assert key.secret.hex() not in repr(key)
    assert str(key.secret) not in repr(key)
    assert keystore.kek.to_text() not in repr(keystore.kek)


def test_epoch_keys_are_stable_and_distinct_per_seller_marketplace_and_day(keystore: KeyStore) -> None:
    first = keystore.epoch_key(SELLER, MARKETPLACE, DAY)

    assert keystore.epoch_key(SELLER, MARKETPLACE, DAY) == first
    others = [
        keystore.epoch_key(SELLER, MARKETPLACE, date(2026, 12, 24)),
        keystore.epoch_key(SELLER, "ATVPDKIKX0DER", DAY),
        keystore.epoch_key("A2SELLER0002", MARKETPLACE, DAY),
    ]
    assert len({first.secret, *(k.secret for k in others)}) == 4


def test_keys_survive_a_restart(tmp_path: Path, key_file: Path, keystore: KeyStore) -> None:
    key = keystore.epoch_key(SELLER, MARKETPLACE, DAY)

    reopened = open_keystore(keystore.root, key_file=key_file, environ={})

    assert reopened.get(key.key_id) == key


def test_ac17_destroyed_epoch_key_leaves_no_copy(keystore: KeyStore) -> None:
    # given an epoch key and its neighbour
    doomed = keystore.epoch_key(SELLER, MARKETPLACE, DAY)
    wrapped = json.loads((keystore.root / SELLER / MARKETPLACE / f"{DAY}.key").read_bytes())["wrapped"]
    neighbour = keystore.epoch_key(SELLER, MARKETPLACE, date(2026, 12, 24))

    # when
    assert keystore.destroy(doomed.key_id) is True

    # then no file in the key store holds the key, wrapped or not
    stored = all_bytes_under(keystore.root)
    assert doomed.secret not in stored
    assert wrapped.encode() not in stored
    assert base64.b64decode(wrapped) not in stored
    with pytest.raises(KeyDestroyedError, match=f"redacted: key for epoch {doomed.key_id} destroyed"):
        keystore.get(doomed.key_id)
    with pytest.raises(KeyDestroyedError):
        keystore.epoch_key(SELLER, MARKETPLACE, DAY)
    assert keystore.get(neighbour.key_id) == neighbour
    assert keystore.live_epochs() == [neighbour.key_id]
    assert keystore.destroyed_keys() == [doomed.key_id]
    assert keystore.destroy(doomed.key_id) is False


def test_ac17_destroy_is_seen_by_another_key_store_instance(tmp_path: Path, key_file: Path) -> None:
    worker_a = open_keystore(tmp_path / "keys", key_file=key_file, environ={})
    worker_b = open_keystore(tmp_path / "keys", key_file=key_file, environ={})
    key = worker_a.epoch_key(SELLER, MARKETPLACE, DAY)
    assert worker_b.get(key.key_id) == key  # now cached in worker B

    worker_a.destroy(key.key_id)

    with pytest.raises(KeyDestroyedError):
        worker_b.get(key.key_id)


def test_ac17_shred_overwrites_the_file_in_place(tmp_path: Path) -> None:
    path = tmp_path / "victim"
    path.write_bytes(b"S" * 64)
    handle = os.open(path, os.O_RDONLY)  # keeps the inode alive after unlink, as a copy on disk would
    try:
        files.shred(path)
        assert not path.exists()
        assert b"S" * 8 not in os.pread(handle, 64, 0)
    finally:
        os.close(handle)


def test_ac28_destroy_seller_destroys_every_key_of_that_seller_only(keystore: KeyStore) -> None:
    keystore.epoch_key(SELLER, MARKETPLACE, DAY)
    keystore.epoch_key(SELLER, "ATVPDKIKX0DER", DAY)
    keystore.open_key(SELLER, MARKETPLACE)
    keystore.index_key(SELLER, MARKETPLACE)
    other = keystore.epoch_key("A2SELLER0002", MARKETPLACE, DAY)

    destroyed = keystore.destroy_seller(SELLER)

    assert len(destroyed) == 4
    assert keystore.live_keys(SELLER) == []
    assert keystore.live_keys() == [other.key_id]
    assert not list((keystore.root / SELLER).rglob("*.key"))


def test_unknown_key_is_a_key_store_error_not_destroyed(keystore: KeyStore) -> None:
    with pytest.raises(KeyStoreError, match="not in the key store"):
        keystore.get(KeyId.for_epoch(SELLER, MARKETPLACE, DAY))


def test_rolling_open_key(keystore: KeyStore) -> None:
    first = keystore.open_key(SELLER, MARKETPLACE)
    assert first.key_id.slot == "open-1"
    assert keystore.open_key(SELLER, MARKETPLACE) == first

    second = keystore.roll_open_key(SELLER, MARKETPLACE)

    assert second.key_id.slot == "open-2"
    assert keystore.open_key(SELLER, MARKETPLACE) == second
    assert keystore.get(first.key_id) == first  # kept until its records are re-keyed
    keystore.destroy(second.key_id)
    keystore.destroy(first.key_id)
    assert keystore.open_key(SELLER, MARKETPLACE).key_id.slot == "open-3"  # never reuses a serial


def test_live_epochs_lists_only_epoch_keys_in_order(keystore: KeyStore) -> None:
    keystore.open_key(SELLER, MARKETPLACE)
    keystore.index_key(SELLER, MARKETPLACE)
    for day in (date(2026, 12, 25), DAY, date(2026, 12, 24)):
        keystore.epoch_key(SELLER, MARKETPLACE, day)

    epochs = keystore.live_epochs(SELLER, MARKETPLACE)

    assert [k.day for k in epochs] == [DAY, date(2026, 12, 24), date(2026, 12, 25)]
    assert {k.kind for k in epochs} == {KeyKind.EPOCH}


def test_key_file_moved_to_another_slot_does_not_unwrap(keystore: KeyStore) -> None:
    keystore.epoch_key(SELLER, MARKETPLACE, DAY)
    folder = keystore.root / SELLER / MARKETPLACE
    os.replace(folder / f"{DAY}.key", folder / "2026-12-30.key")

    with pytest.raises(KeyStoreError, match="does not unwrap"):
        keystore.get(KeyId.for_epoch(SELLER, MARKETPLACE, date(2026, 12, 30)))


def test_wrong_kek_is_a_clear_error(keystore: KeyStore) -> None:
    key = keystore.epoch_key(SELLER, MARKETPLACE, DAY)
    stranger = KeyStore(keystore.root, KeyEncryptionKey.generate())

    with pytest.raises(KeyStoreError, match="not loaded"):
        stranger.get(key.key_id)


def test_ac20_kek_rotation_keeps_every_key_readable(keystore: KeyStore) -> None:
    keys = [keystore.epoch_key(SELLER, MARKETPLACE, DAY), keystore.index_key(SELLER, MARKETPLACE)]
    new = KeyEncryptionKey.generate()

    assert keystore.rotate_kek(new) == 2

    only_new = KeyStore(keystore.root, new)
    assert [only_new.get(k.key_id) for k in keys] == keys
    assert keystore.rewrap_all() == 0


def test_ac20_kek_rotation_by_environment(tmp_path: Path, key_file: Path) -> None:
    old, new = KeyEncryptionKey.generate(), KeyEncryptionKey.generate()
    store = open_keystore(tmp_path / "keys", key_file=key_file, environ={KEK_ENV: old.to_text()})
    key = store.epoch_key(SELLER, MARKETPLACE, DAY)

    rotating = open_keystore(
        store.root, key_file=key_file, environ={KEK_ENV: new.to_text(), KEK_PREVIOUS_ENV: old.to_text()}
    )
    assert rotating.rewrap_all() == 1

    after = open_keystore(store.root, key_file=key_file, environ={KEK_ENV: new.to_text()})
    assert after.get(key.key_id) == key


def test_ac20_kek_file_rotation_shreds_the_old_kek(keystore: KeyStore, key_file: Path) -> None:
    key = keystore.epoch_key(SELLER, MARKETPLACE, DAY)
    old_text = key_file.read_text()

    assert rotate_kek_file(keystore, key_file) == 1

    assert key_file.read_text() != old_text
    assert mode(key_file) == 0o600
    assert not key_file.with_name("kek.next").exists()
    reopened = open_keystore(keystore.root, key_file=key_file, environ={})
    assert reopened.get(key.key_id) == key


def test_ac20_kek_file_rotation_resumes_after_a_crash_while_rewrapping(
    keystore: KeyStore, key_file: Path
) -> None:
    # given a rotation that wrote the next KEK and re-wrapped one of two keys, then died
    keys = [
        keystore.epoch_key(SELLER, MARKETPLACE, DAY),
        keystore.epoch_key(SELLER, MARKETPLACE, date(2027, 1, 1)),
    ]
    new = KeyEncryptionKey.generate()
    files.write_new(key_file.with_name("kek.next"), new.to_text().encode())
    half = KeyStore(keystore.root, new, previous=[keystore.kek])
    path = keystore.root / SELLER / MARKETPLACE / f"{DAY}.key"
    files.write_replace(path, half._wrap(keys[0].key_id, keys[0].secret))

    # when the key store is opened again
    reopened = open_keystore(keystore.root, key_file=key_file, environ={})

    # then the rotation is finished
    assert reopened.kek == new
    assert KeyEncryptionKey.from_text(key_file.read_text(), source="test") == new
    assert [KeyStore(keystore.root, new).get(k.key_id) for k in keys] == keys


def test_ac20_kek_file_rotation_resumes_after_a_crash_while_shredding(
    keystore: KeyStore, key_file: Path
) -> None:
    key = keystore.epoch_key(SELLER, MARKETPLACE, DAY)
    new = KeyEncryptionKey.generate()
    files.write_new(key_file.with_name("kek.next"), new.to_text().encode())
    keystore.rotate_kek(new)
    key_file.write_bytes(os.urandom(45))  # overwritten, not yet unlinked

    reopened = open_keystore(keystore.root, key_file=key_file, environ={})

    assert reopened.kek == new
    assert reopened.get(key.key_id) == key


names = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(names, names, st.dates(min_value=date(2000, 1, 1), max_value=date(2200, 1, 1)))
def test_key_ids_round_trip_through_text(seller: str, marketplace: str, day: date) -> None:
    key_id = KeyId.for_epoch(seller, marketplace, day)
    assert KeyId.parse(str(key_id)) == key_id
    assert key_id.day == day


@pytest.mark.parametrize("seller", ["", "../etc", ".hidden", "a/b", "x" * 65, "Ünï"])
def test_key_ids_refuse_names_that_are_not_plain_ids(seller: str) -> None:
    with pytest.raises(KeyStoreError, match="bad seller"):
        KeyId.for_epoch(seller, MARKETPLACE, DAY)


@pytest.mark.parametrize("slot", ["2026-13-01", "open-0", "index", "latest", "2026-12-23.key"])
def test_key_ids_refuse_bad_slots(slot: str) -> None:
    with pytest.raises(KeyStoreError, match="bad"):
        KeyId(SELLER, MARKETPLACE, slot)


def test_key_for_a_due_time_is_the_key_of_its_utc_day(keystore: KeyStore) -> None:
    late_evening_in_new_york = datetime(2026, 12, 22, 20, 0, tzinfo=timezone(timedelta(hours=-5)))

    key = keystore.key_for(SELLER, MARKETPLACE, late_evening_in_new_york)

    assert key.key_id.day == DAY
    assert keystore.key_for(SELLER, MARKETPLACE, None) == keystore.open_key(SELLER, MARKETPLACE)
    with pytest.raises(KeyStoreError, match="timezone"):
        keystore.key_for(SELLER, MARKETPLACE, datetime(2026, 12, 23))
    keystore.destroy(key.key_id)
    with pytest.raises(KeyDestroyedError):
        keystore.key_for(SELLER, MARKETPLACE, datetime(2026, 12, 23, 12, tzinfo=UTC))


@pytest.mark.parametrize(
    "root, key_file",
    [("data/keys", "secrets/kek"), ("keys", "data/kek"), (".", "secrets/kek")],
    ids=["store inside", "key file inside", "store around"],
)
def test_ac18_the_key_store_refuses_to_live_inside_the_database_directory(
    tmp_path: Path, root: str, key_file: str
) -> None:
    with pytest.raises(KeyStoreError, match="database backups would copy it"):
        open_keystore(
            tmp_path / root, key_file=tmp_path / key_file, environ={}, database_dirs=[tmp_path / "data"]
        )


def test_ac18_a_key_store_beside_the_database_directory_is_fine(tmp_path: Path) -> None:
    open_keystore(
        tmp_path / "keys",
        key_file=tmp_path / "secrets" / "kek",
        environ={},
        database_dirs=[tmp_path / "data"],
    )


def test_ac28_a_seller_purge_never_takes_a_pattern(keystore: KeyStore) -> None:
    keystore.epoch_key(SELLER, MARKETPLACE, DAY)

    with pytest.raises(KeyStoreError, match="bad seller"):
        keystore.destroy_seller("*")

    assert len(keystore.live_keys()) == 1


def test_an_open_key_rolled_by_another_process_is_seen(tmp_path: Path, key_file: Path) -> None:
    worker_a = open_keystore(tmp_path / "keys", key_file=key_file, environ={})
    worker_b = open_keystore(tmp_path / "keys", key_file=key_file, environ={})
    assert worker_a.open_key(SELLER, MARKETPLACE) == worker_b.open_key(SELLER, MARKETPLACE)

    rolled = worker_a.roll_open_key(SELLER, MARKETPLACE)

    assert worker_b.open_key(SELLER, MARKETPLACE) == rolled
    worker_a.destroy(rolled.key_id)
    assert worker_b.open_key(SELLER, MARKETPLACE).key_id.slot == "open-3"
