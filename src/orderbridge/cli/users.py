"""`orderbridge users add|list|remove|reset-password` and `orderbridge tokens add|list|revoke`."""

from __future__ import annotations

from typing import Annotated

import typer

from orderbridge.cli.context import cli_actor, console, fail, read_only, unit_of_work
from orderbridge.cli.output import print_table
from orderbridge.clock import utc_now
from orderbridge.web.errors import WebError
from orderbridge.web.roles import parse_permissions, permissions_of
from orderbridge.web.tokens import MAX_DAYS, tokens_of
from orderbridge.web.user_admin import (
    admit_user,
    change_role,
    dismiss_user,
    issue_token,
    reset_user,
    withdraw_token,
)
from orderbridge.web.users import active_users, get_user, parse_role

users = typer.Typer(
    help="Users of the web UI and API (unique people; roles; DPP password policy).", no_args_is_help=True
)
tokens = typer.Typer(help="API tokens: scoped, expiring, shown once, stored hashed.", no_args_is_help=True)

RoleOption = Annotated[str, typer.Option("--role", help="admin, operator, viewer or auditor.")]


def _show_once(what: str, secret: str) -> None:
    console.print(f"{what} (shown once, not stored in plain text):", highlight=False)
    console.print(f"    {secret}", highlight=False, soft_wrap=True)


@users.command("add")
def add_command(
    username: Annotated[str, typer.Argument(help="Lower-case user name, e.g. jsmith (not an e-mail).")],
    role: RoleOption = "operator",
    full_name: Annotated[str, typer.Option("--full-name", help="The person's name.")] = "",
    set_password: Annotated[
        bool, typer.Option("--set-password", help="Type the password instead of getting a one-time one.")
    ] = False,
) -> None:
    """Add a user. Without --set-password a one-time password is printed, to change at first sign-in."""
    chosen = None
    if set_password:
        chosen = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        with unit_of_work() as session:
            admitted = admit_user(
                session,
                username,
                role=parse_role(role),
                password=chosen,
                full_name=full_name,
                by=cli_actor(),
                clock=utc_now,
            )
    except WebError as error:
        raise fail(str(error)) from None
    console.print(f"user {admitted.user.username} added ({admitted.user.role})", highlight=False)
    if admitted.one_time_password is not None:
        _show_once("one-time password", admitted.one_time_password)
    console.print("At first sign-in they choose a password and set up an authenticator app (TOTP).")


@users.command("list")
def list_command() -> None:
    """Active users, their roles and sign-in state."""
    with read_only() as session:
        rows = [
            [
                u.username,
                u.full_name,
                u.role,
                "yes" if u.totp_confirmed_at else "no",
                f"{u.password_changed_at:%Y-%m-%d}",
                "yes" if u.failed_sign_ins >= 10 else "no",
            ]
            for u in active_users(session)
        ]
    print_table("Users", ["user", "name", "role", "authenticator", "password set", "locked"], rows)


@users.command("remove")
def remove_command(username: Annotated[str, typer.Argument(help="The user name.")]) -> None:
    """Remove a user: their sessions end and their API tokens stop at once (AC-23)."""
    try:
        with unit_of_work() as session:
            user = dismiss_user(session, username, by=cli_actor(), clock=utc_now)
    except WebError as error:
        raise fail(str(error)) from None
    console.print(f"user {user.username} removed; sessions ended, API tokens revoked", highlight=False)


@users.command("role")
def role_command(
    username: Annotated[str, typer.Argument(help="The user name.")],
    role: Annotated[str, typer.Argument(help="admin, operator, viewer or auditor.")],
) -> None:
    """Give a user another role (it applies at their next request, API tokens included)."""
    try:
        with unit_of_work() as session:
            user = change_role(session, username, parse_role(role), by=cli_actor(), clock=utc_now)
    except WebError as error:
        raise fail(str(error)) from None
    console.print(f"user {user.username} is now {user.role}", highlight=False)


@users.command("reset-password")
def reset_command(
    username: Annotated[str, typer.Argument(help="The user name.")],
    authenticator: Annotated[
        bool, typer.Option("--authenticator", help="Also make them set up their authenticator again.")
    ] = False,
) -> None:
    """Give a user a one-time password (and lift a lockout); their sessions end."""
    try:
        with unit_of_work() as session:
            user, password = reset_user(
                session, username, authenticator=authenticator, by=cli_actor(), clock=utc_now
            )
    except WebError as error:
        raise fail(str(error)) from None
    _show_once(f"one-time password for {user.username}", password)


@tokens.command("add")
def token_add_command(
    username: Annotated[str, typer.Argument(help="The user the token acts for.")],
    name: Annotated[str, typer.Option("--name", help="What the token is for, e.g. 'shipping script'.")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="A permission, e.g. orders:read (repeatable).")
    ] = None,
    days: Annotated[int, typer.Option("--days", help=f"Days until it expires (1-{MAX_DAYS}).")] = MAX_DAYS,
) -> None:
    """Add an API token; without --scope it gets the user's read permissions (never pii:read)."""
    try:
        with unit_of_work() as session:
            user = get_user(session, username)
            scopes = (
                parse_permissions(scope)
                if scope
                else frozenset(
                    p
                    for p in permissions_of(user.role)
                    if p.value.endswith(":read") and p.value != "pii:read"
                )
            )
            secret, token = issue_token(
                session, user.username, name=name, scopes=scopes, days=days, by=cli_actor(), clock=utc_now
            )
    except (WebError, ValueError) as error:
        raise fail(str(error)) from None
    console.print(
        f"token {token.public_id} for {user.username}: {', '.join(token.scopes)}; "
        f"expires {token.expires_at:%Y-%m-%d}",
        highlight=False,
    )
    _show_once("API token", secret)


@tokens.command("list")
def token_list_command() -> None:
    """Every API token (never the secret)."""
    with read_only() as session:
        names = {u.id: u.username for u in active_users(session)}
        rows = [
            [
                t.public_id,
                names.get(t.user_id, "(removed)"),
                t.name,
                " ".join(t.scopes),
                f"{t.expires_at:%Y-%m-%d}",
                f"{t.last_used_at:%Y-%m-%d %H:%M}" if t.last_used_at else "-",
                "revoked" if t.revoked_at else "live",
            ]
            for t in tokens_of(session)
        ]
    print_table("API tokens", ["id", "user", "name", "scopes", "expires", "last used", "state"], rows)


@tokens.command("revoke")
def token_revoke_command(
    public_id: Annotated[str, typer.Argument(help="The token id (tokens list).")],
) -> None:
    """Revoke a token at once."""
    try:
        with unit_of_work() as session:
            token = withdraw_token(session, public_id, by=cli_actor(), clock=utc_now)
    except WebError as error:
        raise fail(str(error)) from None
    console.print(f"token {token.public_id} revoked", highlight=False)
