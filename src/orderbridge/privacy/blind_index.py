"""Keyed blind indexes: exact-match lookups on e-mail, name or phone without storing the plaintext.

``HMAC-SHA256(index key of (seller, marketplace), kind || normalised value)`` truncated to 16 bytes
(DPP §3.5). The key lives in the key store, never in the database; a plain ``sha256(email)`` would be
reversible by dictionary (AC-19). Destroying the seller's keys or redacting the row ends the match (C5).
"""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from enum import StrEnum

from orderbridge.privacy.errors import NothingToIndexError
from orderbridge.privacy.keystore import DataKey, KeyKind, KeyStore

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


def _digest(key: DataKey, kind: IndexKind, normal: str) -> bytes:
    message = _LABEL + b"\x00" + kind.value.encode() + b"\x00" + normal.encode("utf-8")
    return hmac.new(key.secret, message, hashlib.sha256).digest()[:INDEX_BYTES]


class BlindIndexer:
    """Computes blind indexes with the per-(seller, marketplace) index keys of the key store."""

    def __init__(self, keys: KeyStore) -> None:
        self.keys = keys

    def index(self, kind: IndexKind, value: str, *, seller: str, marketplace: str) -> bytes:
        """The 16-byte blind index of `value` under the current index key; NothingToIndexError if empty."""
        normal = self._normal(kind, value)
        return _digest(self.keys.index_key(seller, marketplace), kind, normal)

    def candidates(self, kind: IndexKind, value: str, *, seller: str, marketplace: str) -> list[bytes]:
        """The index of `value` under every live index key: match with ``IN`` while a re-index runs."""
        normal = self._normal(kind, value)
        self.keys.index_key(seller, marketplace)
        live = [k for k in self.keys.live_keys(seller, marketplace) if k.kind is KeyKind.INDEX]
        newest_first = sorted(live, key=lambda k: k.serial, reverse=True)
        return [_digest(self.keys.get(key_id), kind, normal) for key_id in newest_first]

    @staticmethod
    def _normal(kind: IndexKind, value: str) -> str:
        normal = normalise(kind, value)
        if not normal.strip("+"):
            raise NothingToIndexError(f"blind index: the {kind} value is empty after normalising")
        return normal
