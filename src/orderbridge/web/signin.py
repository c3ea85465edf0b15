"""Signing in: password check with lockout (AC-23), server-side sessions behind a random cookie token.

A session starts at stage "password" (only the second-factor, enrolment and password-change pages
open) and becomes "full" once the second factor (or its waiver) and any forced password change are
done. The cookie carries 32 random bytes; the table keeps their SHA-256, so a database reader cannot
take over a session.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from orderbridge.clock import as_utc
from orderbridge.config import Settings
from orderbridge.db import writes_beside
from orderbridge.web.errors import LockedOutError, SignInError
from orderbridge.web.passwords import hash_password, password_matches
from orderbridge.web.users import User, WebSession, find_user

MAX_FAILURES = 10  # DPP (Nov 2025): lockout after ten unsuccessful attempts
STAGE_PASSWORD = "password"
STAGE_FULL = "full"
_TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute per session
_DUMMY_HASH = hash_password("a-password-nobody-has-1A!")  # equal work for unknown user names


@dataclass(frozen=True)
class SignInPolicy:
    idle: timedelta = timedelta(minutes=30)
    lifetime: timedelta = timedelta(hours=12)
    lockout: timedelta | None = timedelta(minutes=30)  # None: until an admin resets the password
    waive_second_factor_on_sandbox: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> SignInPolicy:
        minutes = settings.web_lockout_minutes
        return cls(
            idle=timedelta(minutes=settings.web_session_idle_minutes),
            lifetime=timedelta(hours=settings.web_session_hours),
            lockout=timedelta(minutes=minutes) if minutes else None,
            waive_second_factor_on_sandbox=settings.web_waive_second_factor_on_sandbox,
        )


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def locked(user: User, now: datetime) -> bool:
    if user.failed_sign_ins < MAX_FAILURES:
        return False
    return user.locked_until is None or as_utc(user.locked_until) > now


def record_failure(user: User, *, now: datetime, policy: SignInPolicy) -> None:
    """Count a failed password or second-factor code; the tenth in a row locks the user out."""
    if user.locked_until is not None and as_utc(user.locked_until) <= now:
        user.failed_sign_ins = 0  # an expired lockout starts a fresh count
        user.locked_until = None
    user.failed_sign_ins += 1
    if user.failed_sign_ins >= MAX_FAILURES:
        user.locked_until = None if policy.lockout is None else now + policy.lockout


def authenticate(
    session: Session, username: str, password: str, *, now: datetime, policy: SignInPolicy
) -> User:
    """The user whose password this is; SignInError (never saying which part was wrong) otherwise.

    The count of failures is written beside the session (see `db.writes_beside`): from a reading request
    it is committed on its own, so no later error of the request takes it back.
    """
    user = find_user(session, username)
    if user is None:
        password_matches(_DUMMY_HASH, password)
        raise SignInError("wrong user name or password")
    if locked(user, now):
        raise LockedOutError(
            f"too many failed sign-ins: locked {_until(user)}; an admin can run "
            "`orderbridge users reset-password`"
        )
    if not password_matches(user.password_hash, password):
        count_failure(session, user, now=now, policy=policy)
        raise SignInError("wrong user name or password")
    if user.failed_sign_ins or user.locked_until is not None:
        with writes_beside(session) as writing:
            writing.execute(
                update(User).where(User.id == user.id).values(failed_sign_ins=0, locked_until=None)
            )
    return user


def count_failure(session: Session, user: User, *, now: datetime, policy: SignInPolicy) -> User:
    """Count a failed password or code of the user beside the session; returns the user as counted.

    The row is locked while counting, so failures arriving at the same moment are all counted."""
    with writing_user(session, user) as counted:
        record_failure(counted, now=now, policy=policy)
        return counted


@contextmanager
def writing_user(session: Session, user: User) -> Iterator[User]:
    """The user's row, locked, in the transaction where the session's writes go (`db.writes_beside`)."""
    with writes_beside(session) as writing:
        found = writing.get(User, user.id, with_for_update=True, populate_existing=True)
        if found is None:
            raise SignInError("wrong user name or password")
        yield found
        writing.flush()


def _until(user: User) -> str:
    return "until an admin resets it" if user.locked_until is None else f"until {user.locked_until:%H:%M} UTC"


def open_session(
    session: Session, user: User, *, stage: str, now: datetime, policy: SignInPolicy
) -> tuple[str, WebSession]:
    """A new session for the user; returns the cookie token (shown to nobody else) and the row."""
    token = secrets.token_urlsafe(32)
    row = WebSession(
        token_hash=token_hash(token),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        stage=stage,
        created_at=now,
        last_seen_at=now,
        expires_at=now + policy.lifetime,
    )
    session.add(row)
    session.flush()
    return token, row


def session_for(
    session: Session, token: str, *, now: datetime, policy: SignInPolicy
) -> tuple[WebSession, User] | None:
    """The live session of a cookie token and its active user, or None (unknown, idle, expired, removed).

    Also from a reading transaction: removing a dead session and the last seen time are written beside it.
    """
    row = session.scalar(select(WebSession).where(WebSession.token_hash == token_hash(token)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    seen = as_utc(row.last_seen_at)
    if user is None or not user.active or as_utc(row.expires_at) <= now or now - seen > policy.idle:
        with writes_beside(session) as writing:
            writing.execute(delete(WebSession).where(WebSession.id == row.id))
        return None
    if now - seen >= _TOUCH_EVERY:
        with writes_beside(session) as writing:
            writing.execute(update(WebSession).where(WebSession.id == row.id).values(last_seen_at=now))
    return row, user


def promote(row: WebSession) -> None:
    """The second factor and any forced password change are done: the session is fully signed in."""
    row.stage = STAGE_FULL
    row.csrf_token = secrets.token_urlsafe(32)


def end_session(session: Session, row: WebSession) -> None:
    """End the session (beside a reading request: in a transaction of its own)."""
    with writes_beside(session) as writing:
        writing.execute(delete(WebSession).where(WebSession.id == row.id))


def end_sessions_of(session: Session, user: User, *, keep: WebSession | None = None) -> int:
    """End every session of the user (password reset, removal), except `keep`."""
    query = delete(WebSession).where(WebSession.user_id == user.id)
    if keep is not None:
        query = query.where(WebSession.id != keep.id)
    return int(getattr(session.execute(query), "rowcount", 0) or 0)
