"""Password hashing (argon2id) and the DPP password policy (AC-23), and the user commands that set passwords.

Policy: at least 12 characters; three of lower case, upper case, digits and symbols; no part of the user's
name (user name or any word of the full name of 3+ letters); none of the last 10 passwords; changed by
the user at most once a day; older than 365 days must be changed at the next sign-in.
"""

from __future__ import annotations

import re
import secrets
import string
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.clock import Clock, as_utc
from orderbridge.web.errors import PasswordPolicyError, UserError
from orderbridge.web.roles import Role
from orderbridge.web.users import PasswordHistory, User, check_username

MIN_LENGTH = 12
MAX_LENGTH = 256
HISTORY = 10
MIN_AGE = timedelta(days=1)
MAX_AGE = timedelta(days=365)

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def use_hasher(hasher: PasswordHasher) -> None:
    """Swap the hasher (tests use cheap parameters; stored hashes name their own parameters)."""
    global _hasher  # noqa: PLW0603
    _hasher = hasher


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _name_parts(username: str, full_name: str) -> list[str]:
    parts = [username, *re.split(r"[\s._@-]+", username), *re.split(r"[\s._'-]+", full_name)]
    return sorted({p.lower() for p in parts if len(p) >= 3})


def check_policy(password: str, *, username: str, full_name: str = "") -> None:
    """Raise PasswordPolicyError naming the first rule the password breaks."""
    if len(password) < MIN_LENGTH:
        raise PasswordPolicyError(f"the password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise PasswordPolicyError(f"the password must have at most {MAX_LENGTH} characters")
    classes = [
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(not c.isalnum() for c in password),
    ]
    if sum(classes) < 3:
        raise PasswordPolicyError(
            "the password must mix three of: lower-case letters, upper-case letters, digits, symbols"
        )
    lowered = password.lower()
    for part in _name_parts(username, full_name):
        if part in lowered:
            raise PasswordPolicyError("the password must not contain any part of the user's name")


def _recent_hashes(session: Session, user: User) -> list[str]:
    older = session.scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.id.desc())
        .limit(HISTORY - 1)
    ).all()
    return [user.password_hash, *older]


def _store(session: Session, user: User, password: str, *, at: datetime, one_time: bool) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = at
    user.must_change_password = one_time
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, set_at=at))
    session.flush()


def generate_password() -> str:
    """A random one-time password that meets the policy (16 characters from four classes)."""
    pools = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "-_.!+")
    while True:
        chars = [secrets.choice("".join(pools)) for _ in range(16)]
        if all(any(c in pool for c in chars) for pool in pools):
            return "".join(chars)


def add_user(
    session: Session,
    username: str,
    *,
    role: Role,
    password: str,
    full_name: str = "",
    one_time: bool = False,
    clock: Clock,
) -> User:
    """Add a user; UserError if the name is taken (also by a removed user), PasswordPolicyError."""
    name = check_username(username)
    existing = session.scalar(select(User).where(User.username == name))
    if existing is not None:
        state = (
            "was removed (names are not reused, so the audit log stays unambiguous)"
            if (existing.removed_at)
            else "exists"
        )
        raise UserError(f"user {name!r} {state}")
    check_policy(password, username=name, full_name=full_name)
    now = clock()
    user = User(
        username=name,
        full_name=full_name.strip(),
        role=role.value,
        password_hash="",
        password_changed_at=now,
        created_at=now,
        failed_sign_ins=0,
        totp_last_step=0,
    )
    session.add(user)
    session.flush()
    _store(session, user, password, at=now, one_time=one_time)
    return user


def change_password(session: Session, user: User, *, current: str, new: str, clock: Clock) -> None:
    """The user's own change: needs the current password, a day since the last change, and the policy."""
    if not password_matches(user.password_hash, current):
        raise PasswordPolicyError("the current password is wrong")
    now = clock()
    if not user.must_change_password and now - as_utc(user.password_changed_at) < MIN_AGE:
        raise PasswordPolicyError("the password was changed less than a day ago (minimum age 1 day)")
    check_policy(new, username=user.username, full_name=user.full_name)
    if any(password_matches(old, new) for old in _recent_hashes(session, user)):
        raise PasswordPolicyError(f"the password must differ from the last {HISTORY} passwords")
    _store(session, user, new, at=now, one_time=False)


def reset_password(session: Session, user: User, *, clock: Clock, new: str | None = None) -> str:
    """An admin's reset: a one-time password (generated unless given) that must be changed at sign-in.

    Also lifts a lockout. Returns the password to hand to the user.
    """
    password = new if new is not None else generate_password()
    check_policy(password, username=user.username, full_name=user.full_name)
    if any(password_matches(old, password) for old in _recent_hashes(session, user)):
        raise PasswordPolicyError(f"the password must differ from the last {HISTORY} passwords")
    _store(session, user, password, at=clock(), one_time=True)
    user.failed_sign_ins = 0
    user.locked_until = None
    return password


def expired(user: User, now: datetime) -> bool:
    """True when the password must be changed before going on (one-time, or older than 365 days)."""
    return user.must_change_password or now - as_utc(user.password_changed_at) > MAX_AGE
