"""Seller accounts: add / list / get / remove, secrets encrypted at rest and never shown, the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from orderbridge.amazon.accounts import (
    LWA_TOKEN_URL,
    NewAccount,
    SellerAccount,
    add_account,
    credentials,
    get_account,
    list_accounts,
    remove_account,
    replace_secrets,
    sandbox_accounts,
)
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.api.quotas import QuotaLimiter
from orderbridge.amazon.api.types import OrdersQuery
from orderbridge.amazon.errors import AccountError
from orderbridge.amazon.marketplaces import ENDPOINTS, Region
from orderbridge.cli import accounts as accounts_cli
from orderbridge.cli import context
from orderbridge.cli.app import app
from orderbridge.db import make_engine, session_factory
from orderbridge.privacy.keystore import KeyStore, open_keystore
from orderbridge.privacy.models import AuditEntry
from orderbridge.privacy.vault import REDACTED, FieldRef, Vault
from orderbridge.simulator.app import Sandbox
from tests.conftest import STORES

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SECRET = "amzn1.oa2-cs.v1.SECRETSECRETSECRET0001"
REFRESH = "Atzr|IwEBIREFRESHREFRESHREFRESH0002"


def _clock() -> datetime:
    return NOW


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return open_keystore(tmp_path / "keys", key_file=tmp_path / "kek" / "orderbridge.kek", environ={})


def _new(**changes: object) -> NewAccount:
    values: dict[str, object] = {
        "selling_partner_id": "A3TH9S8BH6GOGM",
        "name": "Main store",
        "region": "EU",
        "lwa_client_id": "amzn1.application-oa2-client.0001",
        "client_secret": SECRET,
        "refresh_token": REFRESH,
        "marketplaces": ["UK", "A1PA6795UKMFR9"],
    }
    values.update(changes)
    return NewAccount(**values)  # type: ignore[arg-type]


def test_add_list_get_and_decrypt(session: Session, keys: KeyStore) -> None:
    account = add_account(session, keys, _new(), clock=_clock)
    assert account.marketplace_ids == ["A1F83G8C2ARO7P", "A1PA6795UKMFR9"]
    assert account.endpoint == ENDPOINTS[Region.EU] and account.token_url == LWA_TOKEN_URL
    assert [a.label for a in list_accounts(session)] == ["A3TH9S8BH6GOGM/EU"]
    found = get_account(session, "A3TH9S8BH6GOGM")
    creds = credentials(found, keys)
    assert (creds.client_secret, creds.refresh_token) == (SECRET, REFRESH)
    assert creds.marketplace_ids == ("A1F83G8C2ARO7P", "A1PA6795UKMFR9")


def test_endpoints_can_be_overridden_for_the_sandbox(session: Session, keys: KeyStore) -> None:
    new = _new(sp_api_endpoint="http://127.0.0.1:8100/", lwa_endpoint="http://127.0.0.1:8100/auth/o2/token")
    creds = credentials(add_account(session, keys, new, clock=_clock), keys)
    assert creds.endpoint == "http://127.0.0.1:8100"
    assert creds.token_url == "http://127.0.0.1:8100/auth/o2/token"


def test_R5_secrets_never_show_in_repr(session: Session, keys: KeyStore) -> None:
    account = add_account(session, keys, _new(), clock=_clock)
    shown = " ".join(
        [repr(account), repr(credentials(account, keys)), repr(_new()), str(vars(_new()).keys())]
    )
    assert SECRET not in shown and REFRESH not in shown
    assert "A3TH9S8BH6GOGM/EU" in repr(account)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"region": "US"}, "unknown region 'US': use NA, EU or FE"),
        ({"marketplaces": ["US"]}, "marketplace 'US' is in region NA, not EU"),
        ({"marketplaces": ["XX"]}, "unknown marketplace 'XX'"),
        ({"marketplaces": []}, "at least one marketplace"),
        ({"client_secret": " "}, "the client secret is empty"),
        ({"selling_partner_id": "A3/../x"}, "must be 4-32 letters and digits"),
        ({"sp_api_endpoint": "ftp://x"}, "must start with https:// or http://"),
    ],
)
def test_bad_values_are_named(
    session: Session, keys: KeyStore, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(AccountError, match=message) as caught:
        add_account(session, keys, _new(**changes), clock=_clock)
    assert SECRET not in str(caught.value)


def test_an_account_is_added_once_and_a_seller_in_two_regions_needs_the_region(
    session: Session, keys: KeyStore
) -> None:
    add_account(session, keys, _new(), clock=_clock)
    with pytest.raises(AccountError, match="already exists"):
        add_account(session, keys, _new(), clock=_clock)
    add_account(session, keys, _new(region="NA", marketplaces=["US", "CA"]), clock=_clock)
    with pytest.raises(AccountError, match="has accounts in EU, NA: name the region"):
        get_account(session, "A3TH9S8BH6GOGM")
    assert get_account(session, "A3TH9S8BH6GOGM", "na").region == "NA"
    with pytest.raises(AccountError, match="no seller account A9NOBODY000"):
        get_account(session, "A9NOBODY000")


def test_R5_remove_shreds_the_secrets_key_and_audits_it(session: Session, keys: KeyStore) -> None:
    account = add_account(session, keys, _new(), clock=_clock)
    copied = bytes(account.refresh_token)  # as a backup of the database would hold it
    remove_account(session, keys, account, actor="test", clock=_clock)
    assert list_accounts(session) == []
    at = FieldRef("amazon_seller_accounts", "A3TH9S8BH6GOGM/EU", "refresh_token")
    assert Vault(keys).read(copied, at=at) == REDACTED
    entry = session.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
    assert entry is not None and entry.detail["reason"] == "account removed"
    # the same seller can be added again, under a new key
    again = add_account(session, keys, _new(), clock=_clock)
    assert credentials(again, keys).refresh_token == REFRESH


def test_R5_rotating_secrets_shreds_the_old_ones(session: Session, keys: KeyStore) -> None:
    account = add_account(session, keys, _new(), clock=_clock)
    old_secret, old_token = bytes(account.client_secret), bytes(account.refresh_token)
    replace_secrets(session, keys, account, client_secret="amzn1.oa2-cs.v1.NEW", actor="test", clock=_clock)
    creds = credentials(get_account(session, "A3TH9S8BH6GOGM"), keys)
    assert (creds.client_secret, creds.refresh_token) == ("amzn1.oa2-cs.v1.NEW", REFRESH)
    vault, ref = Vault(keys), "A3TH9S8BH6GOGM/EU"
    assert vault.read(old_secret, at=FieldRef("amazon_seller_accounts", ref, "client_secret")) == REDACTED
    assert vault.read(old_token, at=FieldRef("amazon_seller_accounts", ref, "refresh_token")) == REDACTED
    with pytest.raises(AccountError, match="a new secret cannot be empty"):
        replace_secrets(session, keys, account, refresh_token=" ", actor="test", clock=_clock)


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_R5_R7_secrets_are_not_in_plaintext_in_the_database(fresh_store_url: str, keys: KeyStore) -> None:
    engine = make_engine(fresh_store_url)
    with session_factory(engine).begin() as session:
        add_account(session, keys, _new(), clock=_clock)
    with engine.connect() as connection:
        raw = connection.execute(
            text("SELECT client_secret, refresh_token FROM amazon_seller_accounts")
        ).one()
    engine.dispose()
    stored = b"".join(bytes(value) for value in raw)
    for secret in (SECRET, REFRESH):
        assert secret.encode() not in stored
        assert secret[-12:].encode() not in stored
    if fresh_store_url.startswith("sqlite"):
        database = Path(fresh_store_url.removeprefix("sqlite:///"))
        files = [p for p in database.parent.iterdir() if p.name.startswith(database.name)]
        content = b"".join(p.read_bytes() for p in files)
        assert b"A3TH9S8BH6GOGM" in content  # the file was really read
        assert SECRET.encode() not in content and REFRESH.encode() not in content


# -- the command line -----------------------------------------------------------------------------


def _forget_store() -> None:
    context.forget()  # each test has its own store and key store


@pytest.fixture
def cli(
    fresh_store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CliRunner]:
    secure = tmp_path_factory.mktemp("secure")  # never beside the SQLite file (AC-18)
    monkeypatch.setenv("ORDERBRIDGE_DATABASE_URL", fresh_store_url)
    monkeypatch.setenv("ORDERBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ORDERBRIDGE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("ORDERBRIDGE_KEY_STORE_DIR", str(secure / "keystore"))
    monkeypatch.setenv("ORDERBRIDGE_KEK_FILE", str(secure / "kek" / "orderbridge.kek"))
    monkeypatch.delenv("ORDERBRIDGE_KEK", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    _forget_store()
    yield CliRunner()
    _forget_store()


def test_cli_add_prompts_for_secrets_hidden_lists_and_removes(cli: CliRunner) -> None:
    # given: secrets typed at hidden prompts
    add = [
        "accounts",
        "add",
        "A3TH9S8BH6GOGM",
        "--region",
        "EU",
        "--marketplaces",
        "UK,DE",
        "--client-id",
        "cid",
    ]
    result = cli.invoke(app, add, input=f"{SECRET}\n{REFRESH}\n")
    assert result.exit_code == 0, result.output
    assert "account A3TH9S8BH6GOGM/EU added (UK,DE)" in result.output
    assert SECRET not in result.output and REFRESH not in result.output
    # when: listed
    listed = cli.invoke(app, ["accounts", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert '"marketplaces": "UK,DE"' in listed.output
    assert SECRET not in listed.output and REFRESH not in listed.output
    table = cli.invoke(app, ["accounts", "list"])
    assert "A3TH9S8BH6GOGM" in table.output and "sellingpartnerapi-eu.amazon.com" in table.output
    # and: rotated
    rotated = cli.invoke(app, ["accounts", "rotate-secrets", "A3TH9S8BH6GOGM"], input="new-secret\n\n")
    assert rotated.exit_code == 0, rotated.output
    assert "secrets replaced" in rotated.output and "new-secret" not in rotated.output
    # then: removed
    removed = cli.invoke(app, ["accounts", "remove", "A3TH9S8BH6GOGM", "--yes"])
    assert removed.exit_code == 0, removed.output
    assert "secrets are destroyed" in removed.output
    assert "A3TH9S8BH6GOGM" not in cli.invoke(app, ["accounts", "list"]).output


@pytest.mark.parametrize(
    ("region", "marketplaces", "message"),
    [("XX", "UK", "unknown region 'XX'"), ("EU", "US", "marketplace 'US' is in region NA, not EU")],
)
def test_cli_names_a_bad_region_or_marketplace(
    cli: CliRunner, region: str, marketplaces: str, message: str
) -> None:
    args = ["accounts", "add", "A3TH9S8BH6GOGM", "--region", region, "--marketplaces", marketplaces]
    args += ["--client-id", "cid", "--client-secret", SECRET, "--refresh-token", REFRESH]
    result = cli.invoke(app, args)
    assert result.exit_code == 1
    assert message in result.output
    assert SECRET not in result.output


def test_cli_remove_of_an_unknown_account_fails(cli: CliRunner) -> None:
    result = cli.invoke(app, ["accounts", "remove", "A9NOBODY000", "--yes"])
    assert result.exit_code == 1 and "no seller account A9NOBODY000" in result.output


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_sandbox_accounts_are_added_and_the_client_reaches_the_sandbox_on_a_real_port(
    cli: CliRunner, live_sandbox_url: str, fresh_store_url: str, sandbox: Sandbox
) -> None:
    # given: `orderbridge sandbox serve` running, and no account yet
    result = cli.invoke(app, ["accounts", "add-sandbox", "--url", live_sandbox_url])
    assert result.exit_code == 0, result.output
    assert f"{len(sandbox.world.accounts)} sandbox account(s) added" in result.output
    again = cli.invoke(app, ["accounts", "add-sandbox", "--url", live_sandbox_url])
    assert "0 sandbox account(s) added: none" in again.output
    # when: a client is built from the stored, encrypted account (no injected transport)
    seller = next(a for a in sandbox.world.accounts.values() if a.region == "NA")
    engine = make_engine(fresh_store_url)
    sessions = session_factory(engine)
    with sessions() as session:
        creds = credentials(get_account(session, seller.seller_id), accounts_cli.keystore())
    now = datetime.fromtimestamp(sandbox.clock.now(), UTC)
    with SpApiClient(creds, quotas=QuotaLimiter(sessions, clock=lambda: now), clock=lambda: now) as client:
        page = client.search_orders(
            OrdersQuery(creds.marketplace_ids, created_after=now - timedelta(days=30))
        )
    engine.dispose()
    # then
    assert creds.endpoint == live_sandbox_url
    assert {o["orderId"] for o in page.orders} <= set(sandbox.world.orders)
    assert page.orders


def test_a_state_that_is_not_a_sandbox_is_refused() -> None:
    with pytest.raises(AccountError, match="does not look like an orderbridge sandbox"):
        sandbox_accounts({"orders": 3}, "http://127.0.0.1:8600")
    with pytest.raises(AccountError, match="a sandbox seller lacks 'clientId'"):
        sandbox_accounts({"sellers": [{"sellerId": "A1", "region": "NA"}]}, "http://127.0.0.1:8600/")


def test_cli_add_sandbox_names_an_unreachable_sandbox(cli: CliRunner) -> None:
    result = cli.invoke(app, ["accounts", "add-sandbox", "--url", "http://127.0.0.1:9"])
    assert result.exit_code == 1 and "no sandbox answers at http://127.0.0.1:9" in result.output


def test_seller_account_table_keeps_no_plain_secret_column() -> None:
    columns = {c.name: str(c.type) for c in SellerAccount.__table__.columns}
    assert columns["client_secret"] == columns["refresh_token"] == "BLOB"
