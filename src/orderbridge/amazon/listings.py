"""Amazon listings: a seller SKU on a marketplace, connected to a book product or bundle (O5-O7), or not."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from orderbridge.book.catalog import Product, product_by_sku
from orderbridge.book.channels import Channel
from orderbridge.book.errors import InvalidValueError, NotFoundError
from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId


class ListingFulfilment(StrEnum):
    FBM = "fbm"
    FBA = "fba"


class Listing(Base):
    """One seller SKU on one marketplace (its channel); `product_id` is empty until it is connected."""

    __tablename__ = "amazon_listings"
    __table_args__ = (UniqueConstraint("channel_id", "seller_sku"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"))
    seller_sku: Mapped[str] = mapped_column(String(100))
    asin: Mapped[str | None] = mapped_column(String(20))
    title: Mapped[str | None] = mapped_column(String(500))
    fulfilment: Mapped[ListingFulfilment] = mapped_column(String(10), default=ListingFulfilment.FBM)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())

    product: Mapped[Product | None] = relationship(lazy="joined")
    channel: Mapped[Channel] = relationship(lazy="joined")

    @property
    def is_connected(self) -> bool:
        return self.product_id is not None


@dataclass(frozen=True)
class SeenListing:
    """A SKU as an order names it: recorded so that `listings unconnected` can list it (O6)."""

    seller_sku: str
    asin: str | None = None
    title: str | None = None
    fulfilment: ListingFulfilment = ListingFulfilment.FBM


def find_listing(session: Session, channel: Channel, seller_sku: str) -> Listing | None:
    return session.scalar(
        select(Listing).where(Listing.channel_id == channel.id, Listing.seller_sku == seller_sku)
    )


def listings_by_sku(session: Session, channel_id: int, skus: Iterable[str]) -> dict[str, Listing]:
    """The channel's listings of these SKUs, in one query."""
    wanted = sorted(set(skus))
    if not wanted:
        return {}
    query = select(Listing).where(Listing.channel_id == channel_id, Listing.seller_sku.in_(wanted))
    return {listing.seller_sku: listing for listing in session.scalars(query)}


def _new_listing(channel: Channel, seen: SeenListing, now: datetime) -> Listing:
    return Listing(
        channel_id=channel.id,
        seller_sku=seen.seller_sku,
        asin=seen.asin,
        title=seen.title,
        fulfilment=seen.fulfilment,
        first_seen_at=now,
        last_seen_at=now,
    )


def record_seen(session: Session, channel: Channel, seen: Iterable[SeenListing], *, now: datetime) -> None:
    """Remember SKUs that orders named (new ones unconnected); ASIN and title fill in when missing."""
    wanted = {item.seller_sku: item for item in seen}
    known = listings_by_sku(session, channel.id, wanted)
    for sku, item in wanted.items():
        listing = known.get(sku)
        if listing is None:
            session.add(_new_listing(channel, item, now))
            continue
        listing.last_seen_at = now
        listing.asin = listing.asin or item.asin
        listing.title = listing.title or item.title
    session.flush()


def connect_listing(
    session: Session,
    channel: Channel,
    seller_sku: str,
    product_sku: str,
    *,
    now: datetime,
    asin: str | None = None,
    fulfilment: ListingFulfilment | None = None,
) -> Listing:
    """Connect a seller SKU to a book product or bundle (created as a listing if never seen)."""
    if not seller_sku.strip():
        raise InvalidValueError(f"channel {channel.code}: seller SKU is empty")
    product = product_by_sku(session, product_sku)
    listing = find_listing(session, channel, seller_sku)
    if listing is None:
        listing = _new_listing(channel, SeenListing(seller_sku, asin), now)
        session.add(listing)
    listing.product_id = product.id
    listing.product = product
    listing.asin = asin or listing.asin
    if fulfilment is not None:
        listing.fulfilment = fulfilment
    session.flush()
    return listing


def disconnect_listing(session: Session, channel: Channel, seller_sku: str) -> Listing:
    """Leave the listing known but connected to nothing: later orders book free-text rows (O6)."""
    listing = find_listing(session, channel, seller_sku)
    if listing is None:
        raise NotFoundError(f"listing on {channel.code}", seller_sku)
    listing.product_id = None
    listing.product = None
    session.flush()
    return listing


def channel_listings(
    session: Session, channel: Channel | None = None, *, unconnected_only: bool = False
) -> list[Listing]:
    """Listings by channel and SKU; only those connected to nothing with `unconnected_only`."""
    query = select(Listing).join(Channel, Channel.id == Listing.channel_id)
    if channel is not None:
        query = query.where(Listing.channel_id == channel.id)
    if unconnected_only:
        query = query.where(Listing.product_id.is_(None))
    return list(session.scalars(query.order_by(Channel.code, Listing.seller_sku)))
