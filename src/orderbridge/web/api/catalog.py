"""/api/v1/products and /api/v1/listings: the catalogue, and connecting a channel listing to a product."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from orderbridge.amazon.listings import connect_listing
from orderbridge.amazon.queries import ListingLine, listings_page
from orderbridge.book.channels import Channel
from orderbridge.book.queries.catalog import ProductLine, list_products
from orderbridge.web.api.paging import ApiPage, CursorParam, SizeParam, cursor_checked, page_of
from orderbridge.web.deps import Context, Db, require
from orderbridge.web.problems import ApiError
from orderbridge.web.roles import Permission

router = APIRouter(tags=["catalog"], dependencies=[require(Permission.CATALOG_READ)])


class ProductOut(BaseModel):
    id: int
    sku: str
    name: str
    stock_tracked: bool
    is_bundle: bool
    on_hand: int
    allocated: int
    components: int


@router.get("/products", summary="Products by SKU")
def products_list(
    db: Db,
    bundles: Annotated[bool | None, Query(description="Only bundles (true) or no bundles (false).")] = None,
    search: Annotated[str | None, Query(max_length=100, description="Start of the SKU.")] = None,
    cursor: CursorParam = None,
    size: SizeParam = 50,
) -> ApiPage[ProductOut]:
    with cursor_checked():
        page = list_products(db, bundles=bundles, search=search or None, cursor=cursor, size=size)

    def convert(line: ProductLine) -> ProductOut:
        return ProductOut(**line.__dict__)

    return page_of(page, convert)


class ListingOut(BaseModel):
    id: int
    channel: str
    seller_sku: str
    asin: str | None
    title: str | None
    fulfilment: str
    product_sku: str | None
    last_seen_at: datetime


def _listing(line: ListingLine) -> ListingOut:
    return ListingOut(**line.__dict__)


@router.get("/listings", summary="Channel listings, first seen first")
def listings_list(
    db: Db,
    unconnected: Annotated[bool, Query(description="Only listings not connected to a product.")] = False,
    channel_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    cursor: CursorParam = None,
    size: SizeParam = 50,
) -> ApiPage[ListingOut]:
    with cursor_checked():
        page = listings_page(
            db, unconnected_only=unconnected, channel_id=channel_id, cursor=cursor, size=size
        )
    return page_of(page, _listing)


class ConnectIn(BaseModel):
    channel_id: int = Field(ge=1, le=2**62, description="The channel (marketplace) of the listing.")
    seller_sku: str = Field(min_length=1, max_length=100)
    product_sku: str = Field(min_length=1, max_length=100, description="The book product or bundle.")


class ConnectedOut(BaseModel):
    listing_id: int
    seller_sku: str
    product_sku: str


@router.post(
    "/listings/connect",
    summary="Connect a seller SKU to a product (then retry quarantined orders)",
    dependencies=[require(Permission.CATALOG_WRITE)],
)
def listing_connect(db: Db, context: Context, body: ConnectIn) -> ConnectedOut:
    channel = db.get(Channel, body.channel_id)
    if channel is None:
        raise ApiError(404, f"no channel {body.channel_id}", field="channel_id")
    listing = connect_listing(
        db, channel, body.seller_sku.strip(), body.product_sku.strip(), now=context.clock()
    )
    return ConnectedOut(
        listing_id=listing.id, seller_sku=listing.seller_sku, product_sku=body.product_sku.strip()
    )
