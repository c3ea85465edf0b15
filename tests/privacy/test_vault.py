"""Field encryption: AAD binding, crypto-shredding by epoch, re-keying, no plaintext at rest."""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orderbridge.privacy.errors import DecryptionError, KeyDestroyedError
from orderbridge.privacy.keystore import KeyStore
from orderbridge.privacy.vault import REDACTED, FieldRef, Vault, key_id_of
from tests.privacy.fakes import MARKETPLACE, SELLER, CanaryBuyer

DAY = date(2026, 12, 23)
NAME_42 = FieldRef("sales_order", 42, "ship_name")


@pytest.fixture
def vault(keystore: KeyStore) -> Vault:
    return Vault(keystore)


def test_ac16_round_trip_and_key_id_in_header(vault: Vault, canary: CanaryBuyer) -> None:
    key = vault.keys.epoch_key(SELLER, MARKETPLACE, DAY)

    blob = vault.encrypt(canary.name, at=NAME_42, key=key)

    assert vault.decrypt(blob, at=NAME_42) == canary.name
    assert key_id_of(blob) == key.key_id
    assert blob[0] == 1


@settings(max_examples=50, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text())
def test_ac16_any_text_round_trips(keystore: KeyStore, value: str) -> None:
    vault = Vault(keystore)
    blob = vault.encrypt(value, at=NAME_42, key=keystore.open_key(SELLER, MARKETPLACE))
    assert vault.decrypt(blob, at=NAME_42) == value


@pytest.mark.parametrize(
    "elsewhere",
    [
        FieldRef("sales_order", 43, "ship_name"),
        FieldRef("sales_order", "42", "bill_name"),
        FieldRef("contact", 42, "ship_name"),
    ],
    ids=["another row", "another field", "another table"],
)
def test_ac16_ciphertext_moved_to_another_row_or_field_fails(
    vault: Vault, canary: CanaryBuyer, elsewhere: FieldRef
) -> None:
    blob = vault.encrypt(canary.name, at=NAME_42, key=vault.keys.epoch_key(SELLER, MARKETPLACE, DAY))

    with pytest.raises(DecryptionError, match="moved from another row or field") as caught:
        vault.decrypt(blob, at=elsewhere)

    assert canary.name not in str(caught.value)


def test_ac16_field_sealer_writes_what_encrypt_writes_bound_to_its_row_field_and_key(
    vault: Vault, canary: CanaryBuyer
) -> None:
    """The bulk paths' sealer: the same format as `encrypt` (so `decrypt` opens it), a fresh nonce per
    value across its nonce refills, and the same binding to (table, row, field, key id)."""
    epoch, other = vault.keys.epoch_key(SELLER, MARKETPLACE, DAY), vault.keys.open_key(SELLER, MARKETPLACE)
    seal = vault.field_sealer()
    blobs = [
        (seal(f"{canary.name} {n}", "sales_order", str(n), "ship_name", epoch if n % 2 else other), n)
        for n in range(600)  # more than one batch of nonces
    ]

    for blob, n in blobs:
        assert vault.decrypt(blob, at=FieldRef("sales_order", n, "ship_name")) == f"{canary.name} {n}"
        assert key_id_of(blob) == (epoch if n % 2 else other).key_id
    assert len({blob[2 + blob[1] : 2 + blob[1] + 12] for blob, _ in blobs}) == len(blobs)  # nonces
    assert canary.name.encode() not in b"".join(blob for blob, _ in blobs)
    first = blobs[1][0]
    for elsewhere in (
        FieldRef("sales_order", 2, "ship_name"),
        FieldRef("sales_order", 1, "bill_name"),
        FieldRef("contact", 1, "ship_name"),
    ):
        with pytest.raises(DecryptionError, match="moved from another row or field"):
            vault.decrypt(first, at=elsewhere)


