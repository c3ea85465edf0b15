"""A generated sandbox world's orders, as getOrder returns them, book into the book the way the rules say."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.amazon.channel import change_settings
from orderbridge.amazon.listings import connect_listing
from orderbridge.amazon.orders.booking import Action, Applied
from orderbridge.amazon.orders.facts import blind_email_key
from orderbridge.amazon.orders.page_booking import book_amazon_orders
from orderbridge.book.channels import ChannelKind, save_channel
from orderbridge.book.orders.model import RowKind, SalesOrder
from orderbridge.book.tax import add_tax_rule
from orderbridge.privacy.blind_index import BlindIndexer
from orderbridge.privacy.keystore import open_keystore
from orderbridge.simulator.generator import Settings, generate
from orderbridge.simulator.marketplaces import MARKETPLACES
from orderbridge.simulator.orders_api import INCLUDED_DATA, included_mask, project
from tests.amazon.orders.test_mapping_payloads import strict_errors
from tests.book.builders import NOW, make_book

READY = {"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"}


def world_orders() -> dict[str, list[dict[str, Any]]]:
    """Every order of a small generated world, projected with every includedData, by marketplace code."""
    world = generate(Settings(seed=11, orders_per_day=60, days=2, marketplaces=["US", "UK", "DE"]))
    mask = included_mask(list(INCLUDED_DATA))
    codes = {market.marketplace_id: code for code, market in MARKETPLACES.items()}
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order in sorted(world.orders.values(), key=lambda o: o.doc["createdTime"]):
        doc = project(order, mask)
        found[codes[doc["salesChannel"]["marketplaceId"]]].append(doc)
    return found


def expected_action(doc: dict[str, Any]) -> Action:
    status = doc["fulfillment"]["fulfillmentStatus"]
    if doc.get("associatedOrders") or doc["salesChannel"]["channelName"] == "NON_AMAZON":
        return Action.SKIPPED  # O19: replacements and multi-channel orders are no Amazon sales
    if status in READY:
        return Action.BOOKED
    return Action.WAITING if status.startswith("PENDING") else Action.NOT_BOOKED


def test_a_generated_world_books_every_ready_order_once_and_skips_the_rest(
    session: Session, tmp_path: Path
) -> None:
    # given: a book with a channel per marketplace, half of each marketplace's SKUs connected
    pages = world_orders()
    book = make_book(session, skus=("P-0", "P-1"))
    add_tax_rule(session, "T20")
    key = blind_email_key(
        BlindIndexer(open_keystore(tmp_path / "k", key_file=tmp_path / "kek", environ={})), "S"
    )
    channels = {}
    for code, docs in pages.items():
        channel = save_channel(
            session, f"amazon-{code.lower()}", code, ChannelKind.AMAZON, MARKETPLACES[code].marketplace_id
        )
        session.flush()
        change_settings(session, channel, {"fbm_warehouse": "MAIN", "fba_warehouse": "FBA-EU"})
        skus = sorted({item["product"]["sellerSku"] for doc in docs for item in doc["orderItems"]})
        for n, sku in enumerate(skus[::2]):
            connect_listing(session, channel, sku, f"P-{n % 2}", now=NOW)
        channels[code] = channel
    book.receive("P-0", 10_000)
    book.receive("P-1", 10_000)

    # when
    results = {
        code: book_amazon_orders(session, docs, channels[code], email_key=key, now=NOW)
        for code, docs in pages.items()
    }

    # then
    for code, docs in pages.items():
        assert all(strict_errors(doc) == [] for doc in docs)
        applied = results[code]
        assert all(isinstance(result, Applied) for result in applied), [str(r) for r in applied]
        assert [r.action for r in applied if isinstance(r, Applied)] == [expected_action(doc) for doc in docs]
    booked = sum(expected_action(doc) == Action.BOOKED for docs in pages.values() for doc in docs)
    assert session.scalar(select(func.count()).select_from(SalesOrder)) == booked > 50
    for order in session.scalars(select(SalesOrder)):
        goods = [
            row for row in order.rows if row.kind in (RowKind.PRODUCT, RowKind.FREE_TEXT, RowKind.BUNDLE)
        ]
        assert goods and order.contact_id is not None
