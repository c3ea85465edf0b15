"""What every route depends on: the web context, a database session per request, the signed-in principal
(browser session or API token), permission checks and CSRF.

Every route of the app requires sign-in through the app-wide `signed_in` dependency unless its path is
in PUBLIC_PATHS; `require(permission)` adds a permission check on top. A missing `pii:read` is audited.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.clock import Clock
from orderbridge.config import Settings
from orderbridge.db import kept_whatever_happens, reading, transaction
from orderbridge.privacy import audit
from orderbridge.privacy.keystore import KeyStore
from orderbridge.privacy.models import AuditAction
from orderbridge.web.roles import Permission, permissions_of
from orderbridge.web.signin import STAGE_FULL, SignInPolicy, session_for
from orderbridge.web.tokens import token_holder
from orderbridge.web.totp import second_factor_required
from orderbridge.web.users import User

SESSION_COOKIE = "ob_session"
CSRF_COOKIE = "ob_csrf"  # double-submit token for forms shown before sign-in (the login form)
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# The only routes reachable without signing in: their functions carry @public (tests/web/test_security.py
# walks every route and checks that no other answers anonymously).
PUBLIC_PATHS = frozenset(
    {"/login", "/health", "/healthz", "/login/second-factor", "/login/enrol", "/login/password", "/logout"}
)
PUBLIC_MARK = "_orderbridge_public"
READS_MARK = "_orderbridge_reads"  # a POST whose request transaction only reads (see reads_first)
WRITES_MARK = "_orderbridge_writes"  # a GET whose request transaction writes (see writes_on_get)
SANDBOX_BANNER = (
    "Second factor waived: this installation is connected only to the Amazon sandbox, so it holds no real "
    "buyer data. Connecting a real Amazon account makes the second factor mandatory for every user."
)


@dataclass
class WebContext:
    """What the app was made with; kept on app.state.web."""

    settings: Settings
    sessions: sessionmaker[Session]
    keys: KeyStore
    clock: Clock
    policy: SignInPolicy
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class UserView:
    """The signed-in user's plain values (usable after the request's transaction has ended)."""

    id: int
    username: str
    full_name: str
    role: str

    @classmethod
    def of(cls, user: User) -> UserView:
        return cls(user.id, user.username, user.full_name, user.role)


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user through a browser session ("ui") or an API token ("api")."""

    user: UserView
    permissions: frozenset[Permission]
    channel: str
    session_id: int | None = None
    csrf: str | None = None  # the browser session's CSRF token
    token_id: int | None = None
    banners: tuple[str, ...] = ()

    @property
    def actor(self) -> str:
        return f"user:{self.user.username}"

    def can(self, permission: Permission) -> bool:
        return permission in self.permissions


class NotSignedIn(Exception):
    """No valid session or token (the app answers 401 for the API, a redirect to /login for pages)."""

    def __init__(self, *, stage: str | None = None) -> None:
        super().__init__("sign-in required")
        self.stage = stage  # "password": signed in with a password, second factor still due


class Forbidden(Exception):
    """Signed in, but without the permission the route needs (403)."""

    def __init__(self, permission: Permission) -> None:
        super().__init__(f"needs the {permission.value} permission")
        self.permission = permission


class CsrfRefused(Exception):
    """A state-changing request without the session's CSRF token (403)."""


def web_context(request: Request) -> WebContext:
    found: WebContext = request.app.state.web
    return found


Context = Annotated[WebContext, Depends(web_context)]


def database(request: Request) -> Iterator[Session]:
    """One transaction per request: committed before the response is sent, rolled back on any error.

    A GET (or HEAD, OPTIONS) only reads: its transaction waits for no job or import that is writing, and
    the store refuses it any write; the few writes a read brings (an audit entry, a session's last seen
    time) go through `db.writes_beside`. A POST, PUT, PATCH or DELETE writes: its transaction takes the
    store's write lock when it begins (waiting its turn rather than failing on SQLite)."""
    sessions = web_context(request).sessions
    endpoint = request.scope.get("endpoint")
    writes = request.method in UNSAFE_METHODS or getattr(endpoint, WRITES_MARK, False)
    if getattr(endpoint, READS_MARK, False):
        writes = False
    opened = transaction(sessions) if writes else reading(sessions)
    with opened as session:
        yield session


