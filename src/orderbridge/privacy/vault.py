"""Field encryption for PII: AES-256-GCM, each value bound to its table, row, field, key id and format.

Ciphertext layout (self-describing, DPP §3.3, AC-16)::

    version (1 byte) | key id length (1 byte) | key id (ASCII) | nonce (12 bytes) | ciphertext + tag

The associated data binds the value to ``(format version, table, record id, field, key id)``, so a
ciphertext copied to another row or field, or altered by one bit, fails to decrypt. The key id names the
retention epoch whose destruction redacts the value for good.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from orderbridge.privacy.errors import DecryptionError, KeyDestroyedError, KeyStoreError
from orderbridge.privacy.keystore import DataKey, KeyId, KeyStore

FORMAT_VERSION = 1
REDACTED = "[Redacted]"  # P3: what a redacted field reads everywhere
_NONCE_BYTES = 12
_AAD_LABEL = b"orderbridge-vault"


@dataclass(frozen=True)
class FieldRef:
    """Where a value lives: table, record id and field name. Part of the associated data."""

    table: str
    record_id: int | str
    field: str

    def __str__(self) -> str:
        return f"{self.table} {self.record_id} {self.field}"


def _prefixed(part: str) -> bytes:
    # Length-prefixed, so that ("ab", "c") and ("a", "bc") never give the same bytes.
    encoded = part.encode("utf-8")
    return len(encoded).to_bytes(4, "big") + encoded


def record_part(record_id: str) -> bytes:
    """A record id as `table_opener` takes it (its part of the associated data)."""
    return _prefixed(record_id)


def _associated_data(version: int, at: FieldRef, key_id: str) -> bytes:
    parts = (str(version), at.table, str(at.record_id), at.field, key_id)
    return _AAD_LABEL + b"".join(_prefixed(part) for part in parts)


def key_id_of(blob: bytes) -> KeyId:
    """The key id a ciphertext names (to find which epoch a stored value belongs to)."""
    return KeyId.parse(_split(blob)[1])


def _split(blob: bytes) -> tuple[int, str, bytes, bytes]:
    if len(blob) < 2 or blob[0] != FORMAT_VERSION:
        version = blob[0] if blob else None
        raise DecryptionError(f"vault: unknown ciphertext format {version!r}")
    end = 2 + blob[1]
    if len(blob) < end + _NONCE_BYTES + 16:
        raise DecryptionError("vault: ciphertext is truncated")
    try:
        key_id = blob[2:end].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError("vault: ciphertext header is damaged") from None
    return blob[0], key_id, blob[end : end + _NONCE_BYTES], blob[end + _NONCE_BYTES :]


class Vault:
    """Encrypts and decrypts PII fields with data keys from the key store."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def encrypt(self, value: str, *, at: FieldRef, key: DataKey) -> bytes:
        """Seal `value` for the field `at` under `key` (an epoch or open key from the key store)."""
        key_id = str(key.key_id).encode("ascii")
        nonce = os.urandom(_NONCE_BYTES)
        aad = _associated_data(FORMAT_VERSION, at, str(key.key_id))
        sealed = AESGCM(key.secret).encrypt(nonce, value.encode("utf-8"), aad)
        return bytes((FORMAT_VERSION, len(key_id))) + key_id + nonce + sealed

    def field_sealer(self) -> Callable[[str, str, str, str, DataKey], bytes]:
        """`encrypt` for a burst of values (a page of new rows): `seal(value, table, record id, field,
        key)` gives exactly what `encrypt` gives, with one cipher per key, the repeating parts of the
        associated data (table, field, key id) encoded once and nonces drawn from one `os.urandom` call
        per 256 values (each still 12 fresh random bytes used once).

        For short bursts only, like `field_opener`: the caller picks each value's key.
        """
        # By the key object (kept alive here, so its id is not reused): cipher, header and key id.
        ciphers: dict[int, tuple[DataKey, AESGCM, bytes, str]] = {}
        heads: dict[str, bytes] = {}
        tails: dict[tuple[str, str], bytes] = {}
        last_ref: list[str | bytes] = ["", b""]
        nonces: list[bytes] = [b""]
        nonce_at = [0]

        def seal(value: str, table: str, record_id: str, field: str, key: DataKey) -> bytes:
            found = ciphers.get(id(key))
            if found is None:
                key_id = str(key.key_id)
                encoded = key_id.encode("ascii")
                header = bytes((FORMAT_VERSION, len(encoded))) + encoded
                found = ciphers[id(key)] = (key, AESGCM(key.secret), header, key_id)
            _key, cipher, header, key_id = found
            head = heads.get(table)
            if head is None:
                head = heads[table] = _AAD_LABEL + _prefixed(str(FORMAT_VERSION)) + _prefixed(table)
            tail = tails.get((field, key_id))
            if tail is None:
                tail = tails[(field, key_id)] = _prefixed(field) + _prefixed(key_id)
            if last_ref[0] != record_id:  # a record's fields come one after another
                last_ref[0], last_ref[1] = record_id, _prefixed(record_id)
            at = nonce_at[0]
            if at + _NONCE_BYTES > len(nonces[0]):
                nonces[0] = os.urandom(_NONCE_BYTES * 256)
                at = 0
            nonce = nonces[0][at : at + _NONCE_BYTES]
            nonce_at[0] = at + _NONCE_BYTES
            aad = head + cast(bytes, last_ref[1]) + tail
            return header + nonce + cipher.encrypt(nonce, value.encode("utf-8"), aad)

        return seal

    def decrypt(self, blob: bytes, *, at: FieldRef) -> str:
        """The plaintext of the field `at`.

        Raises KeyDestroyedError ("redacted: key for epoch X destroyed") once the epoch is swept, and
        DecryptionError when the ciphertext was moved from another row or field or altered.
        """
        version, key_id, nonce, sealed = _split(blob)
        try:
            key = self.keys.get(KeyId.parse(key_id))
        except KeyDestroyedError:
            raise
        except KeyStoreError as error:
            raise DecryptionError(f"vault: {at} cannot be decrypted: {error}") from None
        try:
            plain = AESGCM(key.secret).decrypt(nonce, sealed, _associated_data(version, at, key_id))
        except InvalidTag:
            raise DecryptionError(
                f"vault: {at} does not decrypt under key {key_id} "
                "(moved from another row or field, or altered)"
            ) from None
        return plain.decode("utf-8")

    def opener(self) -> Callable[[bytes, FieldRef], str]:
        """`decrypt` for a burst of values (a sweep batch): each key is fetched and set up once.

        For short bursts only: a key another process destroys meanwhile is noticed by the next opener.
        """
        by_table: dict[str, Callable[[bytes, bytes, str], str]] = {}

        def decrypt(blob: bytes, at: FieldRef) -> str:
            fast = by_table.get(at.table)
            if fast is None:
                fast = by_table[at.table] = self.table_opener(at.table)
            return fast(blob, record_part(str(at.record_id)), at.field)

        return decrypt

    def table_opener(self, table: str) -> Callable[[bytes, bytes, str], str]:
        """`decrypt(blob, record_part(record id), field)` for a burst of values of one table.

        The sweep's inner loop (it opens millions of values): each key is fetched and set up once, the
        associated data's parts that repeat (everything but the record id) are encoded once per key
        and field, and the caller encodes each record id once for all of its fields.
        """
        # By the ciphertext's header bytes (version, key id) and the field: the cipher and the AAD's parts.
        known: dict[tuple[bytes, str], tuple[AESGCM, bytes, bytes, str]] = {}

        def decrypt(blob: bytes, record: bytes, field: str) -> str:
            end = 2 + blob[1] if len(blob) > 1 else 0
            found = known.get((blob[:end], field))
            if found is None:
                found = known[(blob[:end], field)] = self._field_setup(blob, table, field)
            cipher, head, tail, key_id = found
            if len(blob) < end + _NONCE_BYTES + 16:
                raise DecryptionError("vault: ciphertext is truncated")
            try:
                plain = cipher.decrypt(
                    blob[end : end + _NONCE_BYTES], blob[end + _NONCE_BYTES :], head + record + tail
                )
            except InvalidTag:
                at = f"{table} {record[4:].decode('utf-8', 'replace')} {field}"
                raise DecryptionError(
                    f"vault: {at} does not decrypt under key {key_id} "
                    "(moved from another row or field, or altered)"
                ) from None
            return plain.decode("utf-8")

        return decrypt

    def _field_setup(self, blob: bytes, table: str, field: str) -> tuple[AESGCM, bytes, bytes, str]:
        version, key_id, _nonce, _sealed = _split(blob)
        try:
            key = self.keys.get(KeyId.parse(key_id))
        except KeyDestroyedError:
            raise
        except KeyStoreError as error:
            raise DecryptionError(f"vault: {table} {field} cannot be decrypted: {error}") from None
        head = _AAD_LABEL + _prefixed(str(version)) + _prefixed(table)
        return AESGCM(key.secret), head, _prefixed(field) + _prefixed(key_id), key_id

    def read(self, blob: bytes | None, *, at: FieldRef) -> str | None:
        """What a reader sees: the plaintext, ``[Redacted]`` once its key is destroyed, None if no value."""
        if blob is None:
            return None
        try:
            return self.decrypt(blob, at=at)
        except KeyDestroyedError:
            return REDACTED

    def reencrypt(self, blob: bytes, *, at: FieldRef, key: DataKey, to: FieldRef | None = None) -> bytes:
        """Move a value under another key (the retention anchor moved later) and optionally another field."""
        return self.encrypt(self.decrypt(blob, at=at), at=to or at, key=key)
