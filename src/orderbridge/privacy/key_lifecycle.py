"""The audited key lifecycle: destroy an epoch key, purge a seller, rotate keys (R8, AC-17, AC-20, AC-28).

Each operation changes the key store (outside the database) and appends audit entries in the caller's
transaction. The file system and the database cannot change atomically: the key store goes first, so a
failed commit leaves a destroyed key without its entry, and repeating the call (the key is then already
gone) writes the entry with ``was_live: false``. Keys are never restored to make the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from orderbridge.clock import Clock, as_utc
from orderbridge.privacy import audit
from orderbridge.privacy.keystore import KeyEncryptionKey, KeyId, KeyStore, rotate_kek_file
from orderbridge.privacy.models import AuditAction


@dataclass(frozen=True)
class PurgeCertificate:
    """Evidence that a seller's keys are destroyed: what, when, by whom, and the audit entry proving it."""

    seller: str
    purged_at: datetime
    actor: str
    reason: str
    keys_destroyed: tuple[str, ...]
    audit_seq: int
    audit_hash: str
    rows_deleted: Mapping[str, int] = field(default_factory=dict)

    def as_text(self) -> str:
        """The certificate as plain text for the operator's records (AC-28)."""
        lines = [
            f"orderbridge seller purge certificate: seller {self.seller}",
            f"purged at {self.purged_at.isoformat(timespec='seconds')} by {self.actor}",
            f"reason: {self.reason}",
            f"{len(self.keys_destroyed)} key(s) destroyed (crypto-shredded: no ciphertext under them, in the",
            "database, its journal, dumps or backups, can be decrypted any more):",
            *(f"  {key_id}" for key_id in self.keys_destroyed),
            *(f"{name.replace('_', ' ')}: {count}" for name, count in self.rows_deleted.items()),
            f"audit entry {self.audit_seq}, hash {self.audit_hash}",
        ]
        return "\n".join(lines)


def destroy_key(
    keystore: KeyStore,
    session: Session,
    key_id: KeyId,
    *,
    actor: str,
    clock: Clock,
    reason: str = "retention",
) -> bool:
    """Crypto-shred one key and write a ``key_destroyed`` audit entry; False if it was already gone."""
    was_live = keystore.destroy(key_id)
    audit.append(
        session,
        actor=actor,
        action=AuditAction.KEY_DESTROYED,
        subjects=[f"key:{key_id}"],
        detail={"kind": key_id.kind.value, "reason": reason, "was_live": was_live},
        clock=clock,
    )
    return was_live


def purge_seller(
    keystore: KeyStore, session: Session, seller: str, *, actor: str, clock: Clock, reason: str
) -> PurgeCertificate:
    """Destroy every key of one seller (authorisation revoked, Amazon notice) and certify it (AC-28).

    The seller's Amazon-derived rows are the book's to delete; after this they hold only ciphertext
    nobody can read.
    """
    destroyed = [
        key_id
        for key_id in keystore.live_keys(seller)
        if destroy_key(keystore, session, key_id, actor=actor, clock=clock, reason=reason)
    ]
    entry = audit.append(
        session,
        actor=actor,
        action=AuditAction.SELLER_PURGED,
        subjects=[f"seller:{seller}"],
        detail={"keys_destroyed": len(destroyed), "reason": reason},
        clock=clock,
    )
    return PurgeCertificate(
        seller=seller,
        purged_at=as_utc(entry.at),
        actor=actor,
        reason=reason,
        keys_destroyed=tuple(str(key_id) for key_id in destroyed),
        audit_seq=entry.seq,
        audit_hash=entry.hash,
    )


def rotate_kek(
    keystore: KeyStore,
    session: Session,
    *,
    actor: str,
    clock: Clock,
    key_file: Path | None = None,
    new: KeyEncryptionKey | None = None,
) -> int:
    """Rotate the KEK and log it (AC-20); returns how many data keys were re-wrapped.

    With `key_file`: a fresh KEK replaces the file's (the old one is shredded). With `new`: that KEK.
    With neither: finish an environment rotation (``ORDERBRIDGE_KEK`` new, ``ORDERBRIDGE_KEK_PREVIOUS`` old).
    """
    old = keystore.kek.fingerprint
    if key_file is not None:
        count = rotate_kek_file(keystore, key_file)
    elif new is not None:
        count = keystore.rotate_kek(new)
    else:
        count = keystore.rewrap_all()
    audit.append(
        session,
        actor=actor,
        action=AuditAction.KEK_ROTATED,
        detail={"from_kek": old, "to_kek": keystore.kek.fingerprint, "rewrapped": count},
        clock=clock,
    )
    return count


def rotate_index_key(
    keystore: KeyStore, session: Session, seller: str, marketplace: str, *, actor: str, clock: Clock
) -> KeyId:
    """Start a new blind-index key for (seller, marketplace) and log it (AC-20).

    The caller re-indexes live rows (matching with `BlindIndexer.candidates` meanwhile), then destroys
    the old index key with `destroy_key`.
    """
    key_id = keystore.roll_index_key(seller, marketplace).key_id
    audit.append(
        session,
        actor=actor,
        action=AuditAction.INDEX_KEY_ROTATED,
        subjects=[f"key:{key_id}"],
        clock=clock,
    )
    return key_id
