"""Products, bundles and Amazon listings; connecting a listing to a product, and retrying the orders that
waited for it in quarantine."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.listings import Listing, connect_listing
from orderbridge.amazon.orders.sync import SyncDeps, retry_quarantined
from orderbridge.amazon.queries import listings_page, quarantine_page, quarantined_account_ids
from orderbridge.book.catalog import Product
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.errors import BookError, NotFoundError
from orderbridge.book.queries.catalog import all_skus, bundle_parts, list_products
from orderbridge.db import reading
from orderbridge.errors import OrderbridgeError
from orderbridge.web.deps import Db, Principal, reads_first, require, web_context
from orderbridge.web.pages.rendering import back_to, not_found, page, pager
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.CATALOG_READ)]
Writer = Annotated[Principal, require(Permission.CATALOG_WRITE)]
OrdersReader = Annotated[Principal, require(Permission.ORDERS_READ)]
OrdersWriter = Annotated[Principal, require(Permission.ORDERS_WRITE)]
SKU_CHOICES = 1000  # suggested when connecting a listing; any other SKU may still be typed


@router.get("/products", response_class=HTMLResponse)
def products(request: Request, session: Db, principal: Reader) -> Response:
    params = request.query_params
    kind = params.get("kind", "")
    bundles = {"bundles": True, "products": False}.get(kind)
    try:
        found = list_products(session, bundles=bundles, search=params.get("q"), cursor=params.get("cursor"))
    except BookError as error:
        return back_to("/products", problem=str(error))
    parts = bundle_parts(session, [line.id for line in found.items if line.is_bundle])
    return page(
        request,
        "pages/products.html",
        {
            "found": found,
            "links": pager(request, found),
            "parts": parts,
            "kind": kind,
            "q": params.get("q", ""),
        },
    )


@router.get("/listings", response_class=HTMLResponse)
def listings(request: Request, session: Db, principal: Reader) -> Response:
    params = request.query_params
    unconnected = params.get("unconnected") == "1"
    channel_id = params.get("channel")
    try:
        found = listings_page(
            session,
            unconnected_only=unconnected,
            channel_id=int(channel_id) if channel_id and channel_id.isdigit() else None,
            sku=params.get("sku") or None,
            cursor=params.get("cursor"),
        )
    except BookError as error:
        return back_to("/listings", problem=str(error))
    channels = list(
        session.scalars(select(Channel).where(Channel.kind == ChannelKind.AMAZON).order_by(Channel.code))
    )
    return page(
        request,
        "pages/listings.html",
        {
            "found": found,
            "links": pager(request, found),
            "unconnected": unconnected,
            "channels": channels,
            "channel_id": channel_id or "",
            "sku": params.get("sku", ""),
            "skus": all_skus(session, limit=SKU_CHOICES) if principal.can(Permission.CATALOG_WRITE) else [],
            "quarantined": bool(quarantined_account_ids(session)),
        },
    )


@router.post("/listings/{listing_id}/connect")
def connect(
    listing_id: int,
    request: Request,
    session: Db,
    principal: Writer,
    *,
    product: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """O5: connect a seller SKU to a book product or bundle; later orders book product rows."""
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise not_found(NotFoundError("listing", listing_id))
    back = "/listings?unconnected=1"
    if not product.strip():
        return back_to(back, problem=f"{listing.seller_sku}: choose the product to connect it to")
    if session.scalar(select(Product.id).where(Product.sku == product.strip())) is None:
        return back_to(back, problem=f"{listing.seller_sku}: product {product.strip()!r} does not exist")
    channel = session.get(Channel, listing.channel_id)
    assert channel is not None
    connect_listing(session, channel, listing.seller_sku, product.strip(), now=web_context(request).clock())
    waiting = (
        " Quarantined orders wait: retry them from the quarantine page."
        if quarantined_account_ids(session)
        else ""
    )
    return back_to(back, f"{channel.code} {listing.seller_sku} is connected to {product.strip()}.{waiting}")


@router.get("/quarantine", response_class=HTMLResponse)
def quarantine(request: Request, session: Db, principal: OrdersReader) -> Response:
    try:
        found = quarantine_page(session, cursor=request.query_params.get("cursor"))
    except BookError as error:
        return back_to("/quarantine", problem=str(error))
    return page(request, "pages/quarantine.html", {"found": found, "links": pager(request, found)})


def _never_called(_account: SellerAccount) -> SpApiClient:
    raise OrderbridgeError("retrying quarantined orders books what the inbox holds and never calls Amazon")


@router.post("/quarantine/retry")
@reads_first
def retry(request: Request, principal: OrdersWriter) -> RedirectResponse:
    """Map and book every quarantined order again (after a listing or a setting was fixed).

    Runs in its own transactions under each account's sync lease, as `orderbridge orders retry` does,
    so it never books an account at the same time as the runner. The request's own transaction only
    reads: holding the write lock, it would keep those transactions waiting."""
    context = web_context(request)
    deps = SyncDeps(
        sessions=context.sessions, client_factory=_never_called, clock=context.clock, keys=context.keys
    )
    with reading(context.sessions) as session:
        accounts = quarantined_account_ids(session)
    booked = quarantined = 0
    try:
        for account_id in accounts:
            report = retry_quarantined(account_id, deps)
            booked += report.booked
            quarantined += report.quarantined
    except OrderbridgeError as error:
        return back_to("/quarantine", problem=f"retry stopped: {error}")
    message = f"retried: {booked} booked"
    if quarantined:
        message += f", {quarantined} still quarantined (see the reasons below)"
    return back_to("/quarantine", message)
