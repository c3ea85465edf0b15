"""Read queries over the Amazon connection for the web pages and the API: quarantine, listings, sync health
and an order's raw payload history (metadata only; the payloads are buyer data, opened by the caller)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlalchemy.orm import Session

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.api.calls import ApiCall
from orderbridge.amazon.api.quotas import QuotaBucket, refill
from orderbridge.amazon.health import SYNC_FAILING
from orderbridge.amazon.listings import Listing
from orderbridge.amazon.orders.cursors import SyncCursor
from orderbridge.amazon.orders.inbox import ORDER, InboxItem, InboxStatus
from orderbridge.book.alerts import Subject, open_alerts
from orderbridge.book.catalog import Product
from orderbridge.book.channels import Channel
from orderbridge.book.queries.paging import AnySelect, Page, decode, keyset_page, page_size
from orderbridge.clock import as_utc


@dataclass(frozen=True)
class QuarantineLine:
    id: int
    account: str
    marketplace_id: str
    order_id: str
    version_time: datetime
    reason: str | None
    attempts: int
    processed_at: datetime | None


def quarantined_count(session: Session) -> int:
    query = select(func.count()).where(InboxItem.status == InboxStatus.QUARANTINED)
    return int(session.scalar(query) or 0)


def quarantine_page(
    session: Session, *, cursor: str | None = None, size: int | None = None
) -> Page[QuarantineLine]:
    """Quarantined inbox items, oldest first, with the reason mapping or booking gave."""
    accounts = {
        account_id: f"{partner}/{region}"
        for account_id, partner, region in session.execute(
            select(SellerAccount.id, SellerAccount.selling_partner_id, SellerAccount.region)
        )
    }
    query: AnySelect = select(
        InboxItem.id,
        InboxItem.account_id,
        InboxItem.marketplace_id,
        InboxItem.natural_id,
        InboxItem.version_time,
        InboxItem.reason,
        InboxItem.attempts,
        InboxItem.processed_at,
    ).where(InboxItem.status == InboxStatus.QUARANTINED)

    def line(row: Any) -> QuarantineLine:
        return QuarantineLine(
            row.id,
            accounts.get(row.account_id, str(row.account_id)),
            row.marketplace_id,
            row.natural_id,
            as_utc(row.version_time),
            row.reason,
            row.attempts,
            as_utc(row.processed_at) if row.processed_at else None,
        )

    return keyset_page(
        session,
        query,
        columns=(InboxItem.id,),
        key_of=lambda row: (row.id,),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        descending=False,
        convert=line,
    )


def quarantined_account_ids(session: Session) -> list[int]:
    query = select(InboxItem.account_id).where(InboxItem.status == InboxStatus.QUARANTINED).distinct()
    return sorted(session.scalars(query))


# -- listings -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ListingLine:
    id: int
    channel: str
    seller_sku: str
    asin: str | None
    title: str | None
    fulfilment: str
    product_sku: str | None
    last_seen_at: datetime


def unconnected_count(session: Session) -> int:
    return int(session.scalar(select(func.count()).where(Listing.product_id.is_(None))) or 0)


def listings_page(
    session: Session,
    *,
    unconnected_only: bool = False,
    channel_id: int | None = None,
    sku: str | None = None,
    cursor: str | None = None,
    size: int | None = None,
) -> Page[ListingLine]:
    """Listings in the order they were first seen (unconnected ones only when asked; those whose seller
    SKU or connected product's SKU is `sku`, when given)."""
    query: AnySelect = (
        select(
            Listing.id,
            Channel.code,
            Listing.seller_sku,
            Listing.asin,
            Listing.title,
            Listing.fulfilment,
            Product.sku,
            Listing.last_seen_at,
        )
        .join(Channel, Channel.id == Listing.channel_id)
        .outerjoin(Product, Product.id == Listing.product_id)
    )
    if unconnected_only:
        query = query.where(Listing.product_id.is_(None))
    if channel_id is not None:
        query = query.where(Listing.channel_id == channel_id)
    if sku:
        query = query.where(or_(Listing.seller_sku == sku.strip(), Product.sku == sku.strip()))

    def line(row: Any) -> ListingLine:
        values = list(row)
        values[5] = str(values[5])
        values[7] = as_utc(values[7])
        return ListingLine(*values)

    return keyset_page(
        session,
        query,
        columns=(Listing.id,),
        key_of=lambda row: (row[0],),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        descending=False,
        convert=line,
    )


# -- sync health ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class QuotaUse:
    operation: str
    used: float  # 0..1 of the burst, refilled to now
    rate: float
    burst: int


@dataclass(frozen=True)
class AccountHealth:
    id: int
    label: str
    name: str
    marketplaces: list[str]
    last_sync: datetime | None
    calls: int
    throttled: int
    errors: int
    quotas: list[QuotaUse]
    quarantined: int
    failing: str | None = None  # the open sync alert's text, when the account's sync is failing


def sync_health(
    session: Session, *, now: datetime, window: timedelta = timedelta(hours=24)
) -> list[AccountHealth]:
    """Per account: when an order search last finished, calls, 429s and other errors in the window, how
    much of each quota bucket is in use now, and how many of its orders wait in quarantine."""
    last_query = select(SyncCursor.account_id, func.max(SyncCursor.updated_at)).group_by(
        SyncCursor.account_id
    )
    last = {account_id: stamp for account_id, stamp in session.execute(last_query)}
    # The window ends at the account's latest call when that is later than now: a sandbox's clock runs
    # ahead of the web's, and its last 24 hours are those of its own clock.
    latest_query = select(ApiCall.selling_partner_id, ApiCall.region, func.max(ApiCall.at)).group_by(
        ApiCall.selling_partner_id, ApiCall.region
    )
    calls: dict[tuple[str, str], tuple[int, int, int]] = {}
    for partner, region, latest in session.execute(latest_query):
        since = max(as_utc(now), as_utc(latest)) - window
        call_query = select(
            func.count(),
            func.sum(case((ApiCall.status == 429, 1), else_=0)),
            func.sum(
                case(
                    ((ApiCall.status == 0) | ((ApiCall.status >= 400) & (ApiCall.status != 429)), 1), else_=0
                )
            ),
        ).where(ApiCall.selling_partner_id == partner, ApiCall.region == region, ApiCall.at >= since)
        total, throttled, failed = session.execute(call_query).one()
        calls[(partner, region)] = (int(total), int(throttled or 0), int(failed or 0))
    failing = {
        alert.subject_id: alert.message
        for alert in open_alerts(session, Subject.ACCOUNT)
        if alert.kind == SYNC_FAILING
    }
    quotas: dict[tuple[str, str], list[QuotaUse]] = {}
    for bucket in session.scalars(select(QuotaBucket).order_by(QuotaBucket.operation)):
        elapsed = (as_utc(now) - as_utc(bucket.stamp)).total_seconds()
        tokens = refill(bucket.tokens, bucket.rate, bucket.burst, elapsed)
        used = 1.0 - tokens / bucket.burst if bucket.burst else 0.0
        quotas.setdefault((bucket.selling_partner_id, bucket.region), []).append(
            QuotaUse(bucket.operation, max(0.0, min(used, 1.0)), bucket.rate, bucket.burst)
        )
    waiting_query = (
        select(InboxItem.account_id, func.count())
        .where(InboxItem.status == InboxStatus.QUARANTINED)
        .group_by(InboxItem.account_id)
    )
    waiting = {account_id: int(count) for account_id, count in session.execute(waiting_query)}
    found = []
    for account in session.scalars(select(SellerAccount).order_by(SellerAccount.id)):
        key = (account.selling_partner_id, account.region)
        total, throttled, failed = calls.get(key, (0, 0, 0))
        stamp = last.get(account.id)
        found.append(
            AccountHealth(
                account.id,
                account.label,
                account.name,
                list(account.marketplace_ids),
                as_utc(stamp) if stamp else None,
                total,
                throttled,
                failed,
                quotas.get(key, []),
                int(waiting.get(account.id, 0)),
                failing.get(account.id),
            )
        )
    return found


# -- an order's raw versions ------------------------------------------------------------------------


def payload_history(session: Session, amazon_order_id: str) -> list[InboxItem]:
    """Every version of an Amazon order the inbox holds, oldest first (payloads still sealed)."""
    query = (
        select(InboxItem)
        .where(InboxItem.kind == ORDER, InboxItem.natural_id == amazon_order_id)
        .order_by(InboxItem.version_time, InboxItem.id)
    )
    return list(session.scalars(query))
