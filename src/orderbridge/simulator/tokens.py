"""Tokens: LWA exchange, access tokens, Restricted Data Tokens (Tokens API) and request authentication."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from starlette.responses import Response

from orderbridge.simulator.errors import SandboxError, forbidden
from orderbridge.simulator.routing import Ctx, Principal, Route, json_response
from orderbridge.simulator.world import World

TOKEN_LIFETIME = 3600  # SPAPI.md §2.1: access tokens and RDTs live one hour


@dataclass
class Grant:
    """What a token stands for: a seller, an expiry, and for an RDT its restricted resources."""

    seller_id: str
    expires: float
    resources: list[dict[str, object]] = field(default_factory=list)
    restricted: bool = False


def _path_pattern(path: str) -> re.Pattern[str]:
    # RDT paths may be generic ("/orders/v0/orders/{orderId}") or specific (SPAPI.md §4.5).
    return re.compile("^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)) + "$")


class Tokens:
    """Issued access tokens and RDTs, checked on every Amazon-path request."""

    def __init__(self) -> None:
        self.grants: dict[str, Grant] = {}

    def exchange(self, world: World, form: dict[str, str], now: float) -> tuple[int, dict[str, object]]:
        """POST /auth/o2/token: the refresh-token grant, with OAuth-style errors (SPAPI.md §2.1)."""
        grant_type = form.get("grant_type", "")
        if grant_type not in ("refresh_token", "client_credentials"):
            return 400, {
                "error_description": "The authorization grant type is not supported by the authorization "
                "server",
                "error": "unsupported_grant_type",
            }
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        apps = {(a.client_id, a.client_secret) for a in world.accounts.values()}
        if (client_id, secret) not in apps:
            return 401, {"error_description": "Client authentication failed", "error": "invalid_client"}
        if grant_type == "client_credentials":
            token = "Atc|" + secrets.token_urlsafe(48)
            self.grants[token] = Grant("", now + TOKEN_LIFETIME)
            return 200, {
                "access_token": token,
                "scope": form.get("scope", ""),
                "token_type": "bearer",
                "expires_in": TOKEN_LIFETIME,
            }
        refresh = form.get("refresh_token", "")
        account = world.account_by_refresh_token(refresh)
        if not refresh or account is None or account.client_id != client_id:
            return 400, {
                "error_description": "The request has an invalid grant parameter : refresh_token",
                "error": "invalid_grant",
            }
        token = "Atza|" + secrets.token_urlsafe(48)
        if len(self.grants) > 10_000:  # a long-running sandbox forgets tokens that have expired
            self.grants = {t: g for t, g in self.grants.items() if g.expires > now}
        self.grants[token] = Grant(account.seller_id, now + TOKEN_LIFETIME)
        return 200, {
            "access_token": token,
            "refresh_token": refresh,
            "token_type": "bearer",
            "expires_in": TOKEN_LIFETIME,
        }

    def issue_rdt(self, seller_id: str, resources: list[dict[str, object]], now: float) -> str:
        token = "Atz.sprdt|" + secrets.token_urlsafe(48)
        self.grants[token] = Grant(seller_id, now + TOKEN_LIFETIME, resources, restricted=True)
        return token

    def expire_all(self) -> None:
        """Admin: make every issued token expired (tests of the 403 + refresh path)."""
        for grant in self.grants.values():
            grant.expires = 0.0

    def authenticate(self, token: str | None, method: str, path: str, now: float) -> Principal:
        """Check `x-amz-access-token`; raise Amazon's 403 when it is missing, unknown or expired."""
        if not token:
            raise forbidden("Access token is missing in the request header.")
        grant = self.grants.get(token)
        if grant is None or not grant.seller_id:
            raise forbidden("The access token you provided is revoked, malformed or invalid.")
        if grant.expires <= now:
            raise SandboxError(
                403,
                "Unauthorized",
                "Access to requested resource is denied.",
                "The access token you provided has expired.",
                "ExpiredTokenException",
            )
        if not grant.restricted:
            return Principal(grant.seller_id)
        for resource in grant.resources:
            if str(resource.get("method", "")).upper() == method and _path_pattern(
                str(resource["path"])
            ).match(path):
                elements = resource.get("dataElements") or []
                assert isinstance(elements, list)
                return Principal(grant.seller_id, frozenset(str(e) for e in elements), restricted=True)
        raise forbidden("The restricted data token is not valid for this resource.")


DATA_ELEMENTS = {"buyerInfo", "shippingAddress", "buyerTaxInformation"}


def _invalid(details: str) -> SandboxError:
    # SPAPI.md §6: 400 body "InvalidRequest" / "Request is missing or has invalid parameters".
    return SandboxError(400, "InvalidRequest", "Request is missing or has invalid parameters", details)


async def create_restricted_data_token(ctx: Ctx) -> Response:
    body = await ctx.json_body()
    resources = body.get("restrictedResources")
    if not isinstance(resources, list) or not resources:
        raise _invalid("Resource not provided.")
    if len(resources) > 50:
        raise _invalid("At most 50 restricted resources may be requested.")
    for resource in resources:
        if not isinstance(resource, dict) or resource.get("method") not in ("GET", "PUT", "POST", "DELETE"):
            raise _invalid("Each restricted resource needs a method of GET, PUT, POST or DELETE.")
        if not str(resource.get("path", "")).startswith("/"):
            raise _invalid("Each restricted resource needs a path.")
        unknown = set(resource.get("dataElements") or []) - DATA_ELEMENTS
        if unknown:
            raise _invalid(f"Invalid dataElements: {sorted(unknown)}.")
    token = ctx.sandbox.tokens.issue_rdt(ctx.principal.seller_id, resources, ctx.now)
    return json_response({"restrictedDataToken": token, "expiresIn": TOKEN_LIFETIME})


def routes() -> list[Route]:
    return [
        Route(
            "POST",
            "/tokens/2021-03-01/restrictedDataToken",
            "createRestrictedDataToken",
            create_restricted_data_token,
        ),
    ]
