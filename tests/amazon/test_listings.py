"""Listings: connect a seller SKU to a product or bundle, disconnect, find, list the unconnected (O6)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from orderbridge.amazon.listings import (
    ListingFulfilment,
    SeenListing,
    channel_listings,
    connect_listing,
    disconnect_listing,
    find_listing,
    listings_by_sku,
    record_seen,
)
from orderbridge.book.channels import ChannelKind, save_channel
from orderbridge.book.errors import NotFoundError
from tests.book.builders import NOW, Book, make_book, make_bundle
from tests.cli import conftest as cli
from tests.cli.conftest import Run, json_of
from tests.conftest import STORES

run, store_url, csv_file = cli.run, cli.store_url, cli.csv_file  # the CLI fixtures, for the command tests


@pytest.fixture
def book(session: Session) -> Book:
    return make_book(session)


def test_o5_connect_a_seller_sku_to_a_product(book: Book) -> None:
    listing = connect_listing(
        book.session, book.channel, "MUG-UK", "A", now=NOW, asin="B0TEST", fulfilment=ListingFulfilment.FBA
    )

    found = find_listing(book.session, book.channel, "MUG-UK")
    assert found is not None and found.id == listing.id and found.is_connected
    assert (found.product_id, found.asin, found.fulfilment) == (
        book.product("A").id,
        "B0TEST",
        ListingFulfilment.FBA,
    )


def test_o7_a_listing_can_be_connected_to_a_bundle(book: Book) -> None:
    bundle = make_bundle(book, "SET", {"A": 2, "B": 1})

    listing = connect_listing(book.session, book.channel, "SET-UK", "SET", now=NOW)

    assert listing.product is not None and listing.product.id == bundle.id and listing.product.is_bundle


def test_o6_orders_record_unseen_skus_as_unconnected_listings(book: Book) -> None:
    connect_listing(book.session, book.channel, "MUG-UK", "A", now=NOW)

    record_seen(
        book.session,
        book.channel,
        [SeenListing("NEW-1", "B0NEW", "New thing"), SeenListing("MUG-UK")],
        now=NOW,
    )

    unconnected = channel_listings(book.session, book.channel, unconnected_only=True)
    assert [(item.seller_sku, item.asin, item.title) for item in unconnected] == [
        ("NEW-1", "B0NEW", "New thing")
    ]
    assert set(listings_by_sku(book.session, book.channel.id, ["NEW-1", "MUG-UK", "NONE"])) == {
        "NEW-1",
        "MUG-UK",
    }


def test_o6_disconnecting_leaves_the_listing_unconnected(book: Book) -> None:
    connect_listing(book.session, book.channel, "MUG-UK", "A", now=NOW)

    disconnect_listing(book.session, book.channel, "MUG-UK")

    found = find_listing(book.session, book.channel, "MUG-UK")
    assert found is not None and not found.is_connected
    with pytest.raises(NotFoundError):
        disconnect_listing(book.session, book.channel, "NONE")


def test_the_same_sku_on_two_marketplaces_is_two_listings(book: Book) -> None:
    us = save_channel(book.session, "amazon-us", "Amazon US", ChannelKind.AMAZON, "ATVPDKIKX0DER")
    book.session.flush()

    connect_listing(book.session, book.channel, "MUG", "A", now=NOW)
    connect_listing(book.session, us, "MUG", "B", now=NOW)

    assert [
        (item.channel.code, item.product.sku if item.product else None)
        for item in channel_listings(book.session)
    ] == [
        ("amazon-uk", "A"),
        ("amazon-us", "B"),
    ]


def test_connecting_to_an_unknown_product_is_refused(book: Book) -> None:
    with pytest.raises(NotFoundError, match="product 'NOPE'"):
        connect_listing(book.session, book.channel, "MUG-UK", "NOPE", now=NOW)


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_cli_listings_connect_unconnected_list(run: Run, csv_file: Callable[[str, str], Path]) -> None:
    assert run("channels", "add", "amazon-uk", "A1F83G8C2ARO7P").exit_code == 0
    assert run("products", "import", str(csv_file("p.csv", "sku,name\nMUG,Blue mug\n"))).exit_code == 0

    connected = run(
        "listings", "connect", "amazon-uk", "MUG-UK", "MUG", "--asin", "B0MUG", "--fulfilment", "fba"
    )
    missing = run("listings", "connect", "amazon-uk", "X", "NOPE")
    disconnected = run("listings", "disconnect", "amazon-uk", "MUG-UK")

    assert connected.exit_code == 0, connected.output
    assert missing.exit_code == 1 and "product 'NOPE' does not exist" in missing.output
    assert disconnected.exit_code == 0
    assert json_of(run("listings", "unconnected", "--json")) == [
        {
            "channel": "amazon-uk",
            "seller_sku": "MUG-UK",
            "asin": "B0MUG",
            "fulfilment": "fba",
            "product": None,
            "title": None,
        }
    ]
    run("listings", "connect", "amazon-uk", "MUG-UK", "MUG")
    assert "MUG-UK" in run("listings", "list", "--channel", "amazon-uk").stdout
    assert run("listings", "unconnected").stdout.startswith("(no unconnected listings)")