Db = Annotated[Session, Depends(database, scope="function")]


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def resolve_principal(request: Request, session: Session) -> Principal | None:
    """The principal of the request (cached on request.state), or None when nobody is signed in.

    A session still at the password stage is not a principal; `request.state.pending` keeps it.
    """
    if hasattr(request.state, "principal"):
        found: Principal | None = request.state.principal
        return found
    context = web_context(request)
    now = context.clock()
    principal: Principal | None = None
    request.state.pending = None
    presented = _bearer(request)
    if presented is not None:
        holder = token_holder(session, presented, now=now)
        if holder is not None:
            principal = Principal(
                UserView.of(holder.user), holder.permissions, "api", token_id=holder.token.id
            )
    else:
        cookie = request.cookies.get(SESSION_COOKIE)
        live = session_for(session, cookie, now=now, policy=context.policy) if cookie else None
        if live is not None and live[0].stage == STAGE_FULL:
            row, user = live
            banners: tuple[str, ...] = ()
            waive = context.policy.waive_second_factor_on_sandbox
            if not second_factor_required(session, waive_on_sandbox=waive):
                banners = (SANDBOX_BANNER,)
            principal = Principal(
                UserView.of(user),
                permissions_of(user.role),
                "ui",
                session_id=row.id,
                csrf=row.csrf_token,
                banners=banners,
            )
        elif live is not None:
            request.state.pending = live
            request.state.pending_csrf = live[0].csrf_token
    request.state.principal = principal
    return principal


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def public(endpoint: Endpoint) -> Endpoint:
    """Mark a route's function as reachable without signing in (only sign-in steps and health)."""
    setattr(endpoint, PUBLIC_MARK, True)
    return endpoint


def reads_first(endpoint: Endpoint) -> Endpoint:
    """Mark a POST whose request transaction only reads; it writes through `db.writes_beside`, each write
    committed on its own (sign-in: a failure is counted whatever happens to the rest of the request, and
    checking a password does not hold the store's write lock)."""
    setattr(endpoint, READS_MARK, True)
    return endpoint


def writes_on_get(endpoint: Endpoint) -> Endpoint:
    """Mark a GET whose request transaction writes (a page that starts something, as enrolment's
    secret); every other GET reads."""
    setattr(endpoint, WRITES_MARK, True)
    return endpoint


def signed_in(request: Request, session: Db) -> None:
    """App-wide: every route outside PUBLIC_PATHS needs a signed-in principal."""
    # Resolved on public paths too, so a page and the CSRF check agree on whose token a form carries.
    principal = resolve_principal(request, session)
    if getattr(request.scope.get("endpoint"), PUBLIC_MARK, False):
        return
    if principal is None:
        pending = getattr(request.state, "pending", None)
        raise NotSignedIn(stage=pending[0].stage if pending else None)


def current_user(request: Request, session: Db) -> Principal:
    principal = resolve_principal(request, session)
    if principal is None:
        raise NotSignedIn()
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]


def audit_denied(
    context: WebContext, session: Session, principal: Principal, permission: Permission, path: str
) -> None:
    """Record a refused request for PII in a transaction of its own (the request's own rolls back)."""

    def write(writing: Session) -> None:
        audit.append(
            writing,
            actor=principal.actor,
            action=AuditAction.ACCESS_DENIED,
            subjects=[f"route:{re.sub(r'[^A-Za-z0-9_.:/-]', '_', path)[:120]}"],
            detail={"permission": permission.value, "channel": principal.channel, "outcome": "refused"},
            clock=context.clock,
        )

    kept_whatever_happens(session, write)


def require(permission: Permission) -> Any:
    """A dependency (use as `Annotated[Principal, require(Permission.X)]` or in `dependencies=[...]`)
    that answers 403 without the permission; a refused `pii:read` is audited (AC-21)."""

    def check(request: Request, principal: CurrentUser, session: Db) -> Principal:
        if not principal.can(permission):
            if permission is Permission.PII_READ:
                audit_denied(web_context(request), session, principal, permission, request.url.path)
            raise Forbidden(permission)
        return principal

    check.__name__ = f"require_{permission.name.lower()}"
    return Depends(check)


def csrf_token(request: Request) -> str:
    """The token forms must send back: the session's own once signed in, else the double-submit cookie."""
    principal = getattr(request.state, "principal", None)
    if principal is not None and principal.csrf is not None:
        return str(principal.csrf)
    pending = getattr(request.state, "pending_csrf", None)
    if pending is not None:
        return str(pending)
    anonymous = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if anonymous is None:
        anonymous = secrets.token_urlsafe(32)
        request.state.new_csrf_cookie = anonymous  # set on the response by the app's middleware
    return anonymous


async def csrf_protect(request: Request, session: Db) -> None:
    """App-wide: a state-changing request made with cookies must carry the CSRF token (header or form).

    Requests with an API token carry no ambient credentials and need none.
    """
    if request.method not in UNSAFE_METHODS or _bearer(request) is not None:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    await run_in_threadpool(resolve_principal, request, session)
    expected = (
        csrf_token(request)
        if request.cookies.get(SESSION_COOKIE) or request.cookies.get(CSRF_COOKIE)
        else None
    )
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise CsrfRefused("the form expired or came from another site: reload the page and try again")
