"""API tokens: scoped to permissions, expiring (DPP: keys rotated at least yearly), hashed at rest.

A token reads ``obt_<public id>_<secret>``. The public id finds the row; only the SHA-256 of the secret
is stored, so the plaintext exists once, when `add_token` returns it. A token never grants more than its
user's role allows now: a demoted or removed user's tokens shrink or stop with them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from orderbridge.clock import Clock, as_utc
from orderbridge.db import writes_beside
from orderbridge.web.errors import TokenError
from orderbridge.web.roles import Permission, permissions_of
from orderbridge.web.users import ApiToken, User

PREFIX = "obt"
MAX_DAYS = 365


@dataclass(frozen=True)
class TokenHolder:
    token: ApiToken
    user: User
    permissions: frozenset[Permission]


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def add_token(
    session: Session,
    user: User,
    *,
    name: str,
    scopes: frozenset[Permission],
    days: int = MAX_DAYS,
    clock: Clock,
) -> tuple[str, ApiToken]:
    """A new token for the user; TokenError if a scope is beyond the user's role or days is out of range."""
    if not 1 <= days <= MAX_DAYS:
        raise TokenError(f"days must be 1 to {MAX_DAYS} (API keys are rotated at least yearly), not {days}")
    if not scopes:
        raise TokenError("a token needs at least one scope")
    beyond = sorted(s.value for s in scopes - permissions_of(user.role))
    if beyond:
        raise TokenError(f"user {user.username!r} ({user.role}) may not grant {', '.join(beyond)}")
    label = name.strip()
    if not 1 <= len(label) <= 100:
        raise TokenError("the token name must be 1-100 characters")
    public_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    now = clock()
    token = ApiToken(
        public_id=public_id,
        secret_hash=_hash(secret),
        user_id=user.id,
        name=label,
        scopes=sorted(s.value for s in scopes),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    session.add(token)
    session.flush()
    return f"{PREFIX}_{public_id}_{secret}", token


def token_holder(session: Session, presented: str, *, now: datetime) -> TokenHolder | None:
    """Who a token acts for and with which permissions; None if unknown, wrong, expired or revoked."""
    parts = presented.strip().split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.public_id == parts[1]))
    if token is None or not hmac.compare_digest(token.secret_hash, _hash(parts[2])):
        return None
    if token.revoked_at is not None or as_utc(token.expires_at) <= now:
        return None
    user = session.get(User, token.user_id)
    if user is None or not user.active:
        return None
    if token.last_used_at is None or now - as_utc(token.last_used_at) >= timedelta(minutes=1):
        with writes_beside(session) as writing:  # also from a reading transaction (a GET)
            writing.execute(update(ApiToken).where(ApiToken.id == token.id).values(last_used_at=now))
    scopes = frozenset(Permission(s) for s in token.scopes if s in Permission._value2member_map_)
    return TokenHolder(token, user, scopes & permissions_of(user.role))


def find_token(session: Session, public_id: str) -> ApiToken:
    token = session.scalar(select(ApiToken).where(ApiToken.public_id == public_id.strip()))
    if token is None:
        raise TokenError(f"no API token {public_id.strip()[:20]!r}")
    return token


def revoke_token(session: Session, public_id: str, *, clock: Clock) -> ApiToken:
    token = find_token(session, public_id)
    if token.revoked_at is None:
        token.revoked_at = clock()
    session.flush()
    return token


def tokens_of(session: Session, user: User | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.id)
    if user is not None:
        query = query.where(ApiToken.user_id == user.id)
    return list(session.scalars(query))
