"""Builds complete v2026-01-01 `Order` documents (every includedData section) from a shopping cart."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from orderbridge.simulator.clock import iso
from orderbridge.simulator.marketplaces import Marketplace
from orderbridge.simulator.world import Buyer, Doc, Listing

CENT = Decimal("0.01")
SHIPPING_PRICE = Decimal("4.99")
GIFT_WRAP_PRICE = Decimal("3.99")
PROMOTION_DISCOUNT = Decimal("2.00")
HOUR = 3600.0


def money(amount: Decimal, currency: str) -> dict[str, str]:
    """A v2026 `Money` object; the amount is a decimal string (model: Decimal)."""
    return {"amount": str(amount.quantize(CENT, ROUND_HALF_UP)), "currencyCode": currency}


@dataclass
class CartLine:
    """One SKU and quantity the buyer checks out."""

    listing: Listing
    quantity: int
    gift_message: str = ""
    gift_wrap: bool = False
    promotion_id: str = ""


@dataclass
class Cart:
    """What a buyer orders: the input to `build_order`."""

    seller_id: str
    marketplace: Marketplace
    buyer: Buyer
    lines: list[CartLine]
    created_ts: float
    fulfilled_by: str = "MERCHANT"
    prime: bool = False
    business: bool = False
    easy_ship: bool = False
    purchase_order_number: str = ""
    service_level: str = "STANDARD"
    replaces_order_id: str = ""
    seller_order_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def new_order_id(rng: random.Random, marketplace: Marketplace) -> str:
    """Amazon's 3-7-7 order id; NA ids start with 11x, EU ids with 30x here."""
    first, second = rng.randint(0, 9999999), rng.randint(0, 9999999)
    return f"{marketplace.order_prefix}{rng.randint(1, 9)}-{first:07d}-{second:07d}"


def _line_amounts(cart: Cart, line: CartLine) -> dict[str, Decimal]:
    mkt = cart.marketplace
    free = cart.replaces_order_id != ""  # replacement orders are not charged (O19)
    unit = Decimal(0) if free else line.listing.prices.get(mkt.code, Decimal("10.00"))
    item = unit * line.quantity
    shipping = Decimal(0) if (free or cart.prime or cart.fulfilled_by == "AMAZON") else SHIPPING_PRICE
    wrap = GIFT_WRAP_PRICE if (line.gift_wrap and not free) else Decimal(0)
    discount = -PROMOTION_DISCOUNT if (line.promotion_id and not free) else Decimal(0)
    taxable = item + shipping + wrap + discount
    if mkt.tax_inclusive:
        # EU prices include VAT (SPAPI.md §14 O14/O15): TAX is the VAT contained, not added on top.
        tax = (taxable - taxable / (1 + mkt.tax_rate)).quantize(CENT, ROUND_HALF_UP)
        total = taxable
    else:
        tax = (taxable * mkt.tax_rate).quantize(CENT, ROUND_HALF_UP)
        total = taxable + tax
    return {
        "unit": unit,
        "item": item,
        "shipping": shipping,
        "wrap": wrap,
        "discount": discount,
        "tax": tax,
        "total": total,
    }


def _breakdowns(amounts: dict[str, Decimal], currency: str, *, detailed: bool) -> list[Doc]:
    kinds = (("ITEM", "item"), ("SHIPPING", "shipping"), ("GIFT_WRAP", "wrap"), ("DISCOUNT", "discount"))
    rows: list[Doc] = [
        {"type": kind, "subtotal": money(amounts[key], currency)}
        for kind, key in kinds
        if kind == "ITEM" or amounts[key] != 0
    ]
    tax: Doc = {"type": "TAX", "subtotal": money(amounts["tax"], currency)}
    if detailed:  # model: only ItemProceedsBreakdown has detailedBreakdowns
        tax["detailedBreakdowns"] = [{"subtype": "ITEM", "value": money(amounts["tax"], currency)}]
    rows.append(tax)
    return rows


def _item_doc(cart: Cart, line: CartLine, item_id: str) -> tuple[Doc, dict[str, Decimal]]:
    mkt = cart.marketplace
    amounts = _line_amounts(cart, line)
    price: Doc = {"unitPrice": money(amounts["unit"], mkt.currency)}
    if cart.business:
        price["priceDesignation"] = "BUSINESS_PRICE"
    item: Doc = {
        "orderItemId": item_id,
        "quantityOrdered": line.quantity,
        "product": {
            "asin": line.listing.asin,
            "title": line.listing.title,
            "sellerSku": line.listing.sku,
            "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
            "price": price,
        },
        "proceeds": {
            "proceedsTotal": money(amounts["total"], mkt.currency),
            "breakdowns": _breakdowns(amounts, mkt.currency, detailed=True),
        },
        "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": line.quantity},
    }
    if line.promotion_id:
        item["promotion"] = {"breakdowns": [{"promotionId": line.promotion_id}]}
    if line.gift_message or line.gift_wrap:
        gift: Doc = {"giftMessage": line.gift_message} if line.gift_message else {}
        if line.gift_wrap:
            gift["giftWrapLevel"] = "Classic"
        item["fulfillment"]["packing"] = {"giftOption": gift}
    if mkt.tax_responsible_party:
        # NA marketplace-facilitator tax: Amazon withholds and remits it (SPAPI.md §14 O16).
        collection = {"model": "MARKETPLACE_FACILITATOR", "responsibleParty": mkt.tax_responsible_party}
        item["tax"] = {"taxCollections": [collection]}
    return item, amounts


