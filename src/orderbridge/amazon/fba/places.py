"""Where FBA facts land in the book: a seller SKU's product, and a marketplace's (or country's) warehouses
for one seller account (its FBA stock is its own: fba_warehouses.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.channel import channel_for, settings_for
from orderbridge.amazon.fba_warehouses import account_fba_warehouse
from orderbridge.amazon.listings import Listing
from orderbridge.amazon.marketplaces import by_id
from orderbridge.book.catalog import Product
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.inventory import Warehouse


@dataclass(frozen=True)
class FbaPlaces:
    """A marketplace's channel and the warehouses its settings name (None when a setting is empty)."""

    channel: Channel
    fba_warehouse: Warehouse | None
    own_warehouse: Warehouse | None
    returns_to_stock: bool


def places(session: Session, marketplace_id: str, account_id: int) -> FbaPlaces:
    """The marketplace's channel, the account's FBA warehouse there (fba_warehouses.py) and its own."""
    channel = channel_for(session, marketplace_id)
    settings = settings_for(session, channel)

    def by_code(code: str | None) -> Warehouse | None:
        return session.scalar(select(Warehouse).where(Warehouse.code == code)) if code else None

    return FbaPlaces(
        channel=channel,
        fba_warehouse=account_fba_warehouse(session, account_id, by_code(settings.fba_warehouse)),
        own_warehouse=by_code(settings.inbound_source_warehouse or settings.fbm_warehouse),
        returns_to_stock=settings.returns_to_stock,
    )


def products_for(session: Session, channel_id: int, skus: Iterable[str]) -> dict[str, Product]:
    """Seller SKU -> stock-tracked product: the connected listing's product, else the product of that SKU."""
    wanted = set(skus)
    found: dict[str, Product] = {}
    if not wanted:
        return found
    listed = session.execute(
        select(Listing.seller_sku, Product)
        .join(Product, Product.id == Listing.product_id)
        .where(Listing.channel_id == channel_id, Listing.seller_sku.in_(wanted))
    )
    for sku, product in listed:
        found[sku] = product
    rest = wanted - found.keys()
    if rest:
        for product in session.scalars(select(Product).where(Product.sku.in_(rest))):
            found[product.sku] = product
    return {sku: product for sku, product in found.items() if product.stock_tracked}


def channels_by_country(session: Session) -> dict[str, Channel]:
    """Country code -> the Amazon channel of that marketplace (the ledger names countries, not markets)."""
    found: dict[str, Channel] = {}
    query = select(Channel).where(Channel.kind == ChannelKind.AMAZON).order_by(Channel.id)
    for channel in session.scalars(query):
        market = by_id(channel.marketplace_id)
        if market is not None:
            found.setdefault(market.code, channel)
            # Amazon's files write ISO GB where the docs say UK (SPAPI.md §1)
            found.setdefault(market.country, channel)
    return found
