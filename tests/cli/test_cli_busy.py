"""A command that waits for another writer past the busy timeout ends with one clear line and exit 1."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from orderbridge.cli import context
from orderbridge.db import BUSY_MESSAGE, make_engine, session_factory, transaction
from orderbridge.web.users import get_user
from tests.cli.conftest import Run
from tests.conftest import STORES

pytestmark = pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)


def test_a_command_refused_by_a_busy_book_says_so_in_one_line_and_exits_1(
    run: Run, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERBRIDGE_BUSY_TIMEOUT_SECONDS", "0.02")
    context.forget()  # the next command reads the short busy timeout
    other = make_engine(store_url)
    try:
        with transaction(session_factory(other)) as holder:  # `orderbridge run` is writing
            if store_url.startswith("sqlite"):
                holder.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: the write lock is held from here
            else:
                holder.execute(text("LOCK TABLE web_users IN EXCLUSIVE MODE"))
            busy = run("users", "add", "kim", "--role", "viewer")
    finally:
        other.dispose()
    assert busy.exit_code == 1, busy.output
    lines = busy.output.strip().splitlines()
    assert len(lines) == 1 and BUSY_MESSAGE in lines[0], busy.output
    assert "Traceback" not in busy.output and "OperationalError" not in busy.output
    added = run("users", "add", "kim", "--role", "viewer")  # the same command, once the book is free
    assert added.exit_code == 0, added.output
    with session_factory(context.engine()).begin() as session:
        assert get_user(session, "kim").role == "viewer"


def test_listings_and_reports_read_while_the_book_is_busy(
    run: Run, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Commands that only read wait for no writer: with a job writing, they answer at once."""
    assert run("users", "add", "kim", "--role", "viewer").exit_code == 0
    monkeypatch.setenv("ORDERBRIDGE_BUSY_TIMEOUT_SECONDS", "0.02")
    context.forget()
    other = make_engine(store_url)
    try:
        with transaction(session_factory(other)) as holder:
            if store_url.startswith("sqlite"):
                holder.execute(text("SELECT 1"))
            else:
                holder.execute(text("LOCK TABLE web_users, sales_orders, products IN EXCLUSIVE MODE"))
            answers = {
                " ".join(args): run(*args)
                for args in (
                    ("users", "list"),
                    ("orders", "list"),
                    ("products", "list"),
                    ("warehouses", "list"),
                    ("stock", "list"),
                    ("accounts", "list"),
                    ("outbox", "list"),
                    ("reports", "list"),
                    ("settlements", "list"),
                )
            }
    finally:
        other.dispose()
    assert {name: a.exit_code for name, a in answers.items() if a.exit_code != 0} == {}, {
        name: a.output for name, a in answers.items() if a.exit_code != 0
    }
    assert "kim" in answers["users list"].output
