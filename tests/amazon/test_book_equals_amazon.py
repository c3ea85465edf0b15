"""Invariants over a whole generated sandbox world (issue 17): every order of the default mix, booked the
way the sync books a page, leaves the book equal to what Amazon's own documents say. The expectations are
read from the sandbox's payloads (model: Order / ItemProceedsBreakdown), never from the book's numbers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.channel import change_settings
from orderbridge.amazon.listings import connect_listing
from orderbridge.amazon.orders.booking import Action, Applied
from orderbridge.amazon.orders.facts import blind_email_key
from orderbridge.amazon.orders.mapping.fields import MappingError
from orderbridge.amazon.orders.page_booking import book_amazon_orders
from orderbridge.book.channels import ChannelKind, save_channel
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.tax import add_nominal_code, add_tax_rule
from orderbridge.privacy.blind_index import BlindIndexer
from orderbridge.privacy.keystore import open_keystore
from orderbridge.simulator.generator import Settings, generate
from orderbridge.simulator.marketplaces import MARKETPLACES
from orderbridge.simulator.orders_api import INCLUDED_DATA, included_mask, project
from tests.amazon.orders.test_amazon_booking_world import expected_action
from tests.book.builders import NOW, make_book

ZERO = Decimal(0)
PAGE = 100  # getOrders' largest page: the sync books one page at a time
SALES, SHIPPING, COD_FEE, TIP = "4000", "4010", "4020", "4030"
# Model ItemProceedsBreakdown.type / detailed subtype -> the nominal code the seller books it on (O9, O17).
NOMINAL_OF = {"ITEM": SALES, "OTHER": SALES, "GIFT_WRAP": SALES, "SHIPPING": SHIPPING, "COD_FEE": COD_FEE}


@cache
def world_pages() -> dict[str, list[dict[str, Any]]]:
    """Every order of a default-mix world over four marketplaces (COD in Italy, facilitator VAT and IOSS
    in Europe, tips in the US), as getOrder returns it with every includedData, by marketplace code."""
    world = generate(Settings(seed=17, orders_per_day=250, days=20, marketplaces=["US", "UK", "DE", "IT"]))
    mask = included_mask(list(INCLUDED_DATA))
    codes = {market.marketplace_id: code for code, market in MARKETPLACES.items()}
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order in sorted(world.orders.values(), key=lambda o: (o.doc["createdTime"], o.order_id)):
        doc = project(order, mask)
        found[codes[doc["salesChannel"]["marketplaceId"]]].append(doc)
    return dict(found)


def money(value: dict[str, Any]) -> Decimal:
    return Decimal(value["amount"])


@dataclass
class AmazonSays:
    """One order's money as Amazon's payload states it."""

    grand_total: Decimal
    charges: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))
    tax: Decimal = ZERO
    facilitator_tax: Decimal = ZERO
    tax_on_top: bool = False


def amazon_says(doc: dict[str, Any]) -> AmazonSays:
    """Charges by nominal code (promotions off the row their detail names, the rest off the goods; TAX
    apart), the tax, and the tax Amazon collects as marketplace facilitator."""
    said = AmazonSays(money(doc["proceeds"]["grandTotal"]))
    for item in doc["orderItems"]:
        rows = item.get("proceeds", {}).get("breakdowns", [])
        item_tax = sum((money(r["subtotal"]) for r in rows if r["type"] == "TAX"), ZERO)
        for row in rows:
            if row["type"] == "DISCOUNT":
                named = ZERO
                for detail in row.get("detailedBreakdowns", []):
                    said.charges[NOMINAL_OF[detail["subtype"]]] -= abs(money(detail["value"]))
                    named += abs(money(detail["value"]))
                said.charges[SALES] -= abs(money(row["subtotal"])) - named
            elif row["type"] != "TAX":
                said.charges[NOMINAL_OF[row["type"]]] += money(row["subtotal"])
        everything = sum((money(r["subtotal"]) for r in rows), ZERO)
        if item_tax and rows and money(item["proceeds"]["proceedsTotal"]) == everything:
            said.tax_on_top = True
        said.tax += item_tax
        collections = item.get("tax", {}).get("taxCollections", [])
        if any(c["model"] == "MARKETPLACE_FACILITATOR" for c in collections):
            said.facilitator_tax += item_tax
    for row in doc["proceeds"].get("breakdowns", []):
        if row["type"] == "DELIVERY_TIP":
            said.charges[TIP] += money(row["subtotal"])
    return said


def book_says(order: SalesOrder, *, tax_on_top: bool) -> dict[str, Decimal]:
    """The book's rows by nominal code, as Amazon states charges: net where Amazon adds the tax on top,
    net plus tax where its prices hold the VAT."""
    found: dict[str, Decimal] = defaultdict(Decimal)
    for row in order.rows:
        found[row.nominal_code or "none"] += row.net if tax_on_top else row.net + row.tax
    return found


def nonzero(amounts: dict[str, Decimal]) -> dict[str, Decimal]:
    return {code: amount for code, amount in amounts.items() if amount}


def book_the_world(
    session: Session, tmp_path: Path
) -> dict[str, tuple[dict[str, Any], Applied | MappingError]]:
    """A book with a channel per marketplace, half of each marketplace's SKUs connected to products, every
    order booked page by page as the sync does. Returns each Amazon order id's payload and result."""
    pages = world_pages()
    book = make_book(session, skus=("P-0", "P-1"))
    add_tax_rule(session, "T20")
    for code, name in ((SHIPPING, "Shipping"), (COD_FEE, "Cash on delivery"), (TIP, "Delivery tips")):
        add_nominal_code(session, code, name)
    key = blind_email_key(
        BlindIndexer(open_keystore(tmp_path / "k", key_file=tmp_path / "kek", environ={})), "S"
    )
    book.receive("P-0", 100_000)
    book.receive("P-1", 100_000)
    results: dict[str, tuple[dict[str, Any], Applied | MappingError]] = {}
    for code, docs in pages.items():
        channel = save_channel(
            session, f"amazon-{code.lower()}", code, ChannelKind.AMAZON, MARKETPLACES[code].marketplace_id
        )
        session.flush()
        change_settings(
            session,
            channel,
            {
                "fbm_warehouse": "MAIN",
                "fba_warehouse": "FBA-EU",
                "sales_nominal_code": SALES,
                "shipping_nominal_code": SHIPPING,
                "cod_fee_nominal_code": COD_FEE,
                "delivery_tip_nominal_code": TIP,
            },
        )
        skus = sorted({item["product"]["sellerSku"] for doc in docs for item in doc["orderItems"]})
        for n, sku in enumerate(skus[::2]):
            connect_listing(session, channel, sku, f"P-{n % 2}", now=NOW)
        for start in range(0, len(docs), PAGE):
            page = docs[start : start + PAGE]
            applied = book_amazon_orders(session, page, channel, email_key=key, now=NOW)
            results.update({doc["orderId"]: (doc, result) for doc, result in zip(page, applied, strict=True)})
    return results


