"""Users and API tokens for admins: add, change role, reset password, remove, revoke; each step audited.

A one-time password is shown once, on the page answering the POST that made it, and never put in a URL.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from orderbridge.web.deps import Db, Principal, require, web_context
from orderbridge.web.errors import WebError
from orderbridge.web.pages.rendering import back_to, page
from orderbridge.web.roles import Permission, Role
from orderbridge.web.signin import locked
from orderbridge.web.user_admin import admit_user, change_role, dismiss_user, reset_user, withdraw_token
from orderbridge.web.users import ApiToken, User, active_users, parse_role

router = APIRouter(include_in_schema=False)
Admin = Annotated[Principal, require(Permission.USERS_MANAGE)]


def _text(form: dict[str, str], name: str) -> str:
    return form.get(name, "").strip()


@router.get("/users", response_class=HTMLResponse)
def users(request: Request, session: Db, principal: Admin) -> Response:
    people = active_users(session)
    names = {user.id: user.username for user in people}
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.revoked_at.is_(None)).order_by(ApiToken.id)
    ).all()
    now = web_context(request).clock()
    return page(
        request,
        "pages/users.html",
        {
            "people": people,
            "roles": [role.value for role in Role],
            "locked": {user.username for user in people if locked(user, now)},
            "tokens": [(token, names.get(token.user_id, "(removed)")) for token in tokens],
            "me": principal.user.username,
        },
    )


def _one_time(request: Request, user: User, password: str, *, what: str) -> Response:
    return page(request, "pages/user_password.html", {"who": user, "password": password, "what": what})


@router.post("/users", response_class=HTMLResponse)
async def add(request: Request, session: Db, principal: Admin) -> Response:
    form = {key: str(value) for key, value in (await request.form()).items()}
    try:
        admitted = admit_user(
            session,
            _text(form, "username"),
            role=parse_role(_text(form, "role") or Role.OPERATOR.value),
            full_name=_text(form, "full_name"),
            by=principal.actor,
            clock=web_context(request).clock,
        )
    except WebError as error:
        return back_to("/users", problem=str(error))
    assert admitted.one_time_password is not None  # the page never chooses a password for someone
    return _one_time(request, admitted.user, admitted.one_time_password, what="added")


@router.post("/users/{username}/role", response_class=HTMLResponse)
async def role(username: str, request: Request, session: Db, principal: Admin) -> Response:
    form = {key: str(value) for key, value in (await request.form()).items()}
    try:
        user = change_role(
            session,
            username,
            parse_role(_text(form, "role")),
            by=principal.actor,
            clock=web_context(request).clock,
        )
    except WebError as error:
        return back_to("/users", problem=str(error))
    return back_to("/users", f"{user.username} is now {user.role}")


@router.post("/users/{username}/reset", response_class=HTMLResponse)
async def reset(username: str, request: Request, session: Db, principal: Admin) -> Response:
    form = await request.form()
    try:
        user, password = reset_user(
            session,
            username,
            authenticator=form.get("authenticator") == "yes",
            by=principal.actor,
            clock=web_context(request).clock,
        )
    except WebError as error:
        return back_to("/users", problem=str(error))
    return _one_time(request, user, password, what="given a new one-time password")


@router.post("/users/{username}/remove", response_class=HTMLResponse)
def remove(username: str, request: Request, session: Db, principal: Admin) -> Response:
    if username == principal.user.username:
        return back_to("/users", problem="you cannot remove yourself: another admin can")
    try:
        user = dismiss_user(session, username, by=principal.actor, clock=web_context(request).clock)
    except WebError as error:
        return back_to("/users", problem=str(error))
    return back_to("/users", f"{user.username} removed: sessions ended, API tokens revoked")


@router.post("/tokens/{public_id}/revoke", response_class=HTMLResponse)
def revoke(public_id: str, request: Request, session: Db, principal: Admin) -> Response:
    try:
        token = withdraw_token(session, public_id, by=principal.actor, clock=web_context(request).clock)
    except WebError as error:
        return back_to("/users", problem=str(error))
    return back_to("/users", f"API token {token.public_id} revoked")
