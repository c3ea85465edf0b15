"""Seller accounts: selling partner, region, marketplaces, endpoints and LWA secrets encrypted at rest."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import LargeBinary, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.amazon.errors import AccountError
from orderbridge.amazon.marketplaces import ENDPOINTS, Region, by_code
from orderbridge.book.types import UtcDateTime
from orderbridge.clock import Clock
from orderbridge.db import Base, BigId, Json
from orderbridge.privacy import key_lifecycle
from orderbridge.privacy.keystore import DataKey, KeyId, KeyKind, KeyStore
from orderbridge.privacy.vault import REDACTED, FieldRef, Vault

TABLE = "amazon_seller_accounts"
LWA_TOKEN_URL = "https://api.amazon.com/auth/o2/token"  # SPAPI.md §2.1: api.amazon.com for every region
_PARTNER_ID = re.compile(r"[A-Za-z0-9]{4,32}")


class SellerAccount(Base):
    """One selling partner in one region, as authorised for this installation's LWA application."""

    __tablename__ = TABLE
    __table_args__ = (UniqueConstraint("selling_partner_id", "region"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    selling_partner_id: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(2))
    lwa_client_id: Mapped[str] = mapped_column(String(200))
    # Vault ciphertexts (AES-256-GCM) under the account's own data key in the key store (outside the DB).
    client_secret: Mapped[bytes] = mapped_column(LargeBinary)
    refresh_token: Mapped[bytes] = mapped_column(LargeBinary)
    marketplace_ids: Mapped[list[str]] = mapped_column(Json)
    sp_api_endpoint: Mapped[str | None] = mapped_column(String(300))
    lwa_endpoint: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    def __repr__(self) -> str:
        return (
            f"SellerAccount({self.selling_partner_id}/{self.region}, "
            f"marketplaces={','.join(self.marketplace_ids)})"
        )

    @property
    def label(self) -> str:
        return f"{self.selling_partner_id}/{self.region}"

    @property
    def endpoint(self) -> str:
        """The SP-API base URL in force: the override, or the region's production host."""
        return self.sp_api_endpoint or ENDPOINTS[Region(self.region)]

    @property
    def token_url(self) -> str:
        """The LWA token URL in force: the override, or api.amazon.com."""
        return self.lwa_endpoint or LWA_TOKEN_URL


@dataclass(frozen=True)
class NewAccount:
    """What `add_account` needs; marketplaces may be marketplace ids or country codes (US)."""

    selling_partner_id: str
    name: str
    region: str
    lwa_client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    marketplaces: Sequence[str] = ()
    sp_api_endpoint: str | None = None
    lwa_endpoint: str | None = None


@dataclass(frozen=True)
class Credentials:
    """An account decrypted for the client: a plain value that never prints its secrets."""

    selling_partner_id: str
    region: str
    lwa_client_id: str
    client_secret: str = field(repr=False)
    refresh_token: str = field(repr=False)
    marketplace_ids: tuple[str, ...] = ()
    endpoint: str = ""
    token_url: str = LWA_TOKEN_URL

    @property
    def label(self) -> str:
        return f"{self.selling_partner_id}/{self.region}"


def parse_region(text: str) -> Region:
    try:
        return Region(text.strip().upper())
    except ValueError:
        raise AccountError(f"unknown region {text!r}: use NA, EU or FE") from None


def marketplace_ids(values: Sequence[str], region: Region) -> list[str]:
    """Marketplace ids from ids or country codes, each checked to belong to `region` (SPAPI.md §1)."""
    found: list[str] = []
    for raw in values:
        value = raw.strip()
        market = by_code(value)
        if market is None:
            raise AccountError(f"unknown marketplace {value!r}: give a marketplace id or a country code")
        if market.region is not region:
            raise AccountError(f"marketplace {value!r} is in region {market.region}, not {region}")
        if market.marketplace_id not in found:
            found.append(market.marketplace_id)
    if not found:
        raise AccountError("an account needs at least one marketplace")
    return found


def _endpoint(value: str | None, what: str) -> str | None:
    if value is None or not value.strip():
        return None
    value = value.strip().rstrip("/")
    if not value.startswith(("https://", "http://")):
        raise AccountError(f"{what} endpoint {value!r} must start with https:// or http://")
    return value


def _key(keys: KeyStore, selling_partner_id: str, region: str) -> DataKey:
    # The account's own data key: shredding it on removal makes every copy of the secrets unreadable.
    return keys.open_key(selling_partner_id, f"lwa-{region}")


def _ref(selling_partner_id: str, region: str, name: str) -> FieldRef:
    return FieldRef(TABLE, f"{selling_partner_id}/{region}", name)


def add_account(session: Session, keys: KeyStore, new: NewAccount, *, clock: Clock) -> SellerAccount:
    """Store a seller account with its secrets encrypted; AccountError names any bad value."""
    partner = new.selling_partner_id.strip()
    if not _PARTNER_ID.fullmatch(partner):
        raise AccountError(f"selling partner id {partner!r} must be 4-32 letters and digits")
    region = parse_region(new.region)
    for what, value in (
        ("LWA client id", new.lwa_client_id),
        ("client secret", new.client_secret),
        ("refresh token", new.refresh_token),
    ):
        if not value.strip():
            raise AccountError(f"account {partner}/{region}: the {what} is empty")
    markets = marketplace_ids(new.marketplaces, region)
    existing = session.scalar(
        select(SellerAccount).where(
            SellerAccount.selling_partner_id == partner, SellerAccount.region == region.value
        )
    )
    if existing is not None:
        raise AccountError(f"account {partner}/{region} already exists; remove it first to replace it")
    vault, key = Vault(keys), _key(keys, partner, region.value)
    account = SellerAccount(
        selling_partner_id=partner,
        name=new.name.strip() or partner,
        region=region.value,
        lwa_client_id=new.lwa_client_id.strip(),
        client_secret=vault.encrypt(
            new.client_secret.strip(), at=_ref(partner, region, "client_secret"), key=key
        ),
        refresh_token=vault.encrypt(
            new.refresh_token.strip(), at=_ref(partner, region, "refresh_token"), key=key
        ),
        marketplace_ids=markets,
        sp_api_endpoint=_endpoint(new.sp_api_endpoint, "SP-API"),
        lwa_endpoint=_endpoint(new.lwa_endpoint, "LWA"),
        created_at=clock(),
    )
    session.add(account)
    session.flush()
    return account


def sandbox_accounts(state: Mapping[str, Any], base_url: str) -> list[NewAccount]:
    """The sellers of a running sandbox (its `GET /_sandbox/state`) as accounts pointed at it."""
    base = base_url.rstrip("/")
    sellers = state.get("sellers")
    if not isinstance(sellers, list):
        raise AccountError(f"{base} does not look like an orderbridge sandbox (no sellers in its state)")
    try:
        return [_sandbox_account(seller, base) for seller in sellers]
    except (KeyError, TypeError) as error:
        raise AccountError(f"{base}: a sandbox seller lacks {error}") from None


def _sandbox_account(seller: Mapping[str, Any], base: str) -> NewAccount:
    return NewAccount(
        selling_partner_id=str(seller["sellerId"]),
        name=f"Sandbox {seller['sellerId']}",
        region=str(seller["region"]),
        lwa_client_id=str(seller["clientId"]),
        client_secret=str(seller["clientSecret"]),
        refresh_token=str(seller["refreshToken"]),
        marketplaces=[str(m) for m in seller["marketplaceIds"]],
        sp_api_endpoint=base,
        lwa_endpoint=f"{base}/auth/o2/token",
    )


def list_accounts(session: Session) -> list[SellerAccount]:
    return list(session.scalars(select(SellerAccount).order_by(SellerAccount.id)))


def get_account(session: Session, selling_partner_id: str, region: str | None = None) -> SellerAccount:
    """The account of a selling partner (and region, when the partner has more than one)."""
    query = select(SellerAccount).where(SellerAccount.selling_partner_id == selling_partner_id.strip())
    if region:
        query = query.where(SellerAccount.region == parse_region(region).value)
    found = list(session.scalars(query))
    if not found:
        where = f"{selling_partner_id}/{region}" if region else selling_partner_id
        raise AccountError(f"no seller account {where}")
    if len(found) > 1:
        regions = ", ".join(a.region for a in found)
        raise AccountError(f"seller {selling_partner_id} has accounts in {regions}: name the region")
    return found[0]


def credentials(account: SellerAccount, keys: KeyStore) -> Credentials:
    """Decrypt an account's secrets for the client (AccountError if its key was destroyed)."""
    vault = Vault(keys)
    partner, region = account.selling_partner_id, account.region
    secret = vault.read(account.client_secret, at=_ref(partner, region, "client_secret"))
    token = vault.read(account.refresh_token, at=_ref(partner, region, "refresh_token"))
    if secret is None or token is None or REDACTED in (secret, token):
        raise AccountError(f"account {account.label}: its secrets were destroyed; add the account again")
    return Credentials(
        selling_partner_id=partner,
        region=region,
        lwa_client_id=account.lwa_client_id,
        client_secret=secret,
        refresh_token=token,
        marketplace_ids=tuple(account.marketplace_ids),
        endpoint=account.endpoint,
        token_url=account.token_url,
    )


def _account_keys(keys: KeyStore, account: SellerAccount) -> list[KeyId]:
    slot = f"lwa-{account.region}"
    return [k for k in keys.live_keys(account.selling_partner_id, slot) if k.kind is KeyKind.OPEN]


def replace_secrets(
    session: Session,
    keys: KeyStore,
    account: SellerAccount,
    *,
    client_secret: str | None = None,
    refresh_token: str | None = None,
    actor: str,
    clock: Clock,
) -> None:
    """Rotate the LWA secrets (DPP R5): both are sealed under a fresh key and the old key is shredded,
    so copies of the old secrets in backups become unreadable."""
    current = credentials(account, keys)
    secret = current.client_secret if client_secret is None else client_secret.strip()
    token = current.refresh_token if refresh_token is None else refresh_token.strip()
    if not secret or not token:
        raise AccountError(f"account {account.label}: a new secret cannot be empty")
    old = _account_keys(keys, account)
    partner, region = account.selling_partner_id, account.region
    key = keys.roll_open_key(partner, f"lwa-{region}")
    vault = Vault(keys)
    account.client_secret = vault.encrypt(secret, at=_ref(partner, region, "client_secret"), key=key)
    account.refresh_token = vault.encrypt(token, at=_ref(partner, region, "refresh_token"), key=key)
    session.flush()
    for key_id in old:
        key_lifecycle.destroy_key(keys, session, key_id, actor=actor, clock=clock, reason="secrets rotated")


def remove_account(
    session: Session, keys: KeyStore, account: SellerAccount, *, actor: str, clock: Clock
) -> None:
    """Delete the account and crypto-shred its secrets' key (audited as `key_destroyed`)."""
    live = _account_keys(keys, account)
    session.delete(account)
    session.flush()
    for key_id in live:
        key_lifecycle.destroy_key(keys, session, key_id, actor=actor, clock=clock, reason="account removed")
