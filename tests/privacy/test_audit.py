"""The audit log: append-only, hash-chained, free of PII (AC-17, AC-22)."""

from __future__ import annotations

import base64
import itertools
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from orderbridge.db import Base, make_engine
from orderbridge.privacy import audit
from orderbridge.privacy.errors import AuditChainError, PiiInAuditError
from orderbridge.privacy.keystore import KeyStore
from orderbridge.privacy.models import AuditAction, AuditEntry
from tests.privacy.fakes import MARKETPLACE, SELLER, CanaryBuyer, FakeClock

ORDER = "order:202-1234567-7654321"


def read(session: Session, clock: FakeClock, n: int = 1, actor: str = "user:7") -> list[AuditEntry]:
    return [
        audit.append(
            session,
            actor=actor,
            action=AuditAction.PII_READ,
            subjects=[ORDER],
            detail={"fields": "ship_name,ship_address", "purpose": "ship_label", "channel": "web", "n": i},
            clock=clock,
        )
        for i in range(n)
    ]


def reload(session: Session) -> None:
    session.commit()
    session.expire_all()


def test_ac22_the_chain_verifies(session: Session, clock: FakeClock) -> None:
    entries = read(session, clock, 5)
    reload(session)

    assert audit.verify_chain(session) == 5
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == audit.GENESIS
    assert all(later.prev_hash == earlier.hash for earlier, later in itertools.pairwise(entries))
    assert audit.head(session) == (5, entries[-1].hash)


def test_ac22_an_empty_log_verifies(session: Session) -> None:
    assert audit.verify_chain(session) == 0
    assert audit.head(session) is None


@pytest.mark.parametrize(
    "column, value",
    [
        ("actor", "user:8"),
        ("detail", {"fields": "ship_name"}),
        ("subjects", ["order:1"]),
        ("action", "sweep"),
    ],
)
def test_ac22_an_altered_entry_breaks_the_chain_there(
    session: Session, clock: FakeClock, column: str, value: object
) -> None:
    read(session, clock, 4)
    session.execute(update(AuditEntry).where(AuditEntry.seq == 3).values({column: value}))
    reload(session)

    with pytest.raises(AuditChainError, match="broken at entry 3: altered") as caught:
        audit.verify_chain(session)
    assert caught.value.seq == 3


def test_ac22_an_altered_time_breaks_the_chain(session: Session, clock: FakeClock) -> None:
    entries = read(session, clock, 2)
    session.execute(
        update(AuditEntry).where(AuditEntry.seq == 1).values(at=entries[0].at + timedelta(seconds=1))
    )
    reload(session)

    with pytest.raises(AuditChainError, match="entry 1"):
        audit.verify_chain(session)


def test_ac22_a_rewritten_entry_with_a_fresh_hash_breaks_the_link_to_the_next(
    session: Session, clock: FakeClock
) -> None:
    entries = read(session, clock, 3)
    forged = entries[1]
    forged.actor = "user:8"
    forged.hash = audit._digest(forged)
    reload(session)

    with pytest.raises(AuditChainError, match="broken at entry 3: its previous hash"):
        audit.verify_chain(session)


def test_ac22_a_deleted_entry_is_named(session: Session, clock: FakeClock) -> None:
    read(session, clock, 4)
    session.execute(delete(AuditEntry).where(AuditEntry.seq == 2))
    reload(session)

    with pytest.raises(AuditChainError, match="broken at entry 2: missing"):
        audit.verify_chain(session)


def test_ac22_a_deleted_tail_is_caught_by_an_anchor(session: Session, clock: FakeClock) -> None:
    read(session, clock, 4)
    anchor = audit.head(session)
    session.execute(delete(AuditEntry).where(AuditEntry.seq >= 3))
    reload(session)

    assert audit.verify_chain(session) == 2  # undetectable without an anchor
    with pytest.raises(AuditChainError, match="broken at entry 3: missing"):
        audit.verify_chain(session, anchor=anchor)