@pytest.mark.parametrize(
    "elsewhere",
    [
        FieldRef("sales_order", 43, "ship_name"),
        FieldRef("sales_order", "42", "bill_name"),
        FieldRef("contact", 42, "ship_name"),
    ],
    ids=["another row", "another field", "another table"],
)
def test_ac16_the_sweeps_burst_opener_binds_row_field_and_table_too(
    vault: Vault, canary: CanaryBuyer, elsewhere: FieldRef
) -> None:
    key = vault.keys.epoch_key(SELLER, MARKETPLACE, DAY)
    blob = vault.encrypt(canary.name, at=NAME_42, key=key)
    other = vault.encrypt("Other buyer", at=elsewhere, key=key)
    opener = vault.opener()
    assert opener(blob, NAME_42) == canary.name  # its caches now hold the key and the AAD's parts
    assert opener(other, elsewhere) == "Other buyer"

    with pytest.raises(DecryptionError, match="moved from another row or field") as caught:
        opener(blob, elsewhere)

    assert canary.name not in str(caught.value)
    with pytest.raises(DecryptionError, match="truncated"):
        opener(blob[:30], NAME_42)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_ac16_flipping_any_bit_fails(keystore: KeyStore, data: st.DataObject) -> None:
    vault = Vault(keystore)
    blob = bytearray(vault.encrypt("Qz canary", at=NAME_42, key=keystore.epoch_key(SELLER, MARKETPLACE, DAY)))
    bit = data.draw(st.integers(0, len(blob) * 8 - 1))
    blob[bit // 8] ^= 1 << (bit % 8)

    with pytest.raises(DecryptionError) as caught:
        vault.decrypt(bytes(blob), at=NAME_42)

    assert "Qz canary" not in str(caught.value)


def test_ac16_truncated_or_foreign_blobs_are_clear_errors(vault: Vault) -> None:
    blob = vault.encrypt("x", at=NAME_42, key=vault.keys.open_key(SELLER, MARKETPLACE))
    for broken, message in [(b"", "format"), (b"\x07abc", "format"), (blob[:30], "truncated")]:
        with pytest.raises(DecryptionError, match=message):
            vault.decrypt(broken, at=NAME_42)


def test_ac4_destroyed_epoch_key_makes_its_values_undecryptable_while_other_epochs_decrypt(
    vault: Vault, canary: CanaryBuyer
) -> None:
    # given two orders in neighbouring epochs
    due = vault.encrypt(canary.email, at=NAME_42, key=vault.keys.epoch_key(SELLER, MARKETPLACE, DAY))
    later_ref = FieldRef("sales_order", 43, "ship_name")
    later = vault.encrypt(
        canary.email, at=later_ref, key=vault.keys.epoch_key(SELLER, MARKETPLACE, date(2026, 12, 24))
    )

    # when the due epoch is swept
    vault.keys.destroy(key_id_of(due))

    # then
    with pytest.raises(
        KeyDestroyedError, match=rf"redacted: key for epoch {SELLER}/{MARKETPLACE}/{DAY} destroyed"
    ):
        vault.decrypt(due, at=NAME_42)
    assert vault.read(due, at=NAME_42) == REDACTED
    assert vault.decrypt(later, at=later_ref) == canary.email
    assert vault.read(None, at=NAME_42) is None


def test_ac4_backup_taken_before_the_sweep_does_not_decrypt_after_it(
    vault: Vault, canary: CanaryBuyer, tmp_path: Path
) -> None:
    # given a SQLite book holding ciphertexts and a backup of it taken before the sweep
    database = tmp_path / "book.db"
    key = vault.keys.epoch_key(SELLER, MARKETPLACE, DAY)
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE pii (id INTEGER PRIMARY KEY, field TEXT, value BLOB)")
        for field, value in canary.values.items():
            blob = vault.encrypt(value, at=FieldRef("pii", 1, field), key=key)
            connection.execute("INSERT INTO pii (id, field, value) VALUES (NULL, ?, ?)", (field, blob))
    connection.close()
    backup = tmp_path / "backup.db"
    shutil.copy(database, backup)

    # when the epoch is swept
    vault.keys.destroy(key.key_id)

    # then nothing in the restored backup decrypts
    with sqlite3.connect(backup) as restored:
        rows = restored.execute("SELECT field, value FROM pii").fetchall()
    restored.close()
    assert len(rows) == len(canary.values)
    for field, blob in rows:
        with pytest.raises(KeyDestroyedError):
            vault.decrypt(blob, at=FieldRef("pii", 1, field))


def test_ac3_no_plaintext_reaches_the_database_file_even_before_the_sweep(
    vault: Vault, canary: CanaryBuyer, tmp_path: Path
) -> None:
    database = tmp_path / "book.db"
    connection = sqlite3.connect(database)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("CREATE TABLE pii (id INTEGER PRIMARY KEY, field TEXT, value BLOB)")
    key = vault.keys.epoch_key(SELLER, MARKETPLACE, DAY)
    for row, value in enumerate(canary.values.values()):
        connection.execute(
            "INSERT INTO pii VALUES (?, 'f', ?)",
            (row, vault.encrypt(value, at=FieldRef("pii", row, "f"), key=key)),
        )
    connection.commit()

    stored = b"".join(path.read_bytes() for path in tmp_path.glob("book.db*"))
    connection.close()
    for value in canary.values.values():
        for variant in (value, value.lower()):
            assert variant.encode() not in stored
            assert variant.encode("utf-16-le") not in stored
            assert base64.b64encode(variant.encode()) not in stored
            assert json.dumps(variant).encode() not in stored


def test_reencrypt_moves_a_value_to_a_later_epoch(vault: Vault, canary: CanaryBuyer) -> None:
    # given a pending order under the open key, then shipped: its PII moves to its epoch
    pending = vault.encrypt(canary.phone, at=NAME_42, key=vault.keys.open_key(SELLER, MARKETPLACE))
    shipped = vault.reencrypt(pending, at=NAME_42, key=vault.keys.epoch_key(SELLER, MARKETPLACE, DAY))
    # and a later partial shipment moves the anchor later
    later_key = vault.keys.epoch_key(SELLER, MARKETPLACE, date(2027, 1, 5))
    later = vault.reencrypt(shipped, at=NAME_42, key=later_key)

    vault.keys.destroy(key_id_of(shipped))

    assert key_id_of(later) == later_key.key_id
    assert vault.decrypt(later, at=NAME_42) == canary.phone


def test_reencrypt_can_move_a_value_to_another_field(vault: Vault) -> None:
    key = vault.keys.open_key(SELLER, MARKETPLACE)
    blob = vault.encrypt("Qz", at=NAME_42, key=key)
    target = FieldRef("contact", 7, "name")

    moved = vault.reencrypt(blob, at=NAME_42, key=key, to=target)

    assert vault.decrypt(moved, at=target) == "Qz"
    with pytest.raises(DecryptionError):
        vault.decrypt(moved, at=NAME_42)


def test_kek_rotation_keeps_ciphertexts_readable(vault: Vault, canary: CanaryBuyer) -> None:
    from orderbridge.privacy.keystore import KeyEncryptionKey

    blob = vault.encrypt(canary.name, at=NAME_42, key=vault.keys.epoch_key(SELLER, MARKETPLACE, DAY))
    new = KeyEncryptionKey.generate()
    vault.keys.rotate_kek(new)

    assert Vault(KeyStore(vault.keys.root, new)).decrypt(blob, at=NAME_42) == canary.name
