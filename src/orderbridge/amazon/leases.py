"""Leases: a row per named job (e.g. one account's order sync) so that two runners never run it at once.

A lease has a holder and an expiry; a holder renews it while it works, and a runner that died simply
lets it expire. Every change is one short transaction, so this works the same on SQLite and PostgreSQL
and across processes and machines sharing the store.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy import String, insert, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from orderbridge.book.types import UtcDateTime
from orderbridge.clock import Clock
from orderbridge.db import Base
from orderbridge.errors import OrderbridgeError

DEFAULT_TTL = timedelta(minutes=10)
RELEASED = datetime(2000, 1, 1, tzinfo=UTC)  # the expiry of a released lease


class LeaseHeld(OrderbridgeError):
    """Another runner holds the lease; the message names the lease, never anything else."""


class Lease(Base):
    __tablename__ = "job_leases"
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    holder: Mapped[str] = mapped_column(String(120))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    acquired_at: Mapped[datetime] = mapped_column(UtcDateTime())


def new_holder() -> str:
    """A name for this runner: host, process and a random part (a restarted process is a new holder)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def try_acquire(
    sessions: sessionmaker[Session], name: str, holder: str, *, clock: Clock, ttl: timedelta = DEFAULT_TTL
) -> bool:
    """Take the lease if it is free, expired or already ours (then renewed); False if someone holds it."""
    now = clock()
    with sessions.begin() as session:
        taken = session.execute(
            update(Lease)
            .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
            .values(holder=holder, expires_at=now + ttl, acquired_at=now)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            return True
    try:
        with sessions.begin() as session:
            session.execute(
                insert(Lease).values(name=name, holder=holder, expires_at=now + ttl, acquired_at=now)
            )
        return True
    except IntegrityError:
        return False


def renew(
    sessions: sessionmaker[Session], name: str, holder: str, *, clock: Clock, ttl: timedelta = DEFAULT_TTL
) -> None:
    """Push the expiry on; LeaseHeld if the lease was lost (expired and taken by another runner)."""
    if not try_acquire(sessions, name, holder, clock=clock, ttl=ttl):
        raise LeaseHeld(f"lease {name}: lost to another runner")


def release(sessions: sessionmaker[Session], name: str, holder: str) -> None:
    """Free the lease by expiring it (the row stays, so the next runner takes it with one UPDATE rather
    than an UPDATE that finds nothing and an INSERT). The expiry is long past on every clock: runners
    whose clocks differ by a few milliseconds must not see it as still held."""
    with sessions.begin() as session:
        session.execute(
            update(Lease)
            .where(Lease.name == name, Lease.holder == holder)
            .values(expires_at=RELEASED)
            .execution_options(synchronize_session=False)
        )


@contextmanager
def held(
    sessions: sessionmaker[Session], name: str, *, clock: Clock, ttl: timedelta = DEFAULT_TTL
) -> Iterator[str]:
    """Hold the lease for a block (LeaseHeld if another runner has it); yields the holder name."""
    holder = new_holder()
    if not try_acquire(sessions, name, holder, clock=clock, ttl=ttl):
        raise LeaseHeld(f"lease {name}: another runner holds it")
    try:
        yield holder
    finally:
        release(sessions, name, holder)
