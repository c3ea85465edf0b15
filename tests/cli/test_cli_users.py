"""`orderbridge users` and `orderbridge tokens`: the first admin, one-time passwords, scoped tokens."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.db import make_engine
from orderbridge.privacy.models import AuditEntry
from orderbridge.web.passwords import use_hasher
from tests.cli.conftest import Run
from tests.conftest import STORES

pytestmark = pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)


@pytest.fixture(autouse=True)
def cheap_password_hashing() -> Iterator[None]:
    """argon2id at its cheapest: the test proves the commands, not the hash's cost."""
    use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    use_hasher(PasswordHasher())


def test_ac23_first_admin_one_time_password_tokens_and_removal(run: Run) -> None:
    added = run("users", "add", "jsmith", "--role", "admin", "--full-name", "Jane Smith")
    assert added.exit_code == 0, added.output
    assert "one-time password" in added.output
    assert re.search(r"^\s{4}\S{16}$", added.output, re.MULTILINE)
    assert run("users", "add", "jsmith").exit_code == 1
    assert "unknown role" in run("users", "add", "kim", "--role", "boss").output
    run("users", "add", "kim", "--role", "viewer")
    listed = run("users", "list")
    assert "jsmith" in listed.output and "viewer" in listed.output

    token = run("tokens", "add", "kim", "--name", "report script")
    assert token.exit_code == 0, token.output
    assert "pii:read" not in token.output and "orders:read" in token.output
    assert re.search(r"obt_[0-9a-f]{12}_\S+", token.output)
    beyond = run("tokens", "add", "kim", "--name", "x", "--scope", "pii:read")
    assert beyond.exit_code == 1 and "may not grant pii:read" in beyond.output
    public_id = re.search(r"token ([0-9a-f]{12}) for kim", token.output)
    assert public_id
    assert run("tokens", "revoke", public_id.group(1)).exit_code == 0
    assert "revoked" in run("tokens", "list").output

    assert run("users", "role", "kim", "operator").exit_code == 0
    [kim_row] = [line for line in run("users", "list").output.splitlines() if " kim " in line]
    assert "operator" in kim_row
    assert "already has the role" in run("users", "role", "kim", "operator").output
    assert "last admin" in run("users", "role", "jsmith", "viewer").output
    reset = run("users", "reset-password", "kim")
    assert reset.exit_code == 0 and "one-time password for kim" in reset.output
    assert run("users", "remove", "kim").exit_code == 0
    assert "kim" not in run("users", "list").output
    assert "last admin" in run("users", "remove", "jsmith").output


def test_ac23_user_and_token_changes_from_the_cli_are_in_the_audit_log(run: Run, store_url: str) -> None:
    run("users", "add", "jsmith", "--role", "admin")
    run("users", "add", "kim", "--role", "viewer")
    token = run("tokens", "add", "kim", "--name", "report script")
    public_id = re.search(r"token ([0-9a-f]{12}) for kim", token.output)
    assert public_id
    run("tokens", "revoke", public_id.group(1))
    run("users", "role", "kim", "operator")
    run("users", "reset-password", "kim")
    run("users", "remove", "kim")
    engine = make_engine(store_url)
    with Session(engine) as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.seq)).all()
        trail = [(e.action, e.subjects) for e in entries if e.action.startswith(("user_", "token_"))]
        assert all(e.actor.startswith("cli:") for e in entries)
    engine.dispose()
    assert trail == [
        ("user_added", ["user:jsmith"]),
        ("user_added", ["user:kim"]),
        ("token_added", ["user:kim"]),
        ("token_revoked", ["user:kim"]),
        ("user_role_changed", ["user:kim"]),
        ("user_password_reset", ["user:kim"]),
        ("user_removed", ["user:kim"]),
    ]
