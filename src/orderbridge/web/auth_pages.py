"""Sign-in pages: password, forced password change, TOTP enrolment and code, sign-out (AC-23).

Each step is a POST with the CSRF token; a new sign-in always gets a new session token (no fixation).
The password and code steps read in the request's transaction and write each change in a short one of
their own (`db.writes_beside`): a failed attempt is counted even if the rest of the request fails, and
checking a password (deliberately slow) never holds the store's write lock.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from orderbridge.db import writes_beside
from orderbridge.web.deps import (
    SESSION_COOKIE,
    Db,
    public,
    reads_first,
    resolve_principal,
    web_context,
    writes_on_get,
)
from orderbridge.web.errors import PasswordPolicyError, SignInError
from orderbridge.web.passwords import change_password, expired
from orderbridge.web.signin import (
    STAGE_PASSWORD,
    authenticate,
    end_session,
    end_sessions_of,
    locked,
    open_session,
    promote,
    record_failure,
    writing_user,
)
from orderbridge.web.templating import render
from orderbridge.web.totp import provisioning_uri, qr_svg, second_factor_required, secret_of, start_enrolment
from orderbridge.web.totp import verify_code as totp_matches
from orderbridge.web.users import User, WebSession

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
Next = Annotated[str, Form(alias="next")]


def safe_next(target: str | None) -> str:
    """Only a path on this site (never //host or a scheme): no open redirect after sign-in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _session(request: Request, db: Session) -> tuple[WebSession, User] | None:
    principal = resolve_principal(request, db)
    if principal is not None and principal.session_id is not None:
        row, user = db.get(WebSession, principal.session_id), db.get(User, principal.user.id)
        return (row, user) if row is not None and user is not None else None
    pending: tuple[WebSession, User] | None = getattr(request.state, "pending", None)
    return pending


def _set_cookie(request: Request, response: Response, token: str) -> None:
    context = web_context(request)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(context.policy.lifetime.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


def _next_step(request: Request, db: Session, row: WebSession, user: User, target: str) -> Response:
    """Where a session at the password stage goes next; promotes it when nothing is left to do."""
    context = web_context(request)
    query = f"?next={target}" if target != "/" else ""
    if expired(user, context.clock()):
        return RedirectResponse(f"/login/password{query}", status_code=303)
    if user.totp_confirmed_at is not None:
        return RedirectResponse(f"/login/second-factor{query}", status_code=303)
    if second_factor_required(db, waive_on_sandbox=context.policy.waive_second_factor_on_sandbox):
        return RedirectResponse(f"/login/enrol{query}", status_code=303)
    promote(row)
    return RedirectResponse(target, status_code=303)


@router.get("/login")
@public
def login_page(request: Request, db: Db, next: str = "/") -> Response:
    return render(request, "auth/login.html", {"next": safe_next(next), "error": None})


@router.post("/login")
@public
@reads_first
def login(
    request: Request,
    db: Db,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=1000)],
    next: Next = "/",
) -> Response:
    context = web_context(request)
    target = safe_next(next)
    old = _session(request, db)
    if old is not None:
        end_session(db, old[0])
    try:
        user = authenticate(db, username, password, now=context.clock(), policy=context.policy)
    except SignInError as error:
        # DPP R15: access attempts are logged (a staff user name, never a password; PII filter applies).
        log.warning("sign-in refused for %r: %s", username[:40], error)
        return render(request, "auth/login.html", {"next": target, "error": str(error)}, status_code=401)
    with writes_beside(db) as writing:
        user = writing.get(User, user.id) or user
        token, row = open_session(
            writing, user, stage=STAGE_PASSWORD, now=context.clock(), policy=context.policy
        )
        log.info("password accepted for %s", user.username)
        response = _next_step(request, writing, row, user, target)
    _set_cookie(request, response, token)
    return response


def _pending_or_login(request: Request, db: Session) -> tuple[WebSession, User] | Response:
    found = _session(request, db)
    return found if found is not None else RedirectResponse("/login", status_code=303)


@router.get("/login/second-factor")
@public
def second_factor_page(request: Request, db: Db, next: str = "/") -> Response:
    found = _pending_or_login(request, db)
    if isinstance(found, Response):
        return found
    return render(request, "auth/second_factor.html", {"next": safe_next(next), "error": None})


