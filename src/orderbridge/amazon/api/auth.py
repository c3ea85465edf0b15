"""Login with Amazon: the refresh-token exchange and access tokens cached per account until near expiry."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from orderbridge.amazon.accounts import Credentials
from orderbridge.amazon.errors import AuthFailed, BadPayload, error_for_status

LWA = "lwa.token"
REFRESH_MARGIN = timedelta(minutes=5)  # refresh this long before the hour is up (SPAPI.md §2.1)


@dataclass(frozen=True)
class AccessToken:
    """An LWA access token (or a Restricted Data Token) and when it stops working."""

    value: str = field(repr=False)
    expires_at: datetime

    def usable(self, now: datetime, margin: timedelta = REFRESH_MARGIN) -> bool:
        return now + margin < self.expires_at


def _account_key(creds: Credentials) -> tuple[str, str, str, str]:
    return (creds.token_url, creds.lwa_client_id, creds.selling_partner_id, creds.region)


class TokenCache:
    """Access tokens of this process, one per account (not one global cache keyed by refresh token)."""

    def __init__(self, margin: timedelta = REFRESH_MARGIN) -> None:
        self.margin = margin
        self._tokens: dict[tuple[str, str, str, str], AccessToken] = {}
        self._lock = threading.Lock()

    def get(self, creds: Credentials, now: datetime) -> AccessToken | None:
        """The account's token if it stays good for longer than the margin."""
        with self._lock:
            token = self._tokens.get(_account_key(creds))
        return token if token is not None and token.usable(now, self.margin) else None

    def put(self, creds: Credentials, token: AccessToken) -> None:
        with self._lock:
            self._tokens[_account_key(creds)] = token

    def forget(self, creds: Credentials) -> None:
        with self._lock:
            self._tokens.pop(_account_key(creds), None)


def token_request(creds: Credentials) -> httpx.Request:
    """POST /auth/o2/token with the refresh-token grant, form-encoded (SPAPI.md §2.1)."""
    form = {
        "grant_type": "refresh_token",
        "refresh_token": creds.refresh_token,
        "client_id": creds.lwa_client_id,
        "client_secret": creds.client_secret,
    }
    return httpx.Request(
        "POST",
        creds.token_url,
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"},
    )


def read_token(response: httpx.Response, now: datetime) -> AccessToken:
    """The access token in an LWA answer; AuthFailed on OAuth errors, AmazonError kinds otherwise."""
    body = _json(response)
    if response.status_code != 200:
        code = str(body.get("error", "")) if isinstance(body, dict) else ""
        # OAuth errors (invalid_client, invalid_grant, ...) mean the stored credentials are wrong.
        if response.status_code in (400, 401, 403):
            message = "LWA refused the account's credentials"
            raise AuthFailed(LWA, response.status_code, message, code=code)
        raise error_for_status(LWA, response.status_code, "LWA token exchange failed", code=code)
    if not isinstance(body, dict):
        raise BadPayload(LWA, 200, "the LWA answer is not a JSON object")
    token, expires_in = body.get("access_token"), body.get("expires_in")
    if not isinstance(token, str) or not token:
        raise BadPayload(LWA, 200, "the LWA answer has no access_token")
    if not isinstance(expires_in, int | float) or isinstance(expires_in, bool) or expires_in <= 0:
        raise BadPayload(LWA, 200, "the LWA answer has no positive expires_in")
    return AccessToken(token, now + timedelta(seconds=float(expires_in)))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        if response.status_code >= 500:
            raise error_for_status(LWA, response.status_code, "LWA answered with no JSON") from None
        if response.status_code != 200:
            return {}
        raise BadPayload(LWA, response.status_code, "the LWA answer is not JSON") from None
