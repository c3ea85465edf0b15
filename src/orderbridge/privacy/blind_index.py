"""Keyed blind indexes: exact-match lookups on e-mail, name or phone without storing the plaintext.

``HMAC-SHA256(index key, kind || normalised value)`` truncated to 16 bytes (DPP §3.5). Keys live in the
key store, never in the database; a plain ``sha256(email)`` would be reversible by dictionary (AC-19).

Two keyings:
- `index`: the per-(seller, marketplace) index key. Stable across epochs; deleting the row ends the match.
- `index_in_epoch`: a key derived (HKDF) from the record's epoch or open key. Match with
  `epoch_candidates` (one value per live key, ~31) and ``IN``. Destroying the epoch key also makes the
  index values in old backups unlinkable to anything new (DPP §3.5 "at redaction").
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from collections.abc import Callable
from enum import StrEnum

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from orderbridge.privacy.errors import KeyDestroyedError, NothingToIndexError
from orderbridge.privacy.keystore import DataKey, KeyId, KeyKind, KeyStore

INDEX_BYTES = 16
_LABEL = b"orderbridge-blind-index-v1"


class IndexKind(StrEnum):
    EMAIL = "email"
    NAME = "name"
    PHONE = "phone"


def normalise_email(value: str) -> str:
    """Trim and lower-case (Amazon's per-buyer relay addresses compare case-insensitively; C8)."""
    return value.strip().lower()


def normalise_name(value: str) -> str:
    """Unicode-compatibility fold, case-fold, and collapse runs of whitespace to one space."""
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def normalise_phone(value: str) -> str:
    """Digits only, keeping a leading ``+``."""
    digits = "".join(ch for ch in value if ch.isdigit())
    return "+" + digits if value.strip().startswith("+") and digits else digits


_NORMALISERS = {
    IndexKind.EMAIL: normalise_email,
    IndexKind.NAME: normalise_name,
    IndexKind.PHONE: normalise_phone,
}


def normalise(kind: IndexKind, value: str) -> str:
    """The normal form of `value` for an index of `kind`."""
    return _NORMALISERS[kind](value)


def _digest(secret: bytes, kind: IndexKind, normal: str) -> bytes:
    message = _LABEL + b"\x00" + kind.value.encode() + b"\x00" + normal.encode("utf-8")
    return hmac.new(secret, message, hashlib.sha256).digest()[:INDEX_BYTES]


def index_with(secret: bytes, kind: IndexKind, normal: str) -> bytes:
    """The blind index of an already normalised value under a given key (re-indexing during a rotation)."""
    return _digest(secret, kind, normal)


class BlindIndexer:
    """Computes blind indexes with the per-(seller, marketplace) index keys of the key store."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys
        self._derived: dict[KeyId, bytes] = {}

    def index(self, kind: IndexKind, value: str, *, seller: str, marketplace: str) -> bytes:
        """The 16-byte blind index of `value` under the current index key; NothingToIndexError if empty."""
        normal = self._normal(kind, value)
        return _digest(self.keys.index_key(seller, marketplace).secret, kind, normal)

    def pinned(self, kind: IndexKind, *, seller: str, marketplace: str) -> Callable[[str], bytes]:
        """`index` for one kind and scope with the current index key looked up once, for a short batch
        (a page of orders) rather than a key-store look-up per value."""
        secret = self.keys.index_key(seller, marketplace).secret

        def index(value: str) -> bytes:
            return _digest(secret, kind, self._normal(kind, value))

        return index

    def candidates(self, kind: IndexKind, value: str, *, seller: str, marketplace: str) -> list[bytes]:
        """The index of `value` under every live index key: match with ``IN`` while a re-index runs."""
        normal = self._normal(kind, value)
        self.keys.index_key(seller, marketplace)
        live = [k for k in self.keys.live_keys(seller, marketplace) if k.kind is KeyKind.INDEX]
        newest_first = sorted(live, key=lambda k: k.serial, reverse=True)
        return [_digest(self.keys.get(key_id).secret, kind, normal) for key_id in newest_first]

    def index_in_epoch(self, kind: IndexKind, value: str, *, key: DataKey) -> bytes:
        """The blind index of `value` under a key derived from the record's epoch (or open) key."""
        return _digest(self._derive(key), kind, self._normal(kind, value))

    def epoch_candidates(self, kind: IndexKind, value: str, *, seller: str, marketplace: str) -> list[bytes]:
        """The index of `value` under every live epoch and open key of (seller, marketplace), for ``IN``."""
        normal = self._normal(kind, value)
        live = [k for k in self.keys.live_keys(seller, marketplace) if k.kind is not KeyKind.INDEX]
        found = []
        for key_id in live:
            try:
                found.append(_digest(self._derive(self.keys.get(key_id)), kind, normal))
            except KeyDestroyedError:  # swept since the listing: forget what was derived from it
                self._derived.pop(key_id, None)
        return found

    def _derive(self, key: DataKey) -> bytes:
        derived = self._derived.get(key.key_id)
        if derived is None:
            info = _LABEL + b"\x00epoch\x00" + str(key.key_id).encode()
            derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key.secret)
            self._derived[key.key_id] = derived
        return derived

    @staticmethod
    def _normal(kind: IndexKind, value: str) -> str:
        normal = normalise(kind, value)
        if not normal.strip("+"):
            raise NothingToIndexError(f"blind index: the {kind} value is empty after normalising")
        return normal
