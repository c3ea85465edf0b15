"""Web test fixtures: the app on a fresh store of each kind, and a signed-in client for each role.

def test_x(web: WebApp) -> None:
    viewer = web.client("viewer")             # signed in as a new user with that role
    viewer.get("/orders")                     # cookies carry the session
    viewer.submit("/listings/3/connect", {"product": "7"})   # POST form with the CSRF token added
    viewer.api("GET", "/api/v1/orders")       # JSON request with the session's X-CSRF-Token
    web.anonymous().get("/orders")            # nobody signed in
    with web.sessions.begin() as session: ... # the same sealed store the app uses
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.config import Settings, load_settings
from orderbridge.db import BUSY_TIMEOUT_MS, make_engine, session_factory
from orderbridge.privacy.keystore import KeyStore, open_keystore
from orderbridge.privacy.sealing import Privacy, enable
from orderbridge.web.app import create_app
from orderbridge.web.deps import CSRF_FIELD, CSRF_HEADER, SESSION_COOKIE
from orderbridge.web.passwords import add_user, use_hasher
from orderbridge.web.roles import Role
from orderbridge.web.signin import STAGE_FULL, SignInPolicy, open_session
from orderbridge.web.users import User
from tests.conftest import NOW, STORES

PASSWORD = "Correct-Horse-Battery-9"


@dataclass
class MovableClock:
    """The app's clock in tests: starts at NOW, moves only when told."""

    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)


class WebClient(TestClient):
    """A TestClient that knows its CSRF token."""

    csrf: str = ""
    username: str = ""

    def submit(self, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        """POST a form as the browser does: with the CSRF field, without following redirects."""
        kwargs.setdefault("follow_redirects", False)
        return self.post(url, data={CSRF_FIELD: self.csrf, **(data or {})}, **kwargs)

    def api(self, method: str, url: str, **kwargs: Any) -> Any:
        headers = {CSRF_HEADER: self.csrf, **kwargs.pop("headers", {})}
        return self.request(method, url, headers=headers, **kwargs)


@dataclass
class WebApp:
    app: FastAPI
    settings: Settings
    sessions: sessionmaker[Session]
    keys: KeyStore
    clock: MovableClock
    store: str
    clients: list[WebClient] = field(default_factory=list)

    def anonymous(self, **kwargs: Any) -> WebClient:
        client = WebClient(self.app, raise_server_exceptions=False, **kwargs)
        self.clients.append(client)
        return client

    def add_user(
        self,
        username: str,
        role: Role | str = Role.OPERATOR,
        *,
        password: str = PASSWORD,
        full_name: str = "",
    ) -> User:
        with self.sessions.begin() as session:
            return add_user(
                session, username, role=Role(role), password=password, full_name=full_name, clock=self.clock
            )

    def client(self, role: Role | str, *, username: str | None = None) -> WebClient:
        """A client signed in (both factors done) as a new user of the role."""
        name = username or f"{Role(role).value}{len(self.clients) + 1}"
        user = self.add_user(name, role)
        with self.sessions.begin() as session:
            token, row = open_session(
                session, session.merge(user), stage=STAGE_FULL, now=self.clock(), policy=SignInPolicy()
            )
            csrf = row.csrf_token
        client = self.anonymous()
        client.cookies.set(SESSION_COOKIE, token)
        client.csrf = csrf
        client.username = name
        return client

    def token_client(self, token: str) -> WebClient:
        """A client that sends an API token and no cookies."""
        client = self.anonymous(headers={"Authorization": f"Bearer {token}"})
        return client


def web_settings(tmp_path: Path, store_url: str, **overrides: Any) -> Settings:
    """Settings for a test app; times shown in UTC unless a test names another zone."""
    overrides.setdefault("time_zone", "UTC")
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=store_url,
        key_store_dir=tmp_path / "keys",
        kek_file=tmp_path / "secrets" / "kek",
        **overrides,
    )


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> Iterator[None]:
    """argon2id at its cheapest: the tests prove the policy, not the hash's cost."""
    use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    use_hasher(PasswordHasher())


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests using `web` run on both stores unless they parametrize `fresh_store_url` themselves."""
    marked = any(
        "fresh_store_url" in getattr(mark, "args", ("",))[0]
        for mark in metafunc.definition.iter_markers("parametrize")
    )
    if "web" in metafunc.fixturenames and not marked:
        metafunc.parametrize("fresh_store_url", STORES, indirect=True)


@pytest.fixture
def busy_timeout_ms() -> int:
    """How long the app's transactions wait for a lock (a test module may override this fixture)."""
    return BUSY_TIMEOUT_MS


@pytest.fixture
def web(
    fresh_store_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, busy_timeout_ms: int
) -> Iterator[WebApp]:
    """The web app on a fresh migrated store (SQLite and PostgreSQL) with its own key store and clock."""
    monkeypatch.setenv("ORDERBRIDGE_CONFIG", str(tmp_path / "none.toml"))
    store_url = fresh_store_url
    settings = web_settings(tmp_path, store_url)
    engine = make_engine(store_url, busy_timeout_ms=busy_timeout_ms)
    keys = open_keystore(tmp_path / "keys", key_file=tmp_path / "secrets" / "kek", environ={})
    sessions = session_factory(engine)
    enable(sessions, Privacy(keys, retention_days=settings.retention_days))
    clock = MovableClock()
    app = create_app(settings, sessions=sessions, keys=keys, clock=clock)
    found = WebApp(app, settings, sessions, keys, clock, store=store_url.split(":", 1)[0])
    yield found
    for client in found.clients:
        client.close()
    engine.dispose()