def test_O9_O16_O17_a_whole_generated_world_books_to_what_amazon_says(
    session: Session, tmp_path: Path
) -> None:
    # given: a default-mix world of more than 5,000 orders over the US, UK, Germany and Italy
    pages = world_pages()
    assert sum(len(docs) for docs in pages.values()) >= 5000

    # when
    results = book_the_world(session, tmp_path)

    # then: nothing is quarantined (no payload in the default mix gives a reason to)
    quarantined = {oid: str(r) for oid, (_, r) in results.items() if isinstance(r, MappingError)}
    assert quarantined == {}
    assert {oid: r.action for oid, (doc, r) in results.items() if isinstance(r, Applied)} == {
        oid: expected_action(doc) for oid, (doc, _) in results.items()
    }
    orders = {order.id: order for order in session.scalars(select(SalesOrder))}
    booked = {
        oid: (doc, orders[r.order_id])
        for oid, (doc, r) in results.items()
        if isinstance(r, Applied) and r.action == Action.BOOKED and r.order_id is not None
    }
    assert len(booked) == len(orders) > 4000
    wrong_total, wrong_rows, wrong_tax, wrong_withheld = {}, {}, {}, {}
    shapes: set[str] = set()
    for oid, (doc, order) in booked.items():
        said = amazon_says(doc)
        shapes.update(code for code, amount in said.charges.items() if amount)
        shapes.add("facilitator" if said.facilitator_tax else "seller")
        # O9: each order's total is Amazon's proceeds total to the penny
        if order.total_gross != said.grand_total:
            wrong_total[oid] = (order.total_gross, said.grand_total)
        # O9/O17: each nominal code holds what Amazon charged for it (promotions off the row they name)
        mine = nonzero(book_says(order, tax_on_top=said.tax_on_top))
        if mine != nonzero(said.charges):
            wrong_rows[oid] = (mine, nonzero(said.charges))
        # O14: where Amazon adds its tax on top (the US), the book holds that tax as sent
        if said.tax_on_top and order.total_tax != said.tax:
            wrong_tax[oid] = (order.total_tax, said.tax)
        # O16: the tax withheld is the tax Amazon collects as marketplace facilitator
        if order.withheld_tax != said.facilitator_tax:
            wrong_withheld[oid] = (order.withheld_tax, said.facilitator_tax)
    broken = {
        "total is not Amazon's grandTotal": wrong_total,
        "nominal codes are not Amazon's breakdowns": wrong_rows,
        "tax is not Amazon's TAX": wrong_tax,
        "withheld tax is not Amazon's facilitator tax": wrong_withheld,
    }
    assert {rule: found for rule, found in broken.items() if found} == {}
    # the world held every shape the invariants speak of
    assert {SALES, SHIPPING, COD_FEE, TIP, "facilitator", "seller"} <= shapes