def _code_refused(
    request: Request, writing: Session, row: WebSession, user: User, *, page: str, values: dict[str, object]
) -> Response:
    """Count the refused code in the step's own transaction (`writing`: the user row is locked in it)."""
    context = web_context(request)
    record_failure(user, now=context.clock(), policy=context.policy)
    log.warning("second-factor code refused for %s (%d failures)", user.username, user.failed_sign_ins)
    if locked(user, context.clock()):
        end_session(writing, row)
        error = "too many failed sign-ins: this user is locked out"
    else:
        error = "that code is wrong or was already used; wait for the next one"
    return render(request, page, {**values, "error": error}, status_code=401)


@router.post("/login/second-factor")
@public
@reads_first
def second_factor(
    request: Request, db: Db, code: Annotated[str, Form(max_length=20)], next: Next = "/"
) -> Response:
    found = _pending_or_login(request, db)
    if isinstance(found, Response):
        return found
    context = web_context(request)
    target = safe_next(next)
    with writing_user(db, found[1]) as user, writes_beside(db) as writing:
        row = writing.get(WebSession, found[0].id)
        if row is None or locked(user, context.clock()):
            if row is not None:
                end_session(writing, row)
            return RedirectResponse("/login", status_code=303)
        if not totp_matches(user, context.keys, code, now=context.clock()):
            values: dict[str, object] = {"next": target}
            return _code_refused(request, writing, row, user, page="auth/second_factor.html", values=values)
        user.failed_sign_ins = 0
        promote(row)
    return RedirectResponse(target, status_code=303)


def _enrolment(request: Request, user: User, target: str) -> dict[str, object]:
    keys = web_context(request).keys
    secret = secret_of(user, keys) if user.totp_confirmed_at is None else None
    if secret is None:
        secret = start_enrolment(user, keys)
    uri = provisioning_uri(user, secret)
    return {"next": target, "secret": secret, "qr": qr_svg(uri), "uri": uri, "error": None}


@router.get("/login/enrol")
@public
@writes_on_get
def enrol_page(request: Request, db: Db, next: str = "/") -> Response:
    found = _pending_or_login(request, db)
    if isinstance(found, Response):
        return found
    if found[1].totp_confirmed_at is not None:
        return RedirectResponse("/login/second-factor", status_code=303)
    return render(request, "auth/enrol.html", _enrolment(request, found[1], safe_next(next)))


@router.post("/login/enrol")
@public
@reads_first
def enrol(request: Request, db: Db, code: Annotated[str, Form(max_length=20)], next: Next = "/") -> Response:
    found = _pending_or_login(request, db)
    if isinstance(found, Response):
        return found
    context = web_context(request)
    target = safe_next(next)
    with writing_user(db, found[1]) as user, writes_beside(db) as writing:
        row = writing.get(WebSession, found[0].id)
        if row is None:
            return RedirectResponse("/login", status_code=303)
        if user.totp_confirmed_at is not None:
            return RedirectResponse("/login/second-factor", status_code=303)
        if not totp_matches(user, context.keys, code, now=context.clock()):
            values = _enrolment(request, user, target)
            return _code_refused(request, writing, row, user, page="auth/enrol.html", values=values)
        user.totp_confirmed_at = context.clock()
        user.failed_sign_ins = 0
        promote(row)
    return RedirectResponse(target, status_code=303)


@router.get("/login/password")
@public
def password_page(request: Request, db: Db, next: str = "/") -> Response:
    found = _pending_or_login(request, db)
    if isinstance(found, Response):
        return found
    return render(request, "auth/password.html", {"next": safe_next(next), "error": None, "forced": True})


@router.post("/login/password")
@public
def password(
    request: Request,
    db: Db,
    *,
    current: Annotated[str, Form(max_length=1000)],
    new: Annotated[str, Form(max_length=1000)],
    repeat: Annotated[str, Form(max_length=1000)],
    next: Next = "/",
) -> Response:
    found = _pending_or_login(request, db)
    if isinstance(found, Response):
        return found
    row, user = found
    context = web_context(request)
    target = safe_next(next)
    try:
        if new != repeat:
            raise PasswordPolicyError("the two new passwords differ")
        change_password(db, user, current=current, new=new, clock=context.clock)
    except PasswordPolicyError as error:
        values = {"next": target, "error": str(error), "forced": True}
        return render(request, "auth/password.html", values, status_code=422)
    end_sessions_of(db, user, keep=row)  # a changed password ends the user's other sessions
    if row.stage == STAGE_PASSWORD:
        return _next_step(request, db, row, user, target)
    return RedirectResponse(target, status_code=303)


@router.post("/logout")
@public
def logout(request: Request, db: Db) -> Response:
    found = _session(request, db)
    if found is not None:
        end_session(db, found[0])
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
