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
COD_FEE = Decimal("2.00")  # cash on delivery surcharge, charged once per order (first item)
OTHER_FEE = Decimal("0.29")  # a regulatory charge Amazon passes on (docs/amazon-payloads.md: OTHER)
HOUR = 3600.0
# Amazon as deemed supplier outside North America (docs/amazon-payloads.md, UNCONFIRMED names).
UK_FACILITATOR = "Amazon EU S.a.r.L., UK Branch"
EU_FACILITATOR = "Amazon Services Europe S.a.r.L."
# VAT of a destination other than the marketplace's country (a UK order shipped to Ireland).
DESTINATION_VAT = {"IE": Decimal("0.23")}
CHARGES = ("ITEM", "SHIPPING", "GIFT_WRAP", "COD_FEE", "OTHER")
TAX_SUBTYPES = ("ITEM", "SHIPPING", "GIFT_WRAP", "COD_FEE", "OTHER", "DISCOUNT")


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
    shipping_promotion_id: str = ""  # a promotion on the shipping charge (DISCOUNT subtype SHIPPING)
    discount_detailed: bool = False  # an item-only DISCOUNT still carries its ITEM detailed breakdown
    transparency: bool = False  # item program TRANSPARENCY: Amazon reports unit codes when it ships
    subscribe_and_save: bool = False  # item program SUBSCRIBE_AND_SAVE
    serial_required: bool = False  # FBM: the seller must give serial numbers (packing requirement)


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
    programs: tuple[str, ...] = ()  # further order programs (PREMIUM, PREORDER, AMAZON_HAUL...)
    channel: str = "AMAZON"  # NON_AMAZON: a multi-channel fulfilment order (no Amazon sale, no proceeds)
    cash_on_delivery: bool = False
    delivery_tip: Decimal = Decimal(0)  # order-level DELIVERY_TIP, PENDING until the order ships
    tip_in_pending_total: bool = True  # whether grandTotal counts a tip that is still PENDING
    other_fee: bool = False  # an OTHER charge on the first item
    facilitator: str = ""  # Amazon withholds the tax (UK / EU; North America always, by marketplace)
    reporting_scheme: str = ""  # IOSS / UOSS (EU VAT schemes) for facilitator orders
    ship_to_country: str = ""  # another country than the marketplace's (its VAT applies)
    tax_on_top: bool = False  # Europe: subtotals net of VAT and TAX added on top (the other shape)
    discount_tax_separate: bool = False  # tax on discounts as TAX subtype DISCOUNT, not netted in ITEM


def new_order_id(rng: random.Random, marketplace: Marketplace) -> str:
    """Amazon's 3-7-7 order id; NA ids start with 11x, EU ids with 30x here."""
    first, second = rng.randint(0, 9999999), rng.randint(0, 9999999)
    return f"{marketplace.order_prefix}{rng.randint(1, 9)}-{first:07d}-{second:07d}"


@dataclass
class LineMoney:
    """One line's money as the buyer sees it: charges and discounts (VAT-inclusive in Europe, net in
    North America), the tax in them or on them by subtype, and the line's total."""

    unit: Decimal
    charges: dict[str, Decimal]
    discounts: dict[str, Decimal]  # ITEM / SHIPPING, negative
    tax: dict[str, Decimal]
    total: Decimal


def tax_rate(cart: Cart) -> Decimal:
    """The VAT or sales-tax rate of the order: the destination's where it differs from the marketplace's."""
    return DESTINATION_VAT.get(cart.ship_to_country, cart.marketplace.tax_rate)


