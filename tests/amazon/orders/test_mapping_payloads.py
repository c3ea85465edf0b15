"""Order payloads for the mapping and booking tests: the sandbox's order builder, checked strictly."""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from orderbridge.simulator.marketplaces import MARKETPLACES
from orderbridge.simulator.order_builder import Cart, CartLine, build_order
from orderbridge.simulator.world import Buyer, Listing

TOOLS = Path(__file__).resolve().parents[3].parent / "shared" / "tools"
CREATED = 1_793_611_800.0  # 2026-11-02T08:50:00Z
SELLER = "A1SELLER0000001"


def strict_errors(doc: dict[str, Any]) -> list[str]:
    """Every way `doc` departs from the official v2026-01-01 Order model (unknown fields included)."""
    sys.path.insert(0, str(TOOLS))
    try:
        from spapi_strict import validator  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(TOOLS))
    check = validator("orders_2026-01-01.json", "Order")
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in check.iter_errors(doc)]


@dataclass
class Line:
    sku: str = "MUG-1"
    quantity: int = 1
    price: Decimal = Decimal("12.00")
    gift_message: str = ""
    gift_wrap: bool = False
    promotion: str = ""


@dataclass
class Spec:
    """What an order should be; `order()` turns it into a v2026 Order document."""

    marketplace: str = "UK"
    status: str = "UNSHIPPED"
    lines: list[Line] = field(default_factory=lambda: [Line()])
    fba: bool = False
    prime: bool = False
    business: bool = False
    po_number: str = ""
    buyer: str = "buyer-1"
    name: str = "Ann Example"
    company: str = ""
    vat: str = ""
    order_id: str = ""
    created: float = CREATED
    updated: float | None = None
    replaces: str = ""


def order(spec: Spec | None = None, **changes: Any) -> dict[str, Any]:
    """A complete Order as getOrder returns it with every includedData (Pending: no money, no address)."""
    spec = spec or Spec(**changes)
    market = MARKETPLACES[spec.marketplace]
    buyer = Buyer(
        spec.buyer,
        spec.name,
        {code: f"{spec.buyer}-{code.lower()}@marketplace.amazon.example" for code in MARKETPLACES},
        {
            "addressLine1": "1 High Street",
            "city": "Leeds",
            "postalCode": "LS1 4AP",
            "phone": "+44 113 000 0000",
        },
        spec.company,
        spec.vat,
    )
    lines = [
        CartLine(
            Listing(
                SELLER,
                line.sku,
                "B0TEST0001",
                "X00TEST0001",
                f"Title of {line.sku}",
                {market.code: line.price},
            ),
            line.quantity,
            gift_message=line.gift_message,
            gift_wrap=line.gift_wrap,
            promotion_id=line.promotion,
        )
        for line in spec.lines
    ]
    cart = Cart(
        SELLER,
        market,
        buyer,
        lines,
        spec.created,
        fulfilled_by="AMAZON" if spec.fba else "MERCHANT",
        prime=spec.prime,
        business=spec.business,
        purchase_order_number=spec.po_number,
        replaces_order_id=spec.replaces,
    )
    doc = build_order(cart, random.Random(spec.order_id or spec.buyer))
    if spec.order_id:
        doc["orderId"] = spec.order_id
    doc["fulfillment"]["fulfillmentStatus"] = spec.status
    if spec.updated is not None:
        doc["lastUpdatedTime"] = _iso(spec.updated)
    if spec.status in ("PENDING", "PENDING_AVAILABILITY"):
        for key in ("proceeds", "payment", "recipient"):
            doc.pop(key, None)
        doc["buyer"].pop("buyerEmail", None)
        for item in doc["orderItems"]:
            item.pop("proceeds", None)
    return doc


def _iso(moment: float) -> str:
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    "spec",
    [
        Spec(),
        Spec(status="PENDING"),
        Spec(marketplace="US", prime=True, lines=[Line(gift_message="Happy birthday", gift_wrap=True)]),
        Spec(marketplace="DE", business=True, company="Acme GmbH", vat="DE123456789", po_number="PO-7"),
        Spec(fba=True, prime=True, lines=[Line(), Line(sku="LAMP-2", quantity=2, promotion="PROMO")]),
        Spec(replaces="202-0000000-0000000", fba=True),
    ],
    ids=["ready", "pending", "us-gift", "de-business", "fba-prime", "replacement"],
)
def test_payloads_follow_the_official_order_model_strictly(spec: Spec) -> None:
    assert strict_errors(order(spec)) == []


def test_a_misspelt_field_is_caught_by_the_strict_check() -> None:
    doc = order(Spec())
    doc["buyer"]["buyerMail"] = "x"

    assert any("buyerMail" in error for error in strict_errors(doc))


def money_of(amount: str | Decimal, currency: str) -> dict[str, str]:
    return {"amount": str(amount), "currencyCode": currency}


def set_proceeds(
    doc: dict[str, Any], index: int, breakdowns: list[dict[str, Any]], *, tax_on_top: bool = True
) -> dict[str, Any]:
    """Give item `index` these proceeds breakdowns and make every total agree with them: the item's
    proceedsTotal (TAX added on top, or contained in the charges) and the order's grandTotal and
    aggregated breakdowns (an order-level DELIVERY_TIP kept)."""
    currency = doc["proceeds"]["grandTotal"]["currencyCode"]
    item = doc["orderItems"][index]
    item["proceeds"]["breakdowns"] = breakdowns
    total = sum(
        (Decimal(b["subtotal"]["amount"]) for b in breakdowns if tax_on_top or b["type"] != "TAX"),
        Decimal(0),
    )
    item["proceeds"]["proceedsTotal"] = money_of(total, currency)
    return resum(doc)


def resum(doc: dict[str, Any]) -> dict[str, Any]:
    """The order's grandTotal and aggregated breakdowns from its items (and its delivery tip)."""
    currency = doc["proceeds"]["grandTotal"]["currencyCode"]
    tips = [b for b in doc["proceeds"].get("breakdowns", []) if b["type"] == "DELIVERY_TIP"]
    sums: dict[str, Decimal] = {}
    total = sum((Decimal(b["subtotal"]["amount"]) for b in tips), Decimal(0))
    for item in doc["orderItems"]:
        total += Decimal(item["proceeds"]["proceedsTotal"]["amount"])
        for b in item["proceeds"]["breakdowns"]:
            sums[b["type"]] = sums.get(b["type"], Decimal(0)) + Decimal(b["subtotal"]["amount"])
    doc["proceeds"]["grandTotal"] = money_of(total, currency)
    doc["proceeds"]["breakdowns"] = [
        {"type": kind, "subtotal": money_of(amount, currency)} for kind, amount in sums.items()
    ] + tips
    for execution in doc.get("payment", {}).get("paymentExecutions", []):
        execution["paymentAmount"] = money_of(total, currency)
    return doc


def breakdown(kind: str, amount: str, currency: str, **details: str) -> dict[str, Any]:
    """One ItemProceedsBreakdown; `details` are detailedBreakdowns by subtype (TAX and DISCOUNT only)."""
    found: dict[str, Any] = {"type": kind, "subtotal": money_of(amount, currency)}
    if details:
        found["detailedBreakdowns"] = [
            {"subtype": sub, "value": money_of(value, currency)} for sub, value in details.items()
        ]
    return found
