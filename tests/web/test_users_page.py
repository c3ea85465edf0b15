"""The users page (admins only) and the API's name search: every change to who may do what is audited
(AC-23), a one-time password is shown once and only on the answering page, and removing or demoting a user
takes effect on their very next request, API tokens included."""

from __future__ import annotations

import re

from sqlalchemy import select

from orderbridge.privacy.models import AuditAction, AuditEntry
from orderbridge.web.passwords import password_matches
from orderbridge.web.roles import Permission
from orderbridge.web.tokens import add_token
from orderbridge.web.users import find_user, get_user
from tests.web.conftest import WebApp
from tests.web.test_pages import _book


def _audited(web: WebApp, action: AuditAction) -> list[AuditEntry]:
    with web.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == str(action))))


def _one_time_password(html: str) -> str:
    found = re.search(r'data-testid="one-time-password">([^<]+)<', html)
    assert found, html
    return found.group(1)


def test_ac23_an_admin_adds_a_user_who_gets_a_one_time_password_shown_once(web: WebApp) -> None:
    admin = web.client("admin", username="boss")
    added = admin.submit("/users", {"username": "kim", "full_name": "Kim Doe", "role": "viewer"})
    assert added.status_code == 200
    password = _one_time_password(added.text)
    assert password not in str(added.url) and "kim" in added.text
    with web.sessions() as session:
        kim = get_user(session, "kim")
        assert kim.role == "viewer" and kim.must_change_password
        assert password_matches(kim.password_hash, password)
    [entry] = _audited(web, AuditAction.USER_ADDED)
    assert entry.actor == "user:boss" and entry.subjects == ["user:kim"]
    assert password not in str(entry.detail)
    listed = admin.get("/users")
    assert listed.status_code == 200 and "kim" in listed.text and password not in listed.text

    taken = admin.submit("/users", {"username": "kim", "role": "viewer"})
    assert taken.status_code == 303 and "exists" in taken.headers["location"]
    bad = admin.submit("/users", {"username": "kim@example.com", "role": "viewer"})
    assert "e-mail" in bad.headers["location"]
    assert len(_audited(web, AuditAction.USER_ADDED)) == 1


def test_ac23_only_admins_manage_users(web: WebApp) -> None:
    operator = web.client("operator")
    assert operator.get("/users").status_code == 403
    assert operator.submit("/users", {"username": "sneaky", "role": "admin"}).status_code == 403
    with web.sessions() as session:
        assert find_user(session, "sneaky") is None
    assert "/users" not in operator.get("/orders").text  # not in the operator's navigation


def test_ac23_a_role_change_applies_on_the_next_request_and_the_last_admin_stays(web: WebApp) -> None:
    admin = web.client("admin", username="boss")
    operator = web.client("operator", username="olly")
    order_id, _ = _book(web)
    assert operator.get(f"/api/v1/orders/{order_id}/addresses").status_code == 200

    changed = admin.submit("/users/olly/role", {"role": "viewer"})
    assert changed.status_code == 303 and "olly+is+now+viewer" in changed.headers["location"]
    assert operator.get(f"/api/v1/orders/{order_id}/addresses").status_code == 403
    [entry] = _audited(web, AuditAction.USER_ROLE_CHANGED)
    assert entry.detail == {"before": "operator", "after": "viewer"}

    last = admin.submit("/users/boss/role", {"role": "viewer"})
    assert "last+admin" in last.headers["location"]
    with web.sessions() as session:
        assert get_user(session, "boss").role == "admin"


def test_ac23_a_reset_ends_the_users_sessions_and_a_removal_stops_their_tokens(web: WebApp) -> None:
    admin = web.client("admin", username="boss")
    operator = web.client("operator", username="olly")
    with web.sessions.begin() as session:
        secret, _ = add_token(
            session,
            get_user(session, "olly"),
            name="script",
            scopes=frozenset({Permission.ORDERS_READ}),
            clock=web.clock,
        )
    script = web.token_client(secret)
    assert script.get("/api/v1/orders").status_code == 200

    reset = admin.submit("/users/olly/reset", {"authenticator": "yes"})
    assert reset.status_code == 200
    new_password = _one_time_password(reset.text)
    assert operator.get("/orders", follow_redirects=False).status_code == 303  # signed out
    with web.sessions() as session:
        olly = get_user(session, "olly")
        assert password_matches(olly.password_hash, new_password) and olly.totp_secret is None
    [entry] = _audited(web, AuditAction.USER_PASSWORD_RESET)
    assert entry.detail == {"authenticator": True} and new_password not in str(entry.detail)

    assert "yourself" in admin.submit("/users/boss/remove").headers["location"]
    assert admin.submit("/users/olly/remove").status_code == 303
    assert script.get("/api/v1/orders").status_code == 401
    assert [e.subjects for e in _audited(web, AuditAction.USER_REMOVED)] == [["user:olly"]]


def test_an_admin_revokes_an_api_token_from_the_page(web: WebApp) -> None:
    admin = web.client("admin", username="boss")
    with web.sessions.begin() as session:
        secret, token = add_token(
            session,
            get_user(session, "boss"),
            name="shipping script",
            scopes=frozenset({Permission.ORDERS_READ}),
            clock=web.clock,
        )
        public_id = token.public_id
    assert public_id in admin.get("/users").text
    script = web.token_client(secret)
    assert script.get("/api/v1/orders").status_code == 200
    assert admin.submit(f"/tokens/{public_id}/revoke").status_code == 303
    assert script.get("/api/v1/orders").status_code == 401
    assert admin.submit(f"/tokens/{public_id}/revoke").status_code == 303  # again: nothing more
    [entry] = _audited(web, AuditAction.TOKEN_REVOKED)
    assert entry.detail == {"token": public_id} and entry.subjects == ["user:boss"]


def test_p7_the_api_finds_orders_by_buyer_name_only_with_pii_read_and_audits_it(web: WebApp) -> None:
    order_id, _ = _book(web)
    before = len(_audited(web, AuditAction.PII_READ))
    found = web.client("operator").api("GET", "/api/v1/orders", params={"name": "Ann Buyer"})
    assert found.status_code == 200
    assert [o["id"] for o in found.json()["items"]] == [order_id]
    nobody = web.client("operator").api("GET", "/api/v1/orders", params={"name": "No Such Person"})
    assert nobody.json()["items"] == []
    searches = _audited(web, AuditAction.PII_READ)[before:]
    assert [e.detail["purpose"] for e in searches] == ["order_search_by_name"] * 2

    refused = web.client("viewer").api("GET", "/api/v1/orders", params={"name": "Ann Buyer"})
    assert refused.status_code == 403 and "pii:read" in refused.text and "query.name" in refused.text