def _line_money(cart: Cart, line: CartLine, *, first: bool) -> LineMoney:
    mkt = cart.marketplace
    free = cart.replaces_order_id != ""  # replacement orders are not charged (O19)
    unit = Decimal(0) if free else line.listing.prices.get(mkt.code, Decimal("10.00"))
    shipping = Decimal(0) if (free or cart.prime or cart.fulfilled_by == "AMAZON") else SHIPPING_PRICE
    charges = {
        "ITEM": unit * line.quantity,
        "SHIPPING": shipping,
        "GIFT_WRAP": GIFT_WRAP_PRICE if (line.gift_wrap and not free) else Decimal(0),
        "COD_FEE": COD_FEE if (cart.cash_on_delivery and first and not free) else Decimal(0),
        "OTHER": OTHER_FEE if (cart.other_fee and first and not free) else Decimal(0),
    }
    discounts = {
        "ITEM": -PROMOTION_DISCOUNT if (line.promotion_id and not free) else Decimal(0),
        "SHIPPING": -shipping if line.shipping_promotion_id else Decimal(0),
    }
    rate = tax_rate(cart)

    def tax_of(amount: Decimal) -> Decimal:
        if mkt.tax_inclusive:
            # EU prices include VAT (O15): the TAX is the VAT contained, not added on top.
            return (amount - amount / (1 + rate)).quantize(CENT, ROUND_HALF_UP)
        return (amount * rate).quantize(CENT, ROUND_HALF_UP)

    tax = {kind: tax_of(charges[kind]) for kind in CHARGES}
    if cart.discount_tax_separate:
        tax["DISCOUNT"] = tax_of(discounts["ITEM"]) + tax_of(discounts["SHIPPING"])
    else:
        tax["ITEM"] = tax_of(charges["ITEM"] + discounts["ITEM"])
        tax["SHIPPING"] = tax_of(charges["SHIPPING"] + discounts["SHIPPING"])
        tax["DISCOUNT"] = Decimal(0)
    total = sum(charges.values(), Decimal(0)) + sum(discounts.values(), Decimal(0))
    if not mkt.tax_inclusive:
        total += sum(tax.values(), Decimal(0))
    return LineMoney(unit, charges, discounts, tax, total)


def _row(kind: str, amount: Decimal, currency: str) -> Doc:
    return {"type": kind, "subtotal": money(amount, currency)}


def _detail(subtype: str, amount: Decimal, currency: str) -> Doc:
    return {"subtype": subtype, "value": money(amount, currency)}


def _item_breakdowns(cart: Cart, line: CartLine, amounts: LineMoney) -> list[Doc]:
    """ITEM, SHIPPING, GIFT_WRAP, COD_FEE, OTHER, DISCOUNT and TAX rows with their detailed breakdowns."""
    currency = cart.marketplace.currency
    charges, discounts, tax = dict(amounts.charges), dict(amounts.discounts), amounts.tax
    if cart.marketplace.tax_inclusive and cart.tax_on_top:
        _take_out_tax(charges, discounts, amounts, tax_rate(cart))
    rows = [_row(kind, charges[kind], currency) for kind in CHARGES if kind == "ITEM" or charges[kind] != 0]
    discount_total = discounts["ITEM"] + discounts["SHIPPING"]
    if discount_total != 0:
        discount = _row("DISCOUNT", discount_total, currency)
        if discounts["SHIPPING"] != 0 or line.discount_detailed:
            discount["detailedBreakdowns"] = [
                _detail(kind, discounts[kind], currency)
                for kind in ("ITEM", "SHIPPING")
                if discounts[kind] != 0
            ]
        rows.append(discount)
    tax_row = _row("TAX", sum(tax.values(), Decimal(0)), currency)
    tax_row["detailedBreakdowns"] = [
        _detail(kind, tax[kind], currency) for kind in TAX_SUBTYPES if kind == "ITEM" or tax[kind] != 0
    ]
    rows.append(tax_row)
    return rows


def _take_out_tax(
    charges: dict[str, Decimal], discounts: dict[str, Decimal], amounts: LineMoney, rate: Decimal
) -> None:
    """The other European shape: every subtotal net of its VAT, so that TAX adds up on top of them."""
    for kind in CHARGES:
        charges[kind] = (charges[kind] / (1 + rate)).quantize(CENT, ROUND_HALF_UP)
    for kind in ("ITEM", "SHIPPING"):
        discounts[kind] = (discounts[kind] / (1 + rate)).quantize(CENT, ROUND_HALF_UP)
    # Whatever rounding leaves over goes to the item, so the net subtotals and the TAX add up to the gross.
    net = sum(charges.values(), Decimal(0)) + sum(discounts.values(), Decimal(0))
    charges["ITEM"] += amounts.total - sum(amounts.tax.values(), Decimal(0)) - net


