"""I1, O7: the sandbox's FBM listing quantities equal the book's available stock after a burst of changes."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.listings import Listing, ListingFulfilment, connect_listing
from orderbridge.amazon.outbound.listing_quantities import ListingStock, set_buffer
from orderbridge.amazon.outbound.sender import request_full_stock_push
from orderbridge.book.catalog import Product, define_bundle, save_product
from orderbridge.book.channels import Channel
from orderbridge.book.inventory import (
    MovementReason,
    add_warehouse,
    available_quantity,
    count_stock,
    move_stock,
    warehouse_by_code,
)
from orderbridge.book.orders.model import OrderRow
from orderbridge.book.transfers import create_transfer, receive_transfer
from orderbridge.db import make_engine, session_factory
from orderbridge.simulator import worldfile
from tests.amazon.conftest import BASE
from tests.e2e.outbound_world import OutboundWorld, open_outbound
from tests.e2e.sync_world import make_sandbox
from tests.simulator.sandbox_helpers import assert_valid, small_world

_WORLD = worldfile.dump(small_world(seed=11, orders_per_day=30))
BUNDLE = "BUNDLE-TRIO"


@pytest.fixture
def outbound(fresh_store_url: str, tmp_path: Path) -> Iterator[OutboundWorld]:
    sandbox = make_sandbox(copy.deepcopy(_WORLD))
    engine = make_engine(fresh_store_url)
    yield open_outbound(session_factory(engine), sandbox, tmp_path)
    engine.dispose()


def _fbm_listings(session: Session) -> list[Listing]:
    query = select(Listing).where(
        Listing.product_id.is_not(None), Listing.fulfilment == ListingFulfilment.FBM
    )
    return list(session.scalars(query.order_by(Listing.id)))


def _seller_of(session: Session, channel: Channel) -> str:
    for account in session.scalars(select(SellerAccount)):
        if channel.marketplace_id in account.marketplace_ids:
            return account.selling_partner_id
    raise AssertionError(f"no account sells on {channel.code}")


def assert_sandbox_matches_book(outbound: OutboundWorld) -> int:
    """Every connected FBM listing shows at the sandbox what the book has available, less its buffer."""
    checked = 0
    with outbound.sessions() as session:
        main = warehouse_by_code(session, "MAIN")
        for listing in _fbm_listings(session):
            product = session.get(Product, listing.product_id)
            assert product is not None
            stock = session.get(ListingStock, listing.id)
            wanted = max(available_quantity(session, product, main) - (stock.buffer if stock else 0), 0)
            at_amazon = outbound.sandbox.world.listing(
                _seller_of(session, listing.channel), listing.seller_sku
            )
            assert at_amazon is not None
            assert (listing.seller_sku, at_amazon.quantity) == (listing.seller_sku, wanted)
            checked += 1
    return checked


def _sandbox_fbm(outbound: OutboundWorld, seller_id: str) -> list[str]:
    return sorted(
        listing.sku
        for listing in outbound.sandbox.world.listings.values()
        if listing.seller_id == seller_id and listing.fulfilled_by == "MERCHANT"
    )


def _by_sku(session: Session) -> dict[str, list[Listing]]:
    """FBM listings by SKU: a SKU sold in two marketplaces of a region is one listing at the sandbox."""
    by_sku: dict[str, list[Listing]] = {}
    for listing in _fbm_listings(session):
        by_sku.setdefault(listing.seller_sku, []).append(listing)
    return by_sku


def _order_bundle(outbound: OutboundWorld, seller_id: str, marketplace_id: str, sku: str) -> None:
    body = {"sellerId": seller_id, "marketplace": marketplace_id, "items": [{"sku": sku, "quantity": 2}]}
    request = httpx.Request("POST", f"{BASE}/_sandbox/orders", json=body)
    response = outbound.transport.handle_request(request)
    assert response.status_code in (200, 201), response.read()
    order_id = response.json()["orderId"]
    ready = httpx.Request("POST", f"{BASE}/_sandbox/orders/{order_id}/ready")
    if response.json()["order"]["fulfillment"]["fulfillmentStatus"] == "PENDING":
        assert outbound.transport.handle_request(ready).status_code == 200


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_i1_o7_listing_quantities_equal_available_stock_after_orders_transfers_and_bundle_sales(
    outbound: OutboundWorld,
) -> None:
    # given: every listing pushed once; one FBM listing sells a bundle of three FBM products
    outbound.drain()
    assert_sandbox_matches_book(outbound)
    now = outbound.world.vtime.now()
    with outbound.sessions.begin() as session:
        skus = list(_by_sku(session).values())
        bundle_listings = skus[0]
        channel = bundle_listings[0].channel
        seller_id = _seller_of(session, channel)
        parts = [session.get(Product, same[0].product_id) for same in skus[1:4]]
        bundle = save_product(session, BUNDLE, "Trio")
        define_bundle(session, bundle, {p: n for p, n in zip(parts, (1, 2, 3), strict=True) if p})
        for listing in bundle_listings:
            connect_listing(session, listing.channel, listing.seller_sku, BUNDLE, now=now)
        for listing in skus[5]:
            set_buffer(session, listing, 3)
        bundle_sku, marketplace_id = bundle_listings[0].seller_sku, channel.marketplace_id
        component_ids = [p.id for p in parts if p]
        session.flush()
        bundle_id = bundle.id
    # when: a burst — the bundle sells at Amazon, stock arrives, moves between warehouses, is counted
    _order_bundle(outbound, seller_id, str(marketplace_id), bundle_sku)
    outbound.world.vtime.sleep(300)
    outbound.world.sync(seller_id)
    with outbound.sessions.begin() as session:
        main = warehouse_by_code(session, "MAIN")
        spare = add_warehouse(session, "SPARE", "Spare room")
        products = [session.get(Product, listing.product_id) for listing in _fbm_listings(session)]
        stocked = [p for p in products if p is not None and not p.is_bundle][:12]
        for number, product in enumerate(stocked):
            move_stock(
                session, product, main, 5, reason=MovementReason.RECEIPT, reference=f"po-{number}", now=now
            )
        transfer = create_transfer(session, "T-1", main, spare, {stocked[0]: 50, stocked[1]: 20}, now=now)
        receive_transfer(session, transfer, {stocked[0]: 50}, reference="r1", now=now)
        back = create_transfer(session, "T-2", spare, main, {stocked[0]: 10}, now=now)
        receive_transfer(session, back, {stocked[0]: 10}, reference="r1", now=now)
        component = session.get(Product, component_ids[1])
        assert component is not None
        count_stock(session, component, main, 7, reference="count-1", now=now)
    reports = outbound.drain()
    # then: the sandbox shows the book's numbers, the bundle as the fewest whole bundles its parts make
    checked = assert_sandbox_matches_book(outbound)
    assert checked >= 10
    with outbound.sessions() as session:
        main = warehouse_by_code(session, "MAIN")
        fewest = min(
            available_quantity(session, part, main) // per_bundle
            for part, per_bundle in zip(
                [session.get(Product, i) for i in component_ids], (1, 2, 3), strict=True
            )
            if part is not None
        )
        shown = outbound.sandbox.world.listing(seller_id, bundle_sku)
        assert shown is not None and shown.quantity == fewest
        # the bundle sale allocated its components (O7), as far as the stock went
        bundle_row = session.scalar(
            select(OrderRow).where(OrderRow.product_id == bundle_id).order_by(OrderRow.id.desc()).limit(1)
        )
        assert bundle_row is not None
        parts_of_sale = session.scalars(select(OrderRow).where(OrderRow.parent_row_id == bundle_row.id)).all()
        assert sorted(row.quantity for row in parts_of_sale) == [2, 4, 6]
        for row in parts_of_sale:
            product = session.get(Product, row.product_id)
            assert product is not None
            assert row.allocated == row.quantity or available_quantity(session, product, main) == 0
    # one update per listing, however many changes hit it
    sent = sum(r.listings_patched + r.listings_in_feeds for r in reports)
    with outbound.sessions() as session:
        assert 0 < sent <= len(_fbm_listings(session))
    for body in outbound.sent_bodies("/feeds/2021-06-30/feeds"):
        assert_valid("feeds_2021-06-30.json", "CreateFeedSpecification", body)
    for body in outbound.sent_bodies("/feeds/2021-06-30/documents"):
        assert_valid("feeds_2021-06-30.json", "CreateFeedDocumentSpecification", body)


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_i1_nightly_full_push_corrects_drift_at_amazon(outbound: OutboundWorld) -> None:
    # given: everything pushed, then someone changes quantities at Amazon by hand
    outbound.drain()
    seller = next(iter(outbound.world.accounts))
    for sku in _sandbox_fbm(outbound, seller):
        listing = outbound.sandbox.world.listing(seller, sku)
        assert listing is not None
        listing.quantity = 999
    # when: the nightly full push runs (nothing changed in the book)
    with outbound.sessions.begin() as session:
        request_full_stock_push(session, now=outbound.world.vtime.now())
    outbound.drain()
    # then: Amazon shows the book's numbers again
    assert assert_sandbox_matches_book(outbound) > 0
    assert all(
        outbound.sandbox.world.listing(seller, sku).quantity != 999  # type: ignore[union-attr]
        for sku in _sandbox_fbm(outbound, seller)
        if _connected(outbound, sku)
    )


def _connected(outbound: OutboundWorld, sku: str) -> bool:
    with outbound.sessions() as session:
        return any(listing.seller_sku == sku for listing in _fbm_listings(session))
