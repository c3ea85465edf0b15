"""Rotation of the blind-index keys (DPP §3.7, AC-20): new keys, live contacts re-indexed, old keys shredded.

For every (seller, marketplace) with an index key: start a new key, then walk the live contacts in
batches and recompute each stored e-mail and name key whose value one of the older keys made, then
destroy the older keys (audited). Resumable: a rotation killed half-way leaves the older keys live, and
the next run re-indexes from them and destroys them. While it runs, a repeat buyer whose contact is not
yet re-indexed may not be matched (run it when no sync is busy, e.g. with `orderbridge run` stopped).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.book.contacts import Contact
from orderbridge.clock import Clock
from orderbridge.privacy.blind_index import IndexKind, index_with, normalise
from orderbridge.privacy.errors import NothingToIndexError
from orderbridge.privacy.key_lifecycle import destroy_key, rotate_index_key
from orderbridge.privacy.keystore import KeyId, KeyKind
from orderbridge.privacy.sealing import Privacy, contact_name, open_sealed

_NAME_PARTS = ("first_name", "last_name", "company_name")


@dataclass
class IndexRotation:
    """What one rotation did: keys started and destroyed, contacts re-indexed, values no key explains."""

    new_keys: list[str] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    reindexed: int = 0
    unexplained: int = 0


@dataclass(frozen=True)
class _Scope:
    seller: str
    marketplace: str
    older: tuple[bytes, ...]
    current: bytes


def rotate_index_keys(
    sessions: sessionmaker[Session],
    privacy: Privacy,
    *,
    actor: str,
    clock: Clock,
    batch_size: int = 1000,
    progress: Callable[[int], None] | None = None,
) -> IndexRotation:
    """Rotate every blind-index key and re-index the live contacts (see the module docstring)."""
    keys = privacy.keys
    result = IndexRotation()
    scopes = sorted({(k.seller, k.marketplace) for k in keys.live_keys() if k.kind is KeyKind.INDEX})
    with sessions.begin() as session:
        for seller, marketplace in scopes:
            new = rotate_index_key(keys, session, seller, marketplace, actor=actor, clock=clock)
            result.new_keys.append(str(new))
    older_ids: list[KeyId] = []
    resolved: list[_Scope] = []
    for seller, marketplace in scopes:
        live = sorted(
            (k for k in keys.live_keys(seller, marketplace) if k.kind is KeyKind.INDEX),
            key=lambda k: k.serial,
        )
        older_ids += live[:-1]
        resolved.append(
            _Scope(
                seller,
                marketplace,
                tuple(keys.get(k).secret for k in live[:-1]),
                keys.get(live[-1]).secret,
            )
        )
    last = 0
    while True:
        with sessions.begin() as session:
            contacts = list(
                session.scalars(
                    select(Contact)
                    .where(
                        Contact.id > last,
                        Contact.pii_redacted_at.is_(None),
                        or_(Contact.email_key.is_not(None), Contact.name_key.is_not(None)),
                    )
                    .order_by(Contact.id)
                    .limit(batch_size)
                )
            )
            if not contacts:
                break
            for contact in contacts:
                _reindex(privacy, contact, resolved, result)
            last = contacts[-1].id
        if progress is not None:
            progress(result.reindexed)
    with sessions.begin() as session:
        for key_id in older_ids:
            if destroy_key(keys, session, key_id, actor=actor, clock=clock, reason="index key rotated"):
                result.destroyed.append(str(key_id))
    return result


def _reindex(privacy: Privacy, contact: Contact, scopes: list[_Scope], result: IndexRotation) -> None:
    def opened(name: str) -> str | None:
        return open_sealed(privacy, getattr(contact, name), table="contacts", ref=contact.pii_ref, name=name)

    changed = False
    for column, kind, value in (
        ("email_key", IndexKind.EMAIL, opened("email")),
        ("name_key", IndexKind.NAME, contact_name(*(opened(name) for name in _NAME_PARTS))),
    ):
        stored = getattr(contact, column)
        if stored is None or value is None:
            continue
        fresh = _recompute(kind, value, stored, scopes)
        if fresh is None:
            result.unexplained += 1
        elif fresh != stored:
            setattr(contact, column, fresh)
            changed = True
    result.reindexed += changed


def _recompute(kind: IndexKind, value: str, stored: str, scopes: list[_Scope]) -> str | None:
    """The value under its scope's current key, found by which older (or current) key made `stored`."""
    try:
        normal = normalise(kind, value)
    except NothingToIndexError:
        return None
    for scope in scopes:
        current = index_with(scope.current, kind, normal).hex()
        if current == stored:
            return stored
        if any(index_with(secret, kind, normal).hex() == stored for secret in scope.older):
            return current
    return None