def _item_doc(cart: Cart, line: CartLine, item_id: str, *, first: bool) -> tuple[Doc, LineMoney]:
    mkt = cart.marketplace
    amounts = _line_money(cart, line, first=first)
    price: Doc = {"unitPrice": money(amounts.unit, mkt.currency)}
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
        "fulfillment": {"quantityFulfilled": 0, "quantityUnfulfilled": line.quantity},
    }
    programs = [
        p
        for p, on in (("TRANSPARENCY", line.transparency), ("SUBSCRIBE_AND_SAVE", line.subscribe_and_save))
        if on
    ]
    if programs:
        item["programs"] = programs
    if cart.channel == "AMAZON":  # a multi-channel fulfilment order is no Amazon sale: no proceeds
        item["proceeds"] = {
            "proceedsTotal": money(amounts.total, mkt.currency),
            "breakdowns": _item_breakdowns(cart, line, amounts),
        }
    promotions = [p for p in (line.promotion_id, line.shipping_promotion_id) if p]
    if promotions:
        item["promotion"] = {"breakdowns": [{"promotionId": p} for p in promotions]}
    packing: Doc = {}
    if line.gift_message or line.gift_wrap:
        gift: Doc = {"giftMessage": line.gift_message} if line.gift_message else {}
        if line.gift_wrap:
            gift["giftWrapLevel"] = "Classic"
        packing["giftOption"] = gift
    if line.serial_required:
        packing["serialNumberRequirement"] = {"requirementType": "REQUIRED"}
    if packing:
        item["fulfillment"]["packing"] = packing
    shipping: Doc = {}
    if cart.cash_on_delivery:
        shipping["shippingConstraints"] = {"cashOnDelivery": "MANDATORY"}
    if cart.reporting_scheme == "IOSS" and cart.fulfilled_by == "MERCHANT" and cart.channel == "AMAZON":
        shipping["internationalShipping"] = {"iossNumber": MARKETPLACE_VAT["IOSS"]}  # for the carrier
    if shipping:
        item["fulfillment"]["shipping"] = shipping
    if cart.channel == "AMAZON":
        item_tax = _item_tax(cart)
        if item_tax:
            item["tax"] = item_tax
    return item, amounts


def _item_tax(cart: Cart) -> Doc:
    """Marketplace-facilitator tax: Amazon withholds and remits it (O16), with the EU scheme if any."""
    party = cart.facilitator or cart.marketplace.tax_responsible_party
    if not party:
        return {}
    tax: Doc = {"taxCollections": [{"model": "MARKETPLACE_FACILITATOR", "responsibleParty": party}]}
    if cart.reporting_scheme:
        tax["taxCalculationBreakdowns"] = [{"reportingScheme": cart.reporting_scheme}]
    return tax


def _order_breakdowns(items: list[Doc], currency: str) -> list[Doc]:
    sums: dict[str, Decimal] = {}
    for item in items:
        for row in item.get("proceeds", {}).get("breakdowns", []):
            sums[row["type"]] = sums.get(row["type"], Decimal(0)) + Decimal(row["subtotal"]["amount"])
    return [_row(kind, amount, currency) for kind, amount in sums.items()]


def _programs(cart: Cart) -> list[str]:
    flags = (("PRIME", cart.prime), ("AMAZON_BUSINESS", cart.business), ("AMAZON_EASY_SHIP", cart.easy_ship))
    programs = [p for p, on in flags if on]
    return programs + [p for p in cart.programs if p not in programs]