def test_ac22_the_chain_survives_a_round_trip_through_the_store(session: Session, clock: FakeClock) -> None:
    clock.advance(microseconds=123457)
    read(session, clock, 2)
    reload(session)
    read(session, clock, 1)
    reload(session)

    assert audit.verify_chain(session) == 3


@pytest.mark.parametrize(
    "field, kwargs",
    [
        ("actor", {"actor": "jane@example.com"}),
        ("subject", {"subjects": ["buyer:Jane Doe"]}),
        ("detail", {"detail": {"note": "called +44 7700 900123"}}),
        ("detail", {"detail": {"buyer": "qz@marketplace.amazon.de"}}),
        ("detail key", {"detail": {"Jane Doe": "x"}}),
        ("detail value", {"detail": {"blob": b"x"}}),
    ],
)
def test_ac22_the_audit_log_refuses_pii(
    session: Session, clock: FakeClock, field: str, kwargs: dict[str, object]
) -> None:
    arguments: dict[str, object] = {
        "actor": "user:7",
        "action": AuditAction.PII_READ,
        "clock": clock,
        **kwargs,
    }

    with pytest.raises(PiiInAuditError):
        audit.append(session, **arguments)  # type: ignore[arg-type]

    assert audit.head(session) is None


def test_ac17_a_key_destroyed_event_names_the_key_and_holds_no_key_bytes(
    session: Session, clock: FakeClock, keystore: KeyStore
) -> None:
    key = keystore.epoch_key(SELLER, MARKETPLACE, clock().date())
    keystore.destroy(key.key_id)

    entry = audit.append(
        session,
        actor="job:sweep",
        action=AuditAction.KEY_DESTROYED,
        subjects=[f"key:{key.key_id}"],
        detail={"epoch": str(key.key_id.day), "records": 1532},
        clock=clock,
    )

    stored = repr((entry.actor, entry.action, entry.subjects, entry.detail, entry.hash))
    assert key.secret.hex() not in stored
    assert base64.b64encode(key.secret).decode() not in stored
    assert audit.entries(session, action=AuditAction.KEY_DESTROYED, subject=f"key:{key.key_id}") == [entry]


def test_ac21_pii_reads_are_counted_for_bulk_read_alerts(
    session: Session, clock: FakeClock, canary: CanaryBuyer
) -> None:
    read(session, clock, 3, actor="user:7")
    clock.advance(hours=2)
    since = clock()
    read(session, clock, 2, actor="user:7")
    read(session, clock, 1, actor="user:9")

    assert audit.count_reads(session, actor="user:7", since=since) == 2
    assert audit.count_reads(session, actor="user:7", since=since - timedelta(days=1)) == 5
    assert len(audit.entries(session, subject=ORDER, limit=4)) == 4
    assert audit.entries(session, subject="order:other") == []
    assert canary.name not in repr([e.detail for e in audit.entries(session)])


def test_ac22_two_writers_on_the_same_head_cannot_both_append(tmp_path: Path, clock: FakeClock) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'audit.db'}")
    Base.metadata.create_all(engine, tables=[Base.metadata.tables[AuditEntry.__tablename__]])
    with Session(engine) as first:
        read(first, clock, 1)
        first.commit()
    with Session(engine) as writer_a, Session(engine) as writer_b:
        read(writer_a, clock, 1)
        writer_a.commit()
        stale = writer_b.get(AuditEntry, 1)
        assert stale is not None
        forked = AuditEntry(
            seq=2, at=clock(), actor="user:8", action="pii_read", subjects=[], detail={}, prev_hash=stale.hash
        )
        forked.hash = audit._digest(forked)
        writer_b.add(forked)
        with pytest.raises(IntegrityError):
            writer_b.commit()
    with Session(engine) as check:
        assert audit.verify_chain(check) == 2
    engine.dispose()
