"""Security of the web app: sign-in on every route, CSRF, PII only with pii:read and audited (AC-21)."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.routing import Mount

from orderbridge.privacy.models import AuditAction, AuditEntry
from orderbridge.web.app import route_table
from orderbridge.web.deps import CSRF_COOKIE, PUBLIC_MARK, PUBLIC_PATHS
from tests.book.builders import make_book
from tests.web.conftest import WebApp

# Answer without a session (the other public paths send you to /login).
OPEN = {"/login", "/health", "/healthz"}


def _routes(web: WebApp) -> list[tuple[str, str]]:
    found = []
    for path, methods, route in route_table(web.app):
        if isinstance(route, Mount):
            assert path == "/static", f"unexpected mount {path}: is it behind sign-in?"
            continue
        found.extend((method, path) for method in sorted(methods or {"GET"}) if method != "HEAD")
    return found


def test_ac21_no_route_is_reachable_without_sign_in_except_login_and_health(web: WebApp) -> None:
    # given: every route the app has now, including any added later (walked, not listed)
    routes = _routes(web)
    assert len(routes) > 20
    anonymous = web.anonymous()
    anonymous.get("/login")  # holds a CSRF cookie, so unsafe requests get past CSRF to sign-in
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", "1", path)
        # when: nobody is signed in
        answer = anonymous.request(method, url, follow_redirects=False, data={"csrf_token": "x"})
        # then: only the login page and health check answer; the rest want a sign-in
        if path in OPEN and method == "GET":
            assert answer.status_code == 200, (method, path)
        elif path.startswith("/api/"):
            assert answer.status_code == 401, (method, path, answer.status_code)
            assert answer.json()["error"]["code"] == "unauthorized"
        elif path in PUBLIC_PATHS:
            assert answer.status_code in (303, 403), (method, path, answer.status_code)
            if answer.status_code == 303:
                assert answer.headers["location"].startswith("/login"), (method, path)
        else:
            assert answer.status_code == 303, (method, path, answer.status_code)
            assert answer.headers["location"].startswith("/login?next="), (method, path)


def test_only_sign_in_steps_and_health_are_marked_public(web: WebApp) -> None:
    marked = {
        path
        for path, _, route in route_table(web.app)
        if getattr(getattr(route, "endpoint", None), PUBLIC_MARK, False)
    }
    assert marked == PUBLIC_PATHS


def test_every_api_route_checks_a_permission(web: WebApp) -> None:
    open_to_any_user = {"/api/v1/me", "/api/v1/openapi.json", "/api/v1/docs", "/api/v1/contacts/{contact_id}"}
    checked = 0
    for path, _, route in route_table(web.app):
        if isinstance(route, APIRoute) and path.startswith("/api/") and path not in open_to_any_user:
            names = [d.call.__name__ for d in route.dependant.dependencies if d.call is not None]
            assert any(name.startswith("require_") for name in names), path
            checked += 1
    assert checked >= 10


def test_a_removed_users_token_or_an_unknown_token_gets_401(web: WebApp) -> None:
    answer = web.token_client("obt_000000000000_nope").get("/api/v1/me")
    assert answer.status_code == 401


def test_csrf_is_enforced_on_forms_and_api(web: WebApp) -> None:
    operator = web.client("operator")
    # a form without the session's token is refused; with it, it goes through
    assert operator.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert operator.post("/logout", data={"csrf_token": "forged"}, follow_redirects=False).status_code == 403
    # the API through a browser session needs the X-CSRF-Token header
    refused = operator.post("/api/v1/orders/1/ship", json={"reference": "r1"})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "csrf"
    assert refused.json()["error"]["fields"][0]["field"] == "header.X-CSRF-Token"
    assert operator.api("POST", "/api/v1/orders/1/ship", json={"reference": "r1"}).status_code == 404
    assert operator.submit("/logout").status_code == 303
    # the login form itself carries a double-submit token
    anonymous = web.anonymous()
    assert anonymous.post("/login", data={"username": "x", "password": "y"}).status_code == 403
    anonymous.get("/login")
    token = anonymous.cookies.get(CSRF_COOKIE)
    assert token
    answer = anonymous.post("/login", data={"username": "x", "password": "y", "csrf_token": token})
    assert answer.status_code == 401


def _order_with_buyer(web: WebApp) -> tuple[int, int]:
    with web.sessions.begin() as session:
        book = make_book(session)
        order = book.order("202-0000001-0000001", [("A", 1)])
        return order.id, book.contact.id


def _audit(web: WebApp, action: AuditAction) -> list[AuditEntry]:
    with web.sessions() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action.value)))


def test_ac21_a_viewers_requests_for_pii_are_refused_and_audited(web: WebApp) -> None:
    order_id, contact_id = _order_with_buyer(web)
    viewer = web.client("viewer")
    # when: the viewer asks for the buyer's address
    refused = viewer.get(f"/api/v1/orders/{order_id}/addresses")
    # then: refused, and the refusal is in the audit log without any PII
    assert refused.status_code == 403
    assert "pii:read" in refused.json()["error"]["message"]
    (denied,) = _audit(web, AuditAction.ACCESS_DENIED)
    assert denied.actor == f"user:{viewer.username}"
    assert denied.detail["permission"] == "pii:read"
    assert "Ann" not in str(denied.detail) + str(denied.subjects)
    # and a contact shows masked buyer data, with nothing decrypted or audited as read
    contact = viewer.get(f"/api/v1/contacts/{contact_id}").json()
    assert contact["pii_visible"] is False
    assert contact["pii"]["first_name"] == "hidden"
    assert "Ann" not in str(contact)
    assert _audit(web, AuditAction.PII_READ) == []


def test_ac21_an_operators_pii_read_is_audited_without_values(web: WebApp) -> None:
    order_id, contact_id = _order_with_buyer(web)
    operator = web.client("operator")
    shown = operator.get(f"/api/v1/orders/{order_id}/addresses").json()
    assert shown["fields"]["delivery_name"] == "Ann Buyer"
    contact = operator.get(f"/api/v1/contacts/{contact_id}").json()
    assert contact["pii"]["first_name"] == "Ann"
    reads = _audit(web, AuditAction.PII_READ)
    assert [entry.subjects for entry in reads] == [[f"order:{order_id}"], [f"contact:{contact_id}"]]
    for entry in reads:
        assert entry.actor == f"user:{operator.username}"
        assert entry.detail["channel"] == "ui"
        assert "Ann" not in str(entry.detail)


def test_ac21_api_token_scopes_limit_pii(web: WebApp) -> None:
    from orderbridge.web.roles import Permission
    from orderbridge.web.tokens import add_token
    from orderbridge.web.users import get_user

    order_id, _ = _order_with_buyer(web)
    web.add_user("shipper", "operator")
    with web.sessions.begin() as session:
        user = get_user(session, "shipper")
        narrow, _ = add_token(
            session, user, name="list only", scopes=frozenset({Permission.ORDERS_READ}), clock=web.clock
        )
        wide, _ = add_token(
            session,
            user,
            name="labels",
            scopes=frozenset({Permission.ORDERS_READ, Permission.PII_READ}),
            clock=web.clock,
        )
    assert web.token_client(narrow).get(f"/api/v1/orders/{order_id}").status_code == 200
    assert web.token_client(narrow).get(f"/api/v1/orders/{order_id}/addresses").status_code == 403
    answer = web.token_client(wide).get(f"/api/v1/orders/{order_id}/addresses")
    assert answer.json()["fields"]["delivery_name"] == "Ann Buyer"
    (read,) = _audit(web, AuditAction.PII_READ)
    assert read.detail["channel"] == "api"


def test_responses_are_never_cached_and_framing_is_refused(web: WebApp) -> None:
    answer = web.client("admin").get("/api/v1/me")
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-frame-options"] == "DENY"
    assert "default-src 'self'" in answer.headers["content-security-policy"]
