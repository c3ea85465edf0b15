"""The rows an account's first pass needs (default statuses, a channel per marketplace) are created on
first use without a race between runners: a runner that loses inserts nothing and reads the winner's."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.channel import (
    StoredChannelSettings,
    channel_code,
    channel_for,
    resolve,
    settings_for,
    with_no_email_contact,
)
from orderbridge.amazon.orders.first_use import ensure_first_use_rows
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.contacts import Contact
from orderbridge.book.orders.model import OrderStatus
from orderbridge.book.orders.statuses import DEFAULT_STATUSES, ensure_default_statuses
from orderbridge.db import make_engine, session_factory
from tests.conftest import NOW

US, UK = "ATVPDKIKX0DER", "A1F83G8C2ARO7P"


def test_first_use_rows_are_what_the_lookups_would_create_and_made_once(session: Session) -> None:
    # when: the first-use rows are made twice over
    ensure_first_use_rows(session, [US, UK])
    ensure_first_use_rows(session, [UK, US])
    session.flush()
    # then: each default status once, in the default order
    rows = session.execute(select(OrderStatus.name, OrderStatus.is_cancelled).order_by(OrderStatus.position))
    assert [tuple(row) for row in rows] == list(DEFAULT_STATUSES)
    # and: one Amazon channel per marketplace, the one channel_for finds (it creates nothing more)
    channels = session.scalars(select(Channel).where(Channel.kind == ChannelKind.AMAZON)).all()
    assert sorted(c.code for c in channels) == ["amazon-uk", "amazon-us"]
    assert channel_for(session, US).code == channel_code(US) == "amazon-us"
    assert session.scalar(select(func.count()).select_from(Channel)) == 2
    # and: each with its settings row (the defaults), so a first save of settings updates it
    stored = session.scalars(select(StoredChannelSettings)).all()
    assert sorted(row.channel_id for row in stored) == sorted(c.id for c in channels)
    assert all(row.document == {} for row in stored)


def test_a_seller_s_own_channel_and_statuses_are_kept(session: Session) -> None:
    # given: the seller named the US channel themselves and renamed a default status's neighbour
    session.add(Channel(code="my-us-shop", name="US", kind=ChannelKind.AMAZON, marketplace_id=US))
    session.add(OrderStatus(name="Awaiting stock", is_cancelled=False, position=9))
    session.flush()
    # when
    ensure_first_use_rows(session, [US])
    session.flush()
    # then: no second US channel, and the seller's status stays beside the defaults
    assert session.scalars(select(Channel.code).where(Channel.marketplace_id == US)).all() == ["my-us-shop"]
    names = set(session.scalars(select(OrderStatus.name)))
    assert names == {name for name, _ in DEFAULT_STATUSES} | {"Awaiting stock"}


def _race(sessions: sessionmaker[Session], make: Callable[[Session], None], url: str) -> BaseException | None:
    """Runner A makes the rows and holds its transaction open; runner B makes them meanwhile (and must
    wait on A's rows); A commits. Returns what B raised, if anything."""
    engine = make_engine(url)
    try:
        waiting = (
            select(func.count())
            .select_from(text("pg_stat_activity"))
            .where(text("wait_event_type = 'Lock' AND datname = current_database()"))
        )
        failure: list[BaseException] = []

        def runner_b() -> None:
            try:
                with sessions.begin() as session:
                    make(session)
            except BaseException as error:
                failure.append(error)

        with sessions.begin() as first:
            make(first)
            first.flush()
            second = threading.Thread(target=runner_b)
            second.start()
            deadline = time.monotonic() + 30
            with engine.connect() as watch:
                while not watch.execute(waiting).scalar() and second.is_alive():
                    assert time.monotonic() < deadline, "runner B never waited on runner A's rows"
                    time.sleep(0.05)
        second.join(timeout=30)
        return failure[0] if failure else None
    finally:
        engine.dispose()


@pytest.mark.parametrize("fresh_store_url", ["postgresql"], indirect=True)
def test_two_runners_making_first_use_rows_at_once_both_succeed(fresh_store_url: str) -> None:
    engine = make_engine(fresh_store_url)
    sessions = session_factory(engine)
    try:
        # given (the race is real): the plain lookups, racing, fail the second runner on a duplicate
        def lookups(session: Session) -> None:
            ensure_default_statuses(session)
            channel_for(session, US)

        assert isinstance(_race(sessions, lookups, fresh_store_url), IntegrityError)
        with sessions.begin() as session:
            session.execute(text("DELETE FROM amazon_channel_settings"))
            session.execute(text("DELETE FROM channels"))
            session.execute(text("DELETE FROM order_statuses"))
        # when: both make them with ensure_first_use_rows
        raised = _race(sessions, lambda s: ensure_first_use_rows(s, [US, UK]), fresh_store_url)
        # then: the second runner did not fail, and every row exists once
        assert raised is None
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(OrderStatus)) == len(DEFAULT_STATUSES)
            assert sorted(session.scalars(select(Channel.code))) == ["amazon-uk", "amazon-us"]
            assert session.scalar(select(func.count()).select_from(StoredChannelSettings)) == 2
    finally:
        engine.dispose()


@pytest.mark.parametrize("fresh_store_url", ["postgresql"], indirect=True)
def test_c4_two_runners_needing_the_no_email_contact_at_once_make_one(fresh_store_url: str) -> None:
    engine = make_engine(fresh_store_url)
    sessions = session_factory(engine)
    try:
        with sessions.begin() as session:
            ensure_first_use_rows(session, [US])
        made: list[int] = []

        def need_contact(session: Session) -> None:
            channel = channel_for(session, US)
            book = with_no_email_contact(session, channel, resolve(session, channel), now=NOW)
            assert book.no_email_contact_id is not None
            made.append(book.no_email_contact_id)

        # when: runner B needs the contact while runner A has just made it, uncommitted
        assert _race(sessions, need_contact, fresh_store_url) is None
        # then: B waited and took A's contact; one such contact exists, and the settings name it
        assert len(made) == 2 and made[0] == made[1]
        with sessions() as session:
            tagged = session.scalars(select(Contact).where(Contact.company_name.like("%without an e-mail%")))
            assert [contact.id for contact in tagged] == [made[0]]
            assert settings_for(session, channel_for(session, US)).no_email_contact_id == made[0]
    finally:
        engine.dispose()
