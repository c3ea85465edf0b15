"""Users of the web UI and API: the tables (users, password history, sessions, API tokens) and user commands.

Users are unique people (DPP R3: no shared or default accounts); removing one marks it removed, ends its
sessions and revokes its tokens at once, and keeps the name so audit entries stay attributable.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.book.types import UtcDateTime
from orderbridge.clock import Clock
from orderbridge.db import Base, BigId, Json
from orderbridge.web.errors import UserError
from orderbridge.web.roles import Role

_USERNAME = re.compile(r"[a-z][a-z0-9._-]{1,39}")


class User(Base):
    __tablename__ = "web_users"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(40), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # Set for a one-time password (first admin, reset): the next sign-in must choose a new one.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    # TOTP secret, AES-GCM sealed by the vault under the key store's web key (never plaintext in the DB).
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)  # a code is accepted once (replay)
    failed_sign_ins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)

    @property
    def active(self) -> bool:
        return self.removed_at is None

    @property
    def actor(self) -> str:
        """How the audit log names this user (an id, never contact details)."""
        return f"user:{self.username}"


class PasswordHistory(Base):
    """Earlier password hashes of a user: a new password may not repeat the last 10 (AC-23)."""

    __tablename__ = "web_password_history"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    set_at: Mapped[datetime] = mapped_column(UtcDateTime())


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored."""

    __tablename__ = "web_sessions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    # "password": only the second-factor and enrolment pages; "full": signed in.
    stage: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())


class ApiToken(Base):
    """A scoped API token of a user. Only the SHA-256 of its secret is stored; it is shown once."""

    __tablename__ = "web_api_tokens"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    public_id: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("web_users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    scopes: Mapped[list[str]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


def parse_role(text: str) -> Role:
    try:
        return Role(text.strip().lower())
    except ValueError:
        raise UserError(f"unknown role {text!r} (roles: {', '.join(r.value for r in Role)})") from None


def check_username(username: str) -> str:
    name = username.strip()
    if not _USERNAME.fullmatch(name):
        raise UserError(
            f"user name {name[:40]!r} must be 2-40 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter (not an e-mail address)"
        )
    return name


def find_user(session: Session, username: str) -> User | None:
    """The active user of that name, or None."""
    return session.scalar(select(User).where(User.username == username.strip(), User.removed_at.is_(None)))


def get_user(session: Session, username: str) -> User:
    found = find_user(session, username)
    if found is None:
        raise UserError(f"no user {username.strip()[:40]!r}")
    return found


def active_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.removed_at.is_(None)).order_by(User.username)))


def any_user(session: Session) -> bool:
    return session.scalar(select(User.id).where(User.removed_at.is_(None)).limit(1)) is not None


def remove_user(session: Session, username: str, *, clock: Clock) -> User:
    """Mark the user removed, end every session and revoke every API token (AC-23), in one transaction."""
    user = get_user(session, username)
    if user.role == Role.ADMIN:
        admins = session.scalars(
            select(User.id).where(User.role == Role.ADMIN.value, User.removed_at.is_(None))
        ).all()
        if len(admins) == 1:
            raise UserError(f"user {user.username!r} is the last admin: add another admin first")
    user.removed_at = clock()
    for web_session in session.scalars(select(WebSession).where(WebSession.user_id == user.id)):
        session.delete(web_session)
    for token in session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = user.removed_at
    session.flush()
    return user
