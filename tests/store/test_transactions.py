"""How transactions take the store's lock: a writing one takes SQLite's write lock when it begins (BEGIN
IMMEDIATE) and so waits its turn instead of failing with "database is locked"; a reading one waits for no
writer and the store refuses it any write; what a read must write goes beside it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.db import (
    kept_whatever_happens,
    make_engine,
    reading,
    session_factory,
    transaction,
    writes_beside,
)
from tests.conftest import STORES


@pytest.fixture
def book(fresh_store_url: str) -> Iterator[tuple[Engine, sessionmaker[Session]]]:
    engine = make_engine(fresh_store_url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE counters (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counters (id, n) VALUES (1, 0), (2, 0)"))
    yield engine, session_factory(engine)
    engine.dispose()


def _count(sessions: sessionmaker[Session], row: int) -> int:
    with reading(sessions) as session:
        return int(session.execute(text("SELECT n FROM counters WHERE id = :id"), {"id": row}).scalar_one())


def _add_one(session: Session, row: int) -> None:
    """Read, then write: the shape of a sign-in, a shipment, a reveal's audit."""
    n = session.execute(text("SELECT n FROM counters WHERE id = :id"), {"id": row}).scalar_one()
    session.execute(text("UPDATE counters SET n = :n WHERE id = :id"), {"n": n + 1, "id": row})


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_a_writer_that_reads_first_waits_for_the_write_lock_instead_of_failing(
    book: tuple[Engine, sessionmaker[Session]],
) -> None:
    """One connection holds SQLite's write lock; another transaction reads, then writes. With a deferred
    BEGIN its lock upgrade is refused at once ("database is locked", no busy wait); with BEGIN IMMEDIATE
    it waits at BEGIN for the first to commit, then succeeds. The holder lets go as soon as the other
    has begun (BEGIN IMMEDIATE) or is about to write (a deferred BEGIN): no sleeps, no timings."""
    engine, sessions = book
    begun = threading.Event()

    def watch(dbapi_connection: Any, _record: Any) -> None:
        def started(statement: str) -> None:
            if threading.current_thread().name == "second-writer" and (
                statement.startswith("BEGIN IMMEDIATE") or statement.startswith("UPDATE")
            ):
                begun.set()

        dbapi_connection.set_trace_callback(started)

    event.listen(engine, "connect", watch)
    engine.dispose()  # new connections carry the watch
    failures: list[BaseException] = []

    def second_writer() -> None:
        try:
            with transaction(sessions) as session:
                _add_one(session, 1)
        except BaseException as error:  # reported to the test's thread
            failures.append(error)
            begun.set()

    with transaction(sessions) as holder:
        _add_one(holder, 2)  # holds the write lock from here to the end of the block
        thread = threading.Thread(target=second_writer, name="second-writer")
        thread.start()
        assert begun.wait(timeout=60)
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert failures == []
    assert (_count(sessions, 1), _count(sessions, 2)) == (1, 1)


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_a_reading_transaction_is_refused_every_write_by_the_store(
    book: tuple[Engine, sessionmaker[Session]],
) -> None:
    _engine, sessions = book
    with pytest.raises(DBAPIError), reading(sessions) as session:
        session.execute(text("UPDATE counters SET n = 5 WHERE id = 1"))
    assert _count(sessions, 1) == 0
    with transaction(sessions) as session:  # the connection goes back to the pool able to write
        session.execute(text("UPDATE counters SET n = 7 WHERE id = 1"))
    assert _count(sessions, 1) == 7


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_a_reading_transaction_waits_for_no_writer(
    book: tuple[Engine, sessionmaker[Session]], fresh_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A writer holds the lock (a long import's chunk, a sync): a page's read goes ahead at once. With a
    short busy timeout, a read that took the write lock would fail here instead of waiting."""
    engine = make_engine(fresh_store_url, busy_timeout_ms=200)
    sessions = session_factory(engine)
    try:
        with transaction(sessions) as holder:
            _add_one(holder, 1)
            assert _count(sessions, 1) == 0  # the committed state, not the writer's
        assert _count(sessions, 1) == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_writes_beside_a_read_are_committed_on_their_own(
    book: tuple[Engine, sessionmaker[Session]],
) -> None:
    """What a read must write (a reveal's audit entry, a session's last seen time) is committed in a
    short writing transaction of its own, kept even when the request then fails; nested blocks share it."""
    _engine, sessions = book
    with pytest.raises(RuntimeError), reading(sessions) as session:
        with writes_beside(session) as writing:
            _add_one(writing, 1)
            with writes_beside(session) as inner:
                assert inner is writing
        raise RuntimeError("the page failed after the audit entry")
    assert _count(sessions, 1) == 1
    with transaction(sessions) as session, writes_beside(session) as same:
        assert same is session  # a writing transaction writes in itself


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_what_is_kept_whatever_happens_survives_the_rollback_of_a_writing_transaction(
    book: tuple[Engine, sessionmaker[Session]],
) -> None:
    _engine, sessions = book
    with pytest.raises(RuntimeError), transaction(sessions) as session:
        _add_one(session, 2)  # rolled back
        kept_whatever_happens(session, lambda writing: _add_one(writing, 1))
        raise RuntimeError("refused")
    assert (_count(sessions, 1), _count(sessions, 2)) == (1, 0)