def build_order(cart: Cart, rng: random.Random) -> Doc:
    """A full Order document in PENDING state, with every section any includedData can ask for."""
    mkt = cart.marketplace
    order_id = new_order_id(rng, mkt)
    items: list[Doc] = []
    grand_total = Decimal(0)
    for n, line in enumerate(cart.lines):
        item_id = f"{rng.randint(10**13, 10**14 - 1)}"
        item, amounts = _item_doc(cart, line, item_id, first=n == 0)
        items.append(item)
        grand_total += amounts.total
    currency = mkt.currency
    ship_days = 1 if cart.prime else 2
    created = cart.created_ts
    doc: Doc = {
        "orderId": order_id,
        "createdTime": iso(created),
        "lastUpdatedTime": iso(created),
        "programs": _programs(cart),
        "salesChannel": {
            "channelName": cart.channel,
            "marketplaceId": mkt.marketplace_id,
            "marketplaceName": mkt.name,
        },
        "buyer": _buyer(cart),
        "recipient": _recipient(cart),
    }
    if cart.channel == "AMAZON":
        breakdowns = _order_breakdowns(items, currency)
        if cart.delivery_tip:
            # Order-level only (model: not attributed to an item); PENDING until the order ships.
            tip = {
                "type": "DELIVERY_TIP",
                "status": "PENDING",
                "subtotal": money(cart.delivery_tip, currency),
            }
            breakdowns.append(tip)
            if cart.tip_in_pending_total:
                grand_total += cart.delivery_tip
        doc["proceeds"] = {"grandTotal": money(grand_total, currency), "breakdowns": breakdowns}
        method = "CashOnDelivery" if cart.cash_on_delivery else "CreditCard"
        doc["payment"] = {
            "paymentExecutions": [{"paymentMethod": method, "paymentAmount": money(grand_total, currency)}]
        }
    doc["fulfillment"] = {
        "fulfillmentStatus": "PENDING_AVAILABILITY" if "PREORDER" in cart.programs else "PENDING",
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
    }
    doc["orderItems"] = items
    if cart.seller_order_id:
        doc["orderAliases"] = [{"aliasId": cart.seller_order_id, "aliasType": "SELLER_ORDER_ID"}]
    if cart.replaces_order_id:
        doc["associatedOrders"] = [
            {"orderId": cart.replaces_order_id, "associationType": "REPLACEMENT_ORIGINAL_ID"}
        ]
    registrations = _tax_registrations(cart)
    if registrations:
        doc["tax"] = {"taxRegistrations": registrations}
    if cart.fulfilled_by == "MERCHANT":
        doc["packages"] = []
    return doc


# Amazon's own VAT registrations as deemed supplier (docs/amazon-payloads.md, UNCONFIRMED numbers).
MARKETPLACE_VAT = {"GB": "GB727255821", "IOSS": "IM4420001201", "UOSS": "EU372000041"}


def _tax_registrations(cart: Cart) -> list[Doc]:
    """The business buyer's VAT number (Europe) and, where Amazon is deemed supplier, Amazon's own."""
    registrations: list[Doc] = []
    if cart.business and cart.buyer.vat_number and cart.marketplace.tax_inclusive:
        registrations.append(
            {
                "entityType": "BUYER",
                "legalName": cart.buyer.company or cart.buyer.name,
                "taxRegistrationType": "VAT",
                "taxRegistrationNumber": cart.buyer.vat_number,
            }
        )
    if cart.facilitator and cart.channel == "AMAZON":
        number = MARKETPLACE_VAT.get(cart.reporting_scheme or cart.marketplace.country_code, "")
        if number:
            registrations.append(
                {
                    "entityType": "MARKETPLACE",
                    "legalName": cart.facilitator,
                    "taxRegistrationType": "VAT",
                    "taxRegistrationNumber": number,
                }
            )
    return registrations


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
    address["countryCode"] = cart.ship_to_country or cart.marketplace.country_code
    address["addressType"] = "COMMERCIAL" if cart.business else "RESIDENTIAL"
    if cart.business and cart.buyer.company:
        address["companyName"] = cart.buyer.company
    if cart.fulfilled_by == "AMAZON":  # model: phone suppressed for all FBA orders
        address.pop("phone", None)
    return {"deliveryAddress": address}


def _scaled(value: Doc, ratio: Decimal) -> Doc:
    return money(Decimal(value["amount"]) * ratio, value["currencyCode"])


def _amount(value: Doc) -> Decimal:
    return Decimal(value["amount"])


def tax_on_top(item: Doc) -> bool:
    """Whether the item's total adds its TAX on top of the other subtotals (North America, and the
    other European shape) rather than holding it inside them (docs/amazon-payloads.md)."""
    proceeds = item.get("proceeds", {})
    rows = proceeds.get("breakdowns", [])
    everything = sum((_amount(r["subtotal"]) for r in rows), Decimal(0))
    return "proceedsTotal" in proceeds and _amount(proceeds["proceedsTotal"]) == everything


