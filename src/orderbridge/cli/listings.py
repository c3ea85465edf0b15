"""`orderbridge listings ...`: connect Amazon seller SKUs to products or bundles, list what is unconnected."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy.orm import Session

from orderbridge.amazon.listings import (
    Listing,
    ListingFulfilment,
    channel_listings,
    connect_listing,
    disconnect_listing,
)
from orderbridge.book.channels import channel_by_code
from orderbridge.cli.context import console, unit_of_work
from orderbridge.cli.output import print_json, print_table, reported_errors
from orderbridge.clock import utc_now

listings = typer.Typer(
    help="Amazon listings: seller SKUs per marketplace and the products or bundles they book.",
    no_args_is_help=True,
)

ChannelCode = Annotated[str, typer.Argument(help="The channel's code, e.g. amazon-uk.")]
ChannelFilter = Annotated[str | None, typer.Option("--channel", help="Only this channel's listings.")]
ChannelArgument = Annotated[
    str | None, typer.Argument(help="Only this channel's listings, e.g. amazon-uk (as --channel).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


@listings.command("connect")
def connect(
    channel: ChannelCode,
    seller_sku: Annotated[str, typer.Argument(help="The seller SKU on Amazon.")],
    product_sku: Annotated[str, typer.Argument(help="The SKU of the book's product or bundle.")],
    asin: Annotated[str | None, typer.Option(help="The listing's ASIN.")] = None,
    fulfilment: Annotated[ListingFulfilment | None, typer.Option(help="fbm or fba.")] = None,
) -> None:
    """Connect a seller SKU to a product or bundle: later orders book product rows and allocate stock."""
    with reported_errors(), unit_of_work() as session:
        found = channel_by_code(session, channel)
        connect_listing(
            session, found, seller_sku, product_sku, now=utc_now(), asin=asin, fulfilment=fulfilment
        )
    console.print(f"{channel}: {seller_sku} -> {product_sku}", highlight=False)


@listings.command("buffer")
def buffer(
    channel: ChannelCode,
    seller_sku: Annotated[str, typer.Argument(help="The seller SKU.")],
    units: Annotated[int, typer.Argument(help="Units held back from what Amazon shows (0: none).")],
) -> None:
    """Hold units back: the listing shows what is available less this buffer (I1)."""
    from orderbridge.amazon.listings import find_listing
    from orderbridge.amazon.outbound.listing_quantities import set_buffer
    from orderbridge.book.errors import NotFoundError

    with reported_errors(), unit_of_work() as session:
        found = channel_by_code(session, channel)
        listing = find_listing(session, found, seller_sku)
        if listing is None:
            raise NotFoundError(f"listing on {channel}", seller_sku)
        set_buffer(session, listing, units)
    console.print(
        f"{channel}: {seller_sku} holds back {units} units; the next push shows it", highlight=False
    )


@listings.command("disconnect")
def disconnect(
    channel: ChannelCode, seller_sku: Annotated[str, typer.Argument(help="The seller SKU.")]
) -> None:
    """Connect a seller SKU to nothing: later orders book it as a free-text row and flag the order."""
    with reported_errors(), unit_of_work() as session:
        disconnect_listing(session, channel_by_code(session, channel), seller_sku)
    console.print(f"{channel}: {seller_sku} disconnected", highlight=False)


@listings.command("unconnected")
def unconnected(code: ChannelArgument = None, channel: ChannelFilter = None, as_json: AsJson = False) -> None:
    """The SKUs orders named that are connected to no product: connect these."""
    _show(_one_channel(code, channel), as_json=as_json, unconnected_only=True)


@listings.command("list")
def list_listings(
    code: ChannelArgument = None, channel: ChannelFilter = None, as_json: AsJson = False
) -> None:
    """Every listing with the product or bundle it is connected to."""
    _show(_one_channel(code, channel), as_json=as_json, unconnected_only=False)


def _one_channel(code: str | None, channel: str | None) -> str | None:
    if code and channel and code != channel:
        raise typer.BadParameter(f"two channels named ({code} and --channel {channel}): name one")
    return code or channel


def _show(channel: str | None, *, as_json: bool, unconnected_only: bool) -> None:
    with reported_errors(), unit_of_work() as session:
        found = _listed(session, channel, unconnected_only=unconnected_only)
    if as_json:
        print_json(found)
        return
    columns = ["channel", "seller SKU", "ASIN", "fulfilment", "product", "title"]
    rows = [
        [item[key] for key in ("channel", "seller_sku", "asin", "fulfilment", "product", "title")]
        for item in found
    ]
    print_table("Unconnected listings" if unconnected_only else "Listings", columns, rows)


def _listed(session: Session, code: str | None, *, unconnected_only: bool) -> list[dict[str, str | None]]:
    channel = channel_by_code(session, code) if code else None
    return [
        _described(listing)
        for listing in channel_listings(session, channel, unconnected_only=unconnected_only)
    ]


def _described(listing: Listing) -> dict[str, str | None]:
    return {
        "channel": listing.channel.code,
        "seller_sku": listing.seller_sku,
        "asin": listing.asin,
        "fulfilment": str(listing.fulfilment) if listing.fulfilment else None,
        "product": listing.product.sku if listing.product else None,
        "title": listing.title,
    }