def build_order(cart: Cart, rng: random.Random) -> Doc:
    """A full Order document in PENDING state, with every section any includedData can ask for."""
    mkt = cart.marketplace
    order_id = new_order_id(rng, mkt)
    items: list[Doc] = []
    totals: dict[str, Decimal] = {}
    for line in cart.lines:
        item_id = f"{rng.randint(10**13, 10**14 - 1)}"
        item, amounts = _item_doc(cart, line, item_id)
        items.append(item)
        for key, value in amounts.items():
            totals[key] = totals.get(key, Decimal(0)) + value
    currency = mkt.currency
    ship_days = 1 if cart.prime else 2
    created = cart.created_ts
    doc: Doc = {
        "orderId": order_id,
        "createdTime": iso(created),
        "lastUpdatedTime": iso(created),
        "programs": [
            p
            for p, on in (
                ("PRIME", cart.prime),
                ("AMAZON_BUSINESS", cart.business),
                ("AMAZON_EASY_SHIP", cart.easy_ship),
            )
            if on
        ],
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": mkt.marketplace_id,
            "marketplaceName": mkt.name,
        },
        "buyer": _buyer(cart),
        "recipient": _recipient(cart),
        "proceeds": {
            "grandTotal": money(totals["total"], currency),
            "breakdowns": _breakdowns(totals, currency, detailed=False),
        },
        "payment": {
            "paymentExecutions": [
                {"paymentMethod": "CreditCard", "paymentAmount": money(totals["total"], currency)}
            ]
        },
        "fulfillment": {
            "fulfillmentStatus": "PENDING",
            "fulfilledBy": cart.fulfilled_by,
            "fulfillmentServiceLevel": "NEXT_DAY" if cart.prime else cart.service_level,
            "shipByWindow": {
                "earliestDateTime": iso(created),
                "latestDateTime": iso(created + ship_days * 24 * HOUR),
            },
            "deliverByWindow": {
                "earliestDateTime": iso(created + (ship_days + 1) * 24 * HOUR),
                "latestDateTime": iso(created + (ship_days + 4) * 24 * HOUR),
            },
        },
        "orderItems": items,
    }
    if cart.seller_order_id:
        doc["orderAliases"] = [{"aliasId": cart.seller_order_id, "aliasType": "SELLER_ORDER_ID"}]
    if cart.replaces_order_id:
        doc["associatedOrders"] = [
            {"orderId": cart.replaces_order_id, "associationType": "REPLACEMENT_ORIGINAL_ID"}
        ]
    if cart.business and cart.buyer.vat_number and mkt.tax_inclusive:
        registration = {
            "entityType": "BUYER",
            "legalName": cart.buyer.company or cart.buyer.name,
            "taxRegistrationType": "VAT",
            "taxRegistrationNumber": cart.buyer.vat_number,
        }
        doc["tax"] = {"taxRegistrations": [registration]}
    if cart.fulfilled_by == "MERCHANT":
        doc["packages"] = []
    return doc


def _buyer(cart: Cart) -> Doc:
    buyer: Doc = {"buyerName": cart.buyer.name}
    if cart.fulfilled_by == "MERCHANT":  # model: buyerEmail only for FBM orders
        buyer["buyerEmail"] = cart.buyer.emails[cart.marketplace.code]
    if cart.business:
        if cart.buyer.company:
            buyer["buyerCompanyName"] = cart.buyer.company
        if cart.purchase_order_number:
            buyer["buyerPurchaseOrderNumber"] = cart.purchase_order_number
    return buyer


def _recipient(cart: Cart) -> Doc:
    address = dict(cart.buyer.address)
    address["name"] = cart.buyer.name
    address["countryCode"] = cart.marketplace.country_code
    address["addressType"] = "COMMERCIAL" if cart.business else "RESIDENTIAL"
    if cart.business and cart.buyer.company:
        address["companyName"] = cart.buyer.company
    if cart.fulfilled_by == "AMAZON":  # model: phone suppressed for all FBA orders
        address.pop("phone", None)
    return {"deliveryAddress": address}


def _scaled(value: Doc, ratio: Decimal) -> Doc:
    return money(Decimal(value["amount"]) * ratio, value["currencyCode"])


def reprice_item(item: Doc, ratio: Decimal, *, tax_inclusive: bool) -> None:
    """Scale an item's proceeds after units were cancelled (ratio = units left / units before)."""
    proceeds = item.get("proceeds")
    if not proceeds:
        return
    for row in proceeds.get("breakdowns", []):
        row["subtotal"] = _scaled(row["subtotal"], ratio)
        for detail in row.get("detailedBreakdowns", []):
            detail["value"] = _scaled(detail["value"], ratio)
    total = sum(
        (
            Decimal(r["subtotal"]["amount"])
            for r in proceeds["breakdowns"]
            if not (tax_inclusive and r["type"] == "TAX")
        ),
        Decimal(0),
    )
    proceeds["proceedsTotal"] = money(total, proceeds["proceedsTotal"]["currencyCode"])


def resum_order(doc: Doc) -> None:
    """Order proceeds and payment as the sum of its items (after a partial cancellation)."""
    proceeds = doc.get("proceeds")
    if not proceeds:
        return
    currency = proceeds["grandTotal"]["currencyCode"]
    sums: dict[str, Decimal] = {}
    total = Decimal(0)
    for item in doc["orderItems"]:
        item_proceeds = item.get("proceeds", {})
        total += Decimal(item_proceeds.get("proceedsTotal", {}).get("amount", "0"))
        for row in item_proceeds.get("breakdowns", []):
            sums[row["type"]] = sums.get(row["type"], Decimal(0)) + Decimal(row["subtotal"]["amount"])
    proceeds["grandTotal"] = money(total, currency)
    proceeds["breakdowns"] = [
        {"type": kind, "subtotal": money(amount, currency)} for kind, amount in sums.items()
    ]
    for execution in doc.get("payment", {}).get("paymentExecutions", []):
        execution["paymentAmount"] = money(total, currency)
