"""What an admin does to other users, from the users page or the CLI, each step written to the audit log.

The audit entry goes in the same transaction as the change, so a change is never made without its trace.
Entries name the user (`user:NAME`), never a password; a one-time password is returned to the caller once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.clock import Clock
from orderbridge.privacy import audit
from orderbridge.privacy.models import AuditAction
from orderbridge.web.errors import UserError
from orderbridge.web.passwords import add_user, generate_password, reset_password
from orderbridge.web.roles import Permission, Role
from orderbridge.web.signin import end_sessions_of
from orderbridge.web.tokens import MAX_DAYS, add_token, find_token, revoke_token
from orderbridge.web.users import ApiToken, User, get_user, remove_user


@dataclass(frozen=True)
class Admitted:
    user: User
    one_time_password: str | None  # None when the admin chose the password


def _trace(
    session: Session, action: AuditAction, user: User, *, by: str, clock: Clock, **detail: str | bool
) -> None:
    audit.append(
        session, actor=by, action=action, subjects=[f"user:{user.username}"], detail=detail, clock=clock
    )


def admit_user(
    session: Session,
    username: str,
    *,
    role: Role,
    full_name: str = "",
    password: str | None = None,
    by: str,
    clock: Clock,
) -> Admitted:
    """Add a user; without a chosen password they get a one-time one, to change at first sign-in."""
    one_time = password is None
    chosen = generate_password() if password is None else password
    user = add_user(
        session, username, role=role, password=chosen, full_name=full_name, one_time=one_time, clock=clock
    )
    _trace(session, AuditAction.USER_ADDED, user, by=by, clock=clock, role=role.value)
    return Admitted(user, chosen if one_time else None)


def dismiss_user(session: Session, username: str, *, by: str, clock: Clock) -> User:
    """Remove a user: sessions end and API tokens stop at once (AC-23). Not the last admin."""
    user = remove_user(session, username, clock=clock)
    _trace(session, AuditAction.USER_REMOVED, user, by=by, clock=clock)
    return user


def reset_user(
    session: Session, username: str, *, authenticator: bool = False, by: str, clock: Clock
) -> tuple[User, str]:
    """A one-time password (lifting a lockout); their sessions end; optionally a new authenticator too."""
    user = get_user(session, username)
    password = reset_password(session, user, clock=clock)
    end_sessions_of(session, user)
    if authenticator:
        user.totp_secret = None
        user.totp_confirmed_at = None
    _trace(session, AuditAction.USER_PASSWORD_RESET, user, by=by, clock=clock, authenticator=authenticator)
    return user, password


def change_role(session: Session, username: str, role: Role, *, by: str, clock: Clock) -> User:
    """Give a user another role; it applies to their next request and to their API tokens' scopes."""
    user = get_user(session, username)
    if user.role == role.value:
        raise UserError(f"user {user.username!r} already has the role {role.value}")
    if user.role == Role.ADMIN.value and _admins(session) == 1:
        raise UserError(f"user {user.username!r} is the last admin: make another user admin first")
    before = user.role
    user.role = role.value
    session.flush()
    _trace(session, AuditAction.USER_ROLE_CHANGED, user, by=by, clock=clock, before=before, after=role.value)
    return user


def issue_token(
    session: Session,
    username: str,
    *,
    name: str,
    scopes: frozenset[Permission],
    days: int = MAX_DAYS,
    by: str,
    clock: Clock,
) -> tuple[str, ApiToken]:
    """A new API token for the user (the secret is returned once); its scopes go to the audit log."""
    user = get_user(session, username)
    secret, token = add_token(session, user, name=name, scopes=scopes, days=days, clock=clock)
    _trace(
        session,
        AuditAction.TOKEN_ADDED,
        user,
        by=by,
        clock=clock,
        token=token.public_id,
        scopes=" ".join(token.scopes),
    )
    return secret, token


def withdraw_token(session: Session, public_id: str, *, by: str, clock: Clock) -> ApiToken:
    """Revoke a token at once (revoking a revoked token changes nothing and writes nothing)."""
    live = find_token(session, public_id).revoked_at is None
    token = revoke_token(session, public_id, clock=clock)
    if live:
        user = session.get_one(User, token.user_id)
        _trace(session, AuditAction.TOKEN_REVOKED, user, by=by, clock=clock, token=token.public_id)
    return token


def _admins(session: Session) -> int:
    query = select(func.count(User.id)).where(User.role == Role.ADMIN.value, User.removed_at.is_(None))
    return int(session.scalar(query) or 0)
