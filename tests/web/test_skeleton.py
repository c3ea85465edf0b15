"""The web skeleton: health is open, the rest needs sign-in, a signed-in client of each role works."""

from __future__ import annotations

from tests.web.conftest import WebApp


def test_health_is_open_and_pages_need_sign_in(web: WebApp) -> None:
    anonymous = web.anonymous()
    assert anonymous.get("/health").json() == {"status": "ok"}
    assert anonymous.get("/api/v1/me").status_code == 401
    moved = anonymous.get("/compliance", follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"].startswith("/login?next=")


def test_signed_in_client_of_each_role(web: WebApp) -> None:
    for role in ("admin", "operator", "viewer", "auditor"):
        client = web.client(role)
        me = client.get("/api/v1/me").json()
        assert me["role"] == role
        assert ("pii:read" in me["permissions"]) == (role in ("admin", "operator"))
