"""I1, O7: the quantity each connected FBM listing should show, and how it reaches Amazon.

A listing shows what its product (or bundle, computed from its components) has available in the
channel's FBM warehouse, less the listing's buffer. A push names only listings whose quantity differs
from what was last sent, so a burst of changes costs one update per listing. Few listings go by Listings
Items `patchListingsItem` (one call each, applied at once); many by one `JSON_LISTINGS_FEED` per
marketplace (createFeedDocument + upload + createFeed, then getFeed / getFeedDocument for the processing
report), whichever spends fewer calls. The nightly full push sends every listing, correcting drift.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.channel import settings_for
from orderbridge.amazon.listings import Listing, ListingFulfilment
from orderbridge.book.catalog import BundleComponent, Product
from orderbridge.book.channels import Channel
from orderbridge.book.errors import InvalidValueError
from orderbridge.book.inventory import available_quantity, warehouse_by_code
from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId, Json

FEED_TYPE = "JSON_LISTINGS_FEED"
FEED_CONTENT_TYPE = "application/json; charset=UTF-8"
# Listings Items needs a product type; PRODUCT is the generic one Amazon accepts for offer-only patches.
PRODUCT_TYPE = "PRODUCT"
QUANTITY_PATH = "/attributes/fulfillment_availability"
# Calls a feed spends: createFeedDocument, createFeed, about two getFeed polls and getFeedDocument.
FEED_CALLS = 5


class ListingStock(Base):
    """Per listing: units held back (buffer) and the quantity last sent to Amazon, with when."""

    __tablename__ = "amazon_listing_stock"
    listing_id: Mapped[int] = mapped_column(
        ForeignKey("amazon_listings.id", ondelete="CASCADE"), primary_key=True
    )
    buffer: Mapped[int] = mapped_column(Integer, default=0)
    last_quantity: Mapped[int | None] = mapped_column(Integer)
    pushed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class FeedState(StrEnum):
    SUBMITTED = "submitted"
    DONE = "done"
    FAILED = "failed"


class StockFeed(Base):
    """A JSON_LISTINGS_FEED sent and not yet read back: its SKUs, quantities and outbox messages."""

    __tablename__ = "amazon_stock_feeds"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("amazon_seller_accounts.id", ondelete="CASCADE"))
    marketplace_id: Mapped[str] = mapped_column(String(40))
    feed_id: Mapped[str] = mapped_column(String(60), index=True)
    state: Mapped[FeedState] = mapped_column(String(20), default=FeedState.SUBMITTED, index=True)
    submitted_at: Mapped[datetime] = mapped_column(UtcDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # sku -> [listing id, product id, quantity]; message ids of the outbox messages it carries
    lines: Mapped[dict[str, Any]] = mapped_column(Json)
    message_ids: Mapped[list[int]] = mapped_column(Json)
    errors: Mapped[int] = mapped_column(Integer, default=0)


@dataclass(frozen=True)
class Wanted:
    """A listing and the quantity Amazon should show for it."""

    listing_id: int
    product_id: int
    sku: str
    marketplace_id: str
    quantity: int


def set_buffer(session: Session, listing: Listing, units: int) -> ListingStock:
    """Hold `units` back from what the listing shows (0: show everything available)."""
    if units < 0:
        raise InvalidValueError(f"listing {listing.seller_sku}: buffer {units} is negative")
    stock = session.get(ListingStock, listing.id)
    if stock is None:
        stock = ListingStock(listing_id=listing.id, buffer=0)
        session.add(stock)
    stock.buffer = units
    return stock


def affected_listings(session: Session, product_ids: Iterable[int] | None) -> list[Listing]:
    """Connected FBM listings of these products and of every bundle containing one (O7); all with None."""
    query = select(Listing).where(
        Listing.product_id.is_not(None), Listing.fulfilment == ListingFulfilment.FBM
    )
    if product_ids is not None:
        ids = set(product_ids)
        if not ids:
            return []
        bundles = set(
            session.scalars(select(BundleComponent.bundle_id).where(BundleComponent.component_id.in_(ids)))
        )
        query = query.where(Listing.product_id.in_(ids | bundles))
    return list(session.scalars(query.order_by(Listing.id)))


def wanted_quantities(session: Session, listings: Sequence[Listing], *, full: bool) -> list[Wanted]:
    """What each listing should show; without `full`, only those that differ from the last push."""
    warehouses: dict[int, int | None] = {}
    stocks = {
        s.listing_id: s
        for s in session.scalars(
            select(ListingStock).where(ListingStock.listing_id.in_([listing.id for listing in listings]))
        )
    }
    wanted: list[Wanted] = []
    for listing in listings:
        channel = listing.channel
        if channel.id not in warehouses:
            warehouses[channel.id] = _fbm_warehouse_id(session, channel)
        warehouse_id = warehouses[channel.id]
        product = session.get(Product, listing.product_id)
        if warehouse_id is None or product is None or not channel.marketplace_id:
            continue  # no FBM warehouse set for the channel: nothing to say about its stock
        stock = stocks.get(listing.id)
        quantity = max(_available(session, product, warehouse_id) - (stock.buffer if stock else 0), 0)
        if not full and stock is not None and stock.last_quantity == quantity:
            continue
        wanted.append(Wanted(listing.id, product.id, listing.seller_sku, channel.marketplace_id, quantity))
    return wanted


def _available(session: Session, product: Product, warehouse_id: int) -> int:
    from orderbridge.book.inventory import Warehouse

    warehouse = session.get(Warehouse, warehouse_id)
    assert warehouse is not None
    return available_quantity(session, product, warehouse)


def _fbm_warehouse_id(session: Session, channel: Channel) -> int | None:
    code = settings_for(session, channel).fbm_warehouse
    return warehouse_by_code(session, code).id if code else None


def record_pushed(session: Session, sent: Iterable[Wanted], *, now: datetime) -> None:
    """Remember what Amazon was told, so the next push skips listings that did not change."""
    for line in sent:
        stock = session.get(ListingStock, line.listing_id)
        if stock is None:
            stock = ListingStock(listing_id=line.listing_id, buffer=0)
            session.add(stock)
        stock.last_quantity, stock.pushed_at = line.quantity, now


def forget_pushed(session: Session, listing_ids: Iterable[int]) -> None:
    """Amazon may not show these quantities (a feed failed): the next push sends them again."""
    for listing_id in listing_ids:
        stock = session.get(ListingStock, listing_id)
        if stock is not None:
            stock.last_quantity = None


def quantity_patch(quantity: int) -> dict[str, Any]:
    """The Listings Items patch that sets an FBM listing's quantity."""
    return {
        "op": "replace",
        "path": QUANTITY_PATH,
        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
    }


def feed_document(account: SellerAccount, lines: Sequence[Wanted]) -> bytes:
    """A JSON_LISTINGS_FEED of PATCH messages, one per listing (listings feed schema, version 2.0)."""
    messages = [
        {
            "messageId": number,
            "sku": line.sku,
            "operationType": "PATCH",
            "productType": PRODUCT_TYPE,
            "patches": [quantity_patch(line.quantity)],
        }
        for number, line in enumerate(lines, start=1)
    ]
    header = {"sellerId": account.selling_partner_id, "version": "2.0", "issueLocale": "en_US"}
    return json.dumps({"header": header, "messages": messages}).encode()


def use_feed(count: int) -> bool:
    """A feed when it spends fewer calls than one patch per listing."""
    return count > FEED_CALLS
