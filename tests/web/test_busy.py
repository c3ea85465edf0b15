"""A change that waits for another writer past the busy timeout answers a clear 503, never a 500.

Another connection holds the lock the request needs (SQLite's write lock; on PostgreSQL the tables the
request writes); the app's busy timeout is a few milliseconds, so nothing sleeps and nothing is timed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from orderbridge.db import BUSY_MESSAGE, make_engine, session_factory, transaction
from orderbridge.web.roles import Permission
from orderbridge.web.tokens import add_token
from orderbridge.web.users import get_user
from tests.web.conftest import WebApp


@pytest.fixture
def busy_timeout_ms() -> int:
    return 20


@contextmanager
def write_lock_held(web: WebApp) -> Iterator[None]:
    """Another connection (a job, an import) is writing and holds the lock until the block ends."""
    url = web.settings.store_url
    engine = make_engine(url)
    try:
        with transaction(session_factory(engine)) as holder:
            if web.store == "sqlite":
                holder.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held from here
            else:
                holder.execute(text("LOCK TABLE web_users, web_api_tokens IN EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


def test_a_form_sent_while_the_book_is_busy_answers_503_and_changes_nothing(web: WebApp) -> None:
    admin = web.client("admin", username="boss")
    web.add_user("olly", "operator")
    with write_lock_held(web):
        busy = admin.submit("/users/olly/role", {"role": "viewer"})
    assert busy.status_code == 503
    assert busy.headers["Retry-After"].isdigit()
    assert BUSY_MESSAGE in busy.text and "internal error" not in busy.text
    with web.sessions.begin() as session:
        assert get_user(session, "olly").role == "operator"  # nothing half-written
    again = admin.submit("/users/olly/role", {"role": "viewer"})  # the same click, once the lock is free
    assert again.status_code == 303
    with web.sessions.begin() as session:
        assert get_user(session, "olly").role == "viewer"


def test_an_api_call_while_the_book_is_busy_answers_503_with_retry_after(web: WebApp) -> None:
    user = web.add_user("ada", "operator")
    with web.sessions.begin() as session:
        token, _ = add_token(
            session,
            session.merge(user),
            name="script",
            scopes=frozenset({Permission.ORDERS_READ, Permission.ORDERS_WRITE}),
            clock=web.clock,
        )
    client = web.token_client(token)
    with write_lock_held(web):
        busy = client.post("/api/v1/quarantine/retry", json={"account_id": 1})
    assert busy.status_code == 503
    assert busy.headers["Retry-After"].isdigit()
    assert busy.json()["error"]["code"] == "busy"
    assert busy.json()["error"]["message"] == BUSY_MESSAGE
    assert client.post("/api/v1/quarantine/retry", json={"account_id": 1}).status_code == 404