def reprice_item(item: Doc, ratio: Decimal) -> None:
    """Scale an item's proceeds after units were cancelled (ratio = units left / units before)."""
    proceeds = item.get("proceeds")
    if not proceeds:
        return
    on_top = tax_on_top(item)
    for row in proceeds.get("breakdowns", []):
        row["subtotal"] = _scaled(row["subtotal"], ratio)
        details = row.get("detailedBreakdowns", [])
        for detail in details:
            detail["value"] = _scaled(detail["value"], ratio)
        if details:  # the row stays the sum of its details after rounding
            total = sum((_amount(d["value"]) for d in details), Decimal(0))
            row["subtotal"] = money(total, row["subtotal"]["currencyCode"])
    total = sum(
        (_amount(r["subtotal"]) for r in proceeds["breakdowns"] if on_top or r["type"] != "TAX"),
        Decimal(0),
    )
    proceeds["proceedsTotal"] = money(total, proceeds["proceedsTotal"]["currencyCode"])


def _tips(doc: Doc) -> list[Doc]:
    return [r for r in doc.get("proceeds", {}).get("breakdowns", []) if r["type"] == "DELIVERY_TIP"]


def _tips_counted(doc: Doc) -> bool:
    """Whether grandTotal counts the order's tips now (a PENDING tip may be left out of it)."""
    proceeds = doc["proceeds"]
    on_top = all(tax_on_top(item) for item in doc["orderItems"] if item.get("proceeds"))
    rest = sum(
        (
            _amount(r["subtotal"])
            for r in proceeds.get("breakdowns", [])
            if r["type"] != "DELIVERY_TIP" and (on_top or r["type"] != "TAX")
        ),
        Decimal(0),
    )
    return _amount(proceeds["grandTotal"]) != rest


def resum_order(doc: Doc, *, count_tips: bool | None = None) -> None:
    """Order proceeds and payment as the sum of its items (after a partial cancellation) and its tips."""
    proceeds = doc.get("proceeds")
    if not proceeds:
        return
    currency = proceeds["grandTotal"]["currencyCode"]
    tips = _tips(doc)
    counted = _tips_counted(doc) if count_tips is None else count_tips
    total = sum(
        (_amount(item["proceeds"]["proceedsTotal"]) for item in doc["orderItems"] if item.get("proceeds")),
        Decimal(0),
    )
    if counted:
        total += sum((_amount(t["subtotal"]) for t in tips), Decimal(0))
    proceeds["grandTotal"] = money(total, currency)
    proceeds["breakdowns"] = _order_breakdowns(doc["orderItems"], currency) + tips
    for execution in doc.get("payment", {}).get("paymentExecutions", []):
        execution["paymentAmount"] = money(total, currency)


def finalize_tips(doc: Doc) -> None:
    """The order shipped: its delivery tip is FINALIZED and counts in grandTotal."""
    tips = _tips(doc)
    if tips and any(t.get("status") != "FINALIZED" for t in tips):
        for tip in tips:
            tip["status"] = "FINALIZED"
        resum_order(doc, count_tips=True)


def item_parts(item: Doc) -> dict[str, Decimal]:
    """An item's money by component, whatever shape it came in: `ITEM`, `SHIPPING`, `GIFT_WRAP`,
    `COD_FEE`, `OTHER` and `DISCOUNT_ITEM` / `DISCOUNT_SHIPPING` as the buyer saw them (VAT-inclusive
    in Europe, net in North America), `TAX_<subtype>` the tax by subtype."""
    parts: dict[str, Decimal] = {}
    rows = item.get("proceeds", {}).get("breakdowns", [])
    for row in rows:
        kind, amount = row["type"], _amount(row["subtotal"])
        details = row.get("detailedBreakdowns") or [{"subtype": "ITEM", "value": row["subtotal"]}]
        if kind in ("TAX", "DISCOUNT"):
            for detail in details:
                key = f"{kind}_{detail['subtype']}"
                parts[key] = parts.get(key, Decimal(0)) + _amount(detail["value"])
        else:
            parts[kind] = parts.get(kind, Decimal(0)) + amount
    return parts
