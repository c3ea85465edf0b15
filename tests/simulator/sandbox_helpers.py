"""Helpers for the sandbox tests: strict schema checks, a small seeded world, an SP-API caller."""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from orderbridge.simulator.app import Sandbox
from orderbridge.simulator.clock import parse_iso
from orderbridge.simulator.generator import Settings, generate
from orderbridge.simulator.in_process import InProcessTransport
from orderbridge.simulator.world import SellerAccount, World

TOOLS = Path(__file__).resolve().parents[2].parent / "shared" / "tools"
NOW = parse_iso("2026-03-02T12:00:00Z")


@cache
def _validator(model: str, definition: str) -> Any:
    if str(TOOLS) not in sys.path:
        sys.path.insert(0, str(TOOLS))
    from spapi_strict import validator

    return validator(model, definition)


def assert_valid(model: str, definition: str, body: Any) -> None:
    """Strict validation against Amazon's model: no invented or misspelt field passes."""
    errors = [
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in _validator(model, definition).iter_errors(body)
    ]
    assert not errors, errors[:10]


def small_world(seed: int = 7, **overrides: Any) -> World:
    settings = Settings(seed=seed, orders_per_day=20, days=3, marketplaces=["US", "CA", "UK", "DE"], now=NOW)
    for key, value in overrides.items():
        setattr(settings, key, value)
    return generate(settings)


def in_process_client(app: Any, base_url: str = "http://sandbox.local") -> httpx.Client:
    """An httpx client whose requests go straight into the sandbox app."""
    return httpx.Client(transport=InProcessTransport(app, raw=True, propagate=True), base_url=base_url)


class Api:
    """An SP-API caller for one seller against the in-process sandbox."""

    def __init__(self, client: httpx.Client, sandbox: Sandbox, account: SellerAccount) -> None:
        self.client = client
        self.sandbox = sandbox
        self.account = account
        self.auto_login = True
        self.token = self.login()

    def login(self) -> str:
        response = self.client.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": self.account.refresh_token,
                "client_id": self.account.client_id,
                "client_secret": self.account.client_secret,
            },
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
        headers = {"x-amz-access-token": token or self.token}
        response = self.client.request(method, path, headers=headers, **kwargs)
        if (
            self.auto_login
            and token is None
            and response.headers.get("x-amzn-ErrorType") == "ExpiredTokenException"
        ):
            self.token = self.login()  # as a real client does when its hour is up
            response = self.client.request(method, path, headers={"x-amz-access-token": self.token}, **kwargs)
        return response

    def get(self, path: str, params: Any = None, token: str | None = None) -> httpx.Response:
        return self.call("GET", path, token, params=params)

    def post(self, path: str, body: Any, token: str | None = None) -> httpx.Response:
        return self.call("POST", path, token, json=body)

    def admin(self, method: str, path: str, body: Any = None) -> httpx.Response:
        response = self.client.request(method, "/_sandbox" + path, json=body)
        assert response.status_code < 300, response.text
        return response
