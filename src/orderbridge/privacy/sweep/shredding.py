"""Destroying keys: epoch keys nothing live uses any more, open keys once rolled and emptied (AC-17)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import literal, select
from sqlalchemy.orm import Session

from orderbridge.privacy.key_lifecycle import destroy_key
from orderbridge.privacy.keystore import KeyId, KeyKind
from orderbridge.privacy.sealing import LOCAL_MARKETPLACE
from orderbridge.privacy.sweep.context import SweepContext, SweepReport
from orderbridge.privacy.sweep.forgetting import swept_models
from orderbridge.privacy.sweep.rekeying import rekey

# §3.4: an open key (records not due yet) rolls this often, and the one before it is destroyed at the next
# sweep once its records are re-keyed. Ciphertext an open key sealed (in the WAL, dumps and backups, also
# of records since re-keyed to an epoch) thus dies at most about a week after it was replaced, well
# inside the retention period of anything it sealed.
OPEN_KEY_DAYS = 7


def destroy_epoch_keys(run: SweepContext, now: datetime, report: SweepReport) -> None:
    """Shred every epoch key up to today that no unredacted record still uses (§3.4, AC-17)."""
    today = now.date()
    for key_id in run.privacy.keys.live_epochs():
        if key_id.day is None or key_id.day > today:
            continue
        with run.transaction() as session:
            if in_use(session, key_id):
                report.keys_kept.append(str(key_id))
                continue
            destroy_key(run.privacy.keys, session, key_id, actor=run.actor, clock=run.clock)
            report.keys_destroyed.append(str(key_id))


def roll_open_keys(run: SweepContext, now: datetime, report: SweepReport) -> None:
    """§3.4: re-key what older open keys of Amazon scopes still seal and destroy them; roll old ones.

    A key rolled in this sweep is re-keyed and destroyed by the next one, so that a writer that
    fetched it just before the roll has committed by then (its records are found and re-keyed).
    Non-Amazon scopes keep their open key (P8: not Amazon data, nothing falls due).
    """
    keys = run.privacy.keys
    scopes: dict[tuple[str, str], list[KeyId]] = {}
    for key_id in keys.live_keys():
        if key_id.kind is KeyKind.OPEN and key_id.marketplace != LOCAL_MARKETPLACE:
            scopes.setdefault((key_id.seller, key_id.marketplace), []).append(key_id)
    for (seller, marketplace), found in scopes.items():
        current = max(found, key=lambda key_id: key_id.serial)
        for older in sorted(set(found) - {current}):
            report.rekeyed += rekey(run, older)
            with run.transaction() as session:
                if in_use(session, older):
                    report.keys_kept.append(str(older))
                    continue
                destroy_key(keys, session, older, actor=run.actor, clock=run.clock, reason="open key rolled")
                report.keys_destroyed.append(str(older))
        created = keys.created_at(current)
        if created is None or created <= now - timedelta(days=OPEN_KEY_DAYS):
            rolled = keys.roll_open_key(seller, marketplace).key_id
            report.keys_rolled.append(str(rolled))


def in_use(session: Session, key_id: KeyId) -> bool:
    """Whether any unredacted record is still sealed under `key_id`."""
    for model in swept_models():
        found = session.scalar(
            select(literal(1)).where(model.pii_key == str(key_id), model.pii_redacted_at.is_(None)).limit(1)
        )
        if found is not None:
            return True
    return False
