"""`orderbridge accounts ...`: add, list and remove Amazon seller accounts (secrets never printed)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import httpx
import typer

from orderbridge.amazon.accounts import (
    NewAccount,
    add_account,
    get_account,
    list_accounts,
    remove_account,
    replace_secrets,
    sandbox_accounts,
)
from orderbridge.amazon.marketplaces import code_of, example_ids
from orderbridge.cli import context
from orderbridge.cli.catalog import AsJson
from orderbridge.cli.context import console, fail, read_only, unit_of_work
from orderbridge.cli.output import print_json, print_table
from orderbridge.clock import utc_now
from orderbridge.errors import OrderbridgeError
from orderbridge.privacy.keystore import KeyStore

accounts = typer.Typer(
    help="Amazon seller accounts: selling partner, region, marketplaces.", no_args_is_help=True
)


def keystore() -> KeyStore:
    """The installation's key store: the account secrets' keys live beside the book's PII keys."""
    return context.keystore()


@contextmanager
def _reported() -> Iterator[None]:
    try:
        yield
    except OrderbridgeError as error:
        raise fail(str(error)) from None


@accounts.command("add")
def add_command(
    selling_partner_id: Annotated[str, typer.Argument(help="The seller's selling partner (merchant) id.")],
    *,
    region: Annotated[str, typer.Option(help="NA, EU or FE.")],
    marketplaces: Annotated[
        str,
        typer.Option(
            help=f"Comma-separated marketplace ids or country codes, e.g. UK,DE or {example_ids('UK')}."
        ),
    ],
    client_id: Annotated[
        str,
        typer.Option(help="The LWA client id of your app.", prompt=True, envvar="ORDERBRIDGE_LWA_CLIENT_ID"),
    ],
    client_secret: Annotated[
        str,
        typer.Option(
            help="The LWA client secret (prompted hidden when not given).",
            prompt=True,
            hide_input=True,
            envvar="ORDERBRIDGE_LWA_CLIENT_SECRET",
            show_default=False,
        ),
    ],
    refresh_token: Annotated[
        str,
        typer.Option(
            help="The seller's LWA refresh token, Atzr|... (prompted hidden when not given).",
            prompt=True,
            hide_input=True,
            envvar="ORDERBRIDGE_LWA_REFRESH_TOKEN",
            show_default=False,
        ),
    ],
    name: Annotated[str, typer.Option(help="A name to know the account by.")] = "",
    endpoint: Annotated[
        str | None, typer.Option(help="SP-API base URL instead of the region's (sandbox or proxy).")
    ] = None,
    lwa_endpoint: Annotated[
        str | None, typer.Option(help="LWA token URL instead of https://api.amazon.com/auth/o2/token.")
    ] = None,
) -> None:
    """Add a seller account; its client secret and refresh token are stored encrypted."""
    new = NewAccount(
        selling_partner_id=selling_partner_id,
        name=name,
        region=region,
        lwa_client_id=client_id,
        client_secret=client_secret,
        refresh_token=refresh_token,
        marketplaces=[m for m in marketplaces.split(",") if m.strip()],
        sp_api_endpoint=endpoint,
        lwa_endpoint=lwa_endpoint,
    )
    with _reported():
        keys = keystore()
        with unit_of_work() as session:
            account = add_account(session, keys, new, clock=utc_now)
            label, markets = account.label, _countries(account.marketplace_ids)
    console.print(f"account {label} added ({markets})", highlight=False)


@accounts.command("add-sandbox")
def add_sandbox_command(
    url: Annotated[
        str, typer.Option(help="Where `orderbridge sandbox serve` listens.")
    ] = "http://127.0.0.1:8600",
) -> None:
    """Add every seller of a running sandbox as an account pointed at it (those already added are kept)."""
    try:
        response = httpx.get(url.rstrip("/") + "/_sandbox/state", timeout=10.0)
        response.raise_for_status()
        state = response.json()
    except (httpx.HTTPError, ValueError) as error:
        raise fail(f"no sandbox answers at {url}: {type(error).__name__}") from None
    with _reported():
        keys = keystore()
        with unit_of_work() as session:
            known = {(a.selling_partner_id, a.region) for a in list_accounts(session)}
            added = [
                add_account(session, keys, new, clock=utc_now).label
                for new in sandbox_accounts(state, url)
                if (new.selling_partner_id, new.region) not in known
            ]
    console.print(f"{len(added)} sandbox account(s) added: {', '.join(added) or 'none'}", highlight=False)


@accounts.command("list")
def list_command(as_json: AsJson = False) -> None:
    """List seller accounts (never their secrets)."""
    with _reported(), read_only() as session:
        rows = [
            {
                "id": a.id,
                "selling_partner_id": a.selling_partner_id,
                "name": a.name,
                "region": a.region,
                "marketplaces": _countries(a.marketplace_ids),
                "endpoint": a.endpoint,
                "lwa_endpoint": a.token_url,
                "created_at": a.created_at,
            }
            for a in list_accounts(session)
        ]
    if as_json:
        print_json(rows)
        return
    columns = ["selling_partner_id", "name", "region", "marketplaces", "endpoint", "created_at"]
    print_table(
        "Seller accounts",
        ["Selling partner", "Name", "Region", "Marketplaces", "SP-API endpoint", "Added"],
        [[str(row[c]) for c in columns] for row in rows],
    )


@accounts.command("rotate-secrets")
def rotate_command(
    selling_partner_id: Annotated[str, typer.Argument(help="The selling partner id of the account.")],
    *,
    region: Annotated[str | None, typer.Option(help="NA, EU or FE, when the seller has several.")] = None,
    client_secret: Annotated[
        str | None, typer.Option(help="The new LWA client secret.", envvar="ORDERBRIDGE_LWA_CLIENT_SECRET")
    ] = None,
    refresh_token: Annotated[
        str | None, typer.Option(help="The new refresh token.", envvar="ORDERBRIDGE_LWA_REFRESH_TOKEN")
    ] = None,
) -> None:
    """Replace the client secret and/or refresh token (prompted hidden when neither is given); the old
    ones are crypto-shredded."""
    if client_secret is None and refresh_token is None:
        client_secret = typer.prompt("New client secret", hide_input=True)
        refresh_token = typer.prompt("New refresh token (empty: keep)", hide_input=True, default="") or None
    with _reported():
        keys = keystore()
        with unit_of_work() as session:
            account = get_account(session, selling_partner_id, region)
            label = account.label
            replace_secrets(
                session,
                keys,
                account,
                client_secret=client_secret,
                refresh_token=refresh_token,
                actor="cli",
                clock=utc_now,
            )
    console.print(f"account {label}: secrets replaced; the old ones are destroyed", highlight=False)


@accounts.command("remove")
def remove_command(
    selling_partner_id: Annotated[str, typer.Argument(help="The selling partner id of the account.")],
    region: Annotated[str | None, typer.Option(help="NA, EU or FE, when the seller has several.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Remove an account and crypto-shred its stored secrets."""
    with _reported():
        keys = keystore()
        with unit_of_work() as session:
            account = get_account(session, selling_partner_id, region)
            label = account.label
            if not yes and not typer.confirm(f"remove account {label} and destroy its secrets?"):
                raise fail("nothing removed")
            remove_account(session, keys, account, actor="cli", clock=utc_now)
    console.print(f"account {label} removed; its secrets are destroyed", highlight=False)


def _countries(marketplace_ids: list[str]) -> str:
    return ",".join(code_of(m) for m in marketplace_ids)
