"""DPP AC-23: unique users, MFA, password policy, history of 10, lockout after 10 failures, sessions end on
removal; the sandbox-only waiver of the second factor and its banner."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest

from orderbridge.amazon.accounts import NewAccount, add_account
from orderbridge.web.app import create_app
from orderbridge.web.errors import PasswordPolicyError, UserError
from orderbridge.web.passwords import change_password, check_policy, reset_password
from orderbridge.web.totp import current_code
from orderbridge.web.users import get_user, remove_user
from tests.web.conftest import PASSWORD, WebApp, WebClient, web_settings


def _sign_in(client: WebClient, username: str, password: str = PASSWORD) -> object:
    token = _csrf(client.get("/login").text)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found.group(1)


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Short-1a", "at least 12"),
        ("alllowercaseletters", "three of"),
        ("Jsmith-Password-1", "name"),
        ("Smithson-Garden-77", "name"),
    ],
)
def test_ac23_password_policy(password: str, rule: str) -> None:
    with pytest.raises(PasswordPolicyError, match=rule):
        check_policy(password, username="jsmith", full_name="Jane Smithson")


def test_ac23_users_are_unique_and_names_are_never_reused(web: WebApp) -> None:
    web.add_user("jsmith", "operator")
    with pytest.raises(UserError, match="exists"):
        web.add_user("jsmith", "viewer")
    web.add_user("boss", "admin")
    with web.sessions.begin() as session:
        remove_user(session, "jsmith", clock=web.clock)
    with pytest.raises(UserError, match="was removed"):
        web.add_user("jsmith", "viewer")
    with pytest.raises(UserError, match="e-mail"):
        web.add_user("jane@example.com", "viewer")


def test_ac23_history_of_ten_and_minimum_age(web: WebApp) -> None:
    user = web.add_user("hist", "operator")
    passwords = [PASSWORD] + [f"Another-Secret-{n:02d}x" for n in range(10)]
    with web.sessions.begin() as session:
        user = get_user(session, "hist")
        with pytest.raises(PasswordPolicyError, match="less than a day"):
            change_password(session, user, current=PASSWORD, new=passwords[1], clock=web.clock)
        for previous, new in pairwise(passwords):
            web.clock.advance(days=2)
            change_password(session, user, current=previous, new=new, clock=web.clock)
        web.clock.advance(days=2)
        # the last 10 (passwords[1:]) are refused; the 11th back (the first) is allowed again
        for old in passwords[2:]:
            with pytest.raises(PasswordPolicyError, match="last 10"):
                change_password(session, user, current=passwords[-1], new=old, clock=web.clock)
        change_password(session, user, current=passwords[-1], new=PASSWORD, clock=web.clock)


def test_ac23_lockout_after_ten_failures(web: WebApp) -> None:
    web.add_user("locky", "operator")
    client = web.anonymous()
    for _ in range(9):
        assert _sign_in(client, "locky", "Wrong-Password-123").status_code == 401
    answer = _sign_in(client, "locky", "Wrong-Password-123")
    assert answer.status_code == 401
    # the right password no longer works: locked out (for web_lockout_minutes)
    locked = _sign_in(client, "locky")
    assert locked.status_code == 401
    assert "locked" in locked.text
    web.clock.advance(minutes=31)
    assert _sign_in(client, "locky").status_code == 303
    # an admin's reset lifts a lockout at once and forces a new password
    for _ in range(10):
        assert _sign_in(client, "locky", "Wrong-Password-123").status_code == 401
    with web.sessions.begin() as session:
        one_time = reset_password(session, get_user(session, "locky"), clock=web.clock)
    answer = _sign_in(client, "locky", one_time)
    assert answer.status_code == 303, re.findall(r"class=\"error\"[^<]*<", answer.text)
    assert answer.headers["location"] == "/login/password"


def test_ac23_sessions_end_when_a_user_is_removed(web: WebApp) -> None:
    web.client("admin")
    operator = web.client("operator", username="leaver")
    assert operator.get("/api/v1/me").status_code == 200
    with web.sessions.begin() as session:
        remove_user(session, "leaver", clock=web.clock)
    assert operator.get("/api/v1/me").status_code == 401
    assert operator.get("/compliance", follow_redirects=False).status_code == 303


def test_ac23_the_last_admin_cannot_be_removed(web: WebApp) -> None:
    web.add_user("only", "admin")
    with web.sessions.begin() as session, pytest.raises(UserError, match="last admin"):
        remove_user(session, "only", clock=web.clock)


def test_ac23_mfa_enrolment_on_first_sign_in_then_required(web: WebApp, tmp_path: Path) -> None:
    # given: an installation connected to a real Amazon account (no waiver)
    with web.sessions.begin() as session:
        add_account(
            session,
            web.keys,
            NewAccount(
                "A1REALSELLER",
                "Real seller",
                "EU",
                "amzn1.application-oa2-client.x",
                "secret",
                "Atzr|x",
                ("UK",),
            ),
            clock=web.clock,
        )
    web.add_user("mfa", "operator")
    client = web.anonymous()
    # when: the user signs in for the first time
    answer = _sign_in(client, "mfa")
    assert answer.headers["location"] == "/login/enrol"
    # then: nothing else opens before the second factor
    assert client.get("/api/v1/me").status_code == 401
    page = client.get("/login/enrol").text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert secret
    assert "<svg" in page
    wrong = client.post(
        "/login/enrol", data={"code": "000000", "csrf_token": _csrf(page)}, follow_redirects=False
    )
    assert wrong.status_code == 401
    code = current_code(secret.group(1), now=web.clock())
    done = client.post("/login/enrol", data={"code": code, "csrf_token": _csrf(page)}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/api/v1/me").json()["username"] == "mfa"
    # and the next sign-in asks for a code, refusing the one already used
    client.cookies.clear()
    assert _sign_in(client, "mfa").headers["location"] == "/login/second-factor"
    page = client.get("/login/second-factor").text
    replay = client.post(
        "/login/second-factor", data={"code": code, "csrf_token": _csrf(page)}, follow_redirects=False
    )
    assert replay.status_code == 401
    web.clock.advance(seconds=30)
    fresh = current_code(secret.group(1), now=web.clock())
    ok = client.post(
        "/login/second-factor", data={"code": fresh, "csrf_token": _csrf(page)}, follow_redirects=False
    )
    assert ok.status_code == 303
    assert client.get("/api/v1/me").status_code == 200


def test_ac23_sandbox_only_waives_the_second_factor_with_a_banner(web: WebApp) -> None:
    web.add_user("sandy", "operator")
    client = web.anonymous()
    answer = _sign_in(client, "sandy")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"
    page = client.get("/compliance", follow_redirects=False)
    assert client.get("/api/v1/me").status_code == 200
    docs = client.get("/api/v1/docs").text
    assert "Second factor waived" in docs
    assert page.status_code == 403  # an operator has no compliance:read


def test_ac23_waiver_can_be_switched_off(web: WebApp, tmp_path: Path) -> None:
    settings = web_settings(tmp_path, web.settings.store_url, web_waive_second_factor_on_sandbox=False)
    strict = create_app(settings, sessions=web.sessions, keys=web.keys, clock=web.clock)
    web.add_user("strict", "viewer")
    client = WebClient(strict, raise_server_exceptions=False)
    web.clients.append(client)
    assert _sign_in(client, "strict").headers["location"] == "/login/enrol"


def test_a_new_sign_in_gets_a_new_session_token(web: WebApp) -> None:
    web.add_user("fixed", "viewer")
    client = web.anonymous()
    client.cookies.set("ob_session", "attacker-chosen")
    answer = _sign_in(client, "fixed")
    assert answer.cookies.get("ob_session") not in (None, "attacker-chosen")


def test_sign_in_never_redirects_off_site(web: WebApp) -> None:
    web.add_user("nexty", "viewer")
    client = web.anonymous()
    client.get("/login")
    answer = client.post(
        "/login",
        data={
            "username": "nexty",
            "password": PASSWORD,
            "next": "//evil.example/x",
            "csrf_token": client.cookies.get("ob_csrf"),
        },
        follow_redirects=False,
    )
    assert answer.headers["location"] == "/"
