"""The order life cycle: Pending -> Unshipped -> Shipped / Canceled, with its ledger and money trail."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

from orderbridge.simulator.clock import parse_iso
from orderbridge.simulator.errors import invalid_input
from orderbridge.simulator.marketplaces import BY_ID
from orderbridge.simulator.order_builder import (
    Cart,
    build_order,
    finalize_tips,
    item_parts,
    reprice_item,
    resum_order,
    tax_on_top,
)
from orderbridge.simulator.world import Doc, FinancialEvent, LedgerEvent, Scheduled, SimOrder, World

DAY = 86400.0
READY_AFTER = 30 * 60.0  # Pending orders become Unshipped after about 30 minutes (issue 4 §2)
COMMISSION = Decimal("0.15")
FBA_FEE = Decimal("3.22")


def register(world: World) -> None:
    """Install the life-cycle event handlers on a world."""
    world.handlers["ready"] = _on_ready
    world.handlers["fba_ship"] = _on_fba_ship
    world.handlers["hide_phone"] = _on_hide_phone
    world.handlers["release"] = _on_release


def place(world: World, cart: Cart, *, visible_delay: float = 0.0) -> SimOrder:
    """A buyer checks out: a PENDING order appears (after `visible_delay`, for late-arriving orders)."""
    doc = build_order(cart, world.rng)
    while doc["orderId"] in world.orders:
        doc = build_order(cart, world.rng)
    order = SimOrder(
        cart.seller_id,
        doc,
        cart.created_ts,
        cart.created_ts,
        cart.created_ts + visible_delay,
        buyer_id=cart.buyer.buyer_id,
    )
    world.add_order(order)
    if cart.extra.get("unit_ledger_rows"):
        world.unit_ledger_rows.add(order.order_id)
    if order.status == "PENDING_AVAILABILITY":  # a pre-order waits for its release date
        world.schedule(
            cart.created_ts + float(cart.extra.get("release_after", DAY)), "release", order.order_id
        )
    else:
        world.schedule(cart.created_ts + READY_AFTER, "ready", order.order_id)
    return order


def adopt(world: World, seller_id: str, doc: Doc, *, visible_ts: float | None = None) -> SimOrder:
    """Take a hand-written or stored Order document into the world, scheduling what it still awaits."""
    created = parse_iso(str(doc["createdTime"]))
    updated = parse_iso(str(doc.get("lastUpdatedTime", doc["createdTime"])))
    order = SimOrder(seller_id, doc, created, updated, created if visible_ts is None else visible_ts)
    world.add_order(order)
    if order.status == "PENDING":
        world.schedule(max(created + READY_AFTER, world.now), "ready", order.order_id)
    elif order.status in ("UNSHIPPED", "PARTIALLY_SHIPPED") and order.fulfilled_by == "AMAZON":
        world.schedule(world.now + 4 * 3600, "fba_ship", order.order_id)
    return order


def _on_release(world: World, event: Scheduled) -> None:
    """A pre-order's release date: payment authorisation starts (PENDING), Ready follows as usual."""
    order = world.orders.get(event.key)
    if order is not None and order.status == "PENDING_AVAILABILITY":
        order.doc["fulfillment"]["fulfillmentStatus"] = "PENDING"
        world.touch(order)
        world.schedule(world.now + READY_AFTER, "ready", order.order_id)


def mark_unfulfillable(world: World, order: SimOrder) -> None:
    """Amazon cannot fulfil a multi-channel (NON_AMAZON) order: it ends UNFULFILLABLE, nothing ships."""
    if order.status in ("PENDING", "UNSHIPPED") and order.doc["salesChannel"]["channelName"] == "NON_AMAZON":
        order.doc["fulfillment"]["fulfillmentStatus"] = "UNFULFILLABLE"
        world.touch(order)


def _on_ready(world: World, event: Scheduled) -> None:
    order = world.orders.get(event.key)
    if order is not None and order.status == "PENDING":
        make_ready(world, order)


def _on_fba_ship(world: World, event: Scheduled) -> None:
    order = world.orders.get(event.key)
    if order is not None and order.status in ("UNSHIPPED", "PARTIALLY_SHIPPED"):
        ship_by_amazon(world, order)


def _on_hide_phone(world: World, event: Scheduled) -> None:
    """Model (CustomerAddress.phone): suppressed on shipped FBM orders past the latest delivery date."""
    order = world.orders.get(event.key)
    address = order.doc.get("recipient", {}).get("deliveryAddress", {}) if order else {}
    if order is not None and "phone" in address:
        del address["phone"]
        order.revision += 1  # a suppression, not an update: lastUpdatedTime stays
        order.cache.clear()


def make_ready(world: World, order: SimOrder) -> None:
    """Payment cleared: PENDING -> UNSHIPPED; Amazon picks FBA orders some hours later."""
    order.doc["fulfillment"]["fulfillmentStatus"] = "UNSHIPPED"
    world.touch(order)
    if order.fulfilled_by == "AMAZON":
        # A released pre-order draws from its own source, so the world's other draws keep their order.
        rng = random.Random(order.order_id) if "PREORDER" in order.doc.get("programs", []) else world.rng
        world.schedule(world.now + rng.uniform(2, 20) * 3600, "fba_ship", order.order_id)


def cancel(
    world: World,
    order: SimOrder,
    quantities: dict[str, int] | None = None,
    *,
    by: str = "BUYER",
    reason: str = "",
) -> None:
    """Cancel all or some units. A buyer can only cancel while PENDING; later it becomes a request."""
    status = order.status
    if status in ("SHIPPED", "CANCELLED"):
        raise invalid_input(f"order {order.order_id} is {status} and cannot be cancelled")
    if by == "BUYER" and status != "PENDING":
        request_cancellation(world, order, reason or "Buyer requested cancel")
        return
    for item in order.doc["orderItems"]:
        wanted = item["quantityOrdered"] if quantities is None else quantities.get(item["orderItemId"], 0)
        fulfilment = item.setdefault("fulfillment", {})
        open_units = fulfilment.get("quantityUnfulfilled", item["quantityOrdered"])
        units = min(wanted, open_units)
        if units <= 0:
            continue
        before = item["quantityOrdered"]
        item["quantityOrdered"] -= units
        fulfilment["quantityUnfulfilled"] = open_units - units
        ratio = Decimal(item["quantityOrdered"]) / Decimal(before) if before else Decimal(0)
        reprice_item(item, ratio)
        item.setdefault("cancellation", {})["cancellationExecution"] = {
            "cancelledBy": by,
            "cancelReason": reason or "Buyer cancelled",
        }
    resum_order(order.doc)
    if all(i.get("fulfillment", {}).get("quantityUnfulfilled", 0) == 0 for i in order.doc["orderItems"]):
        shipped = any(i["fulfillment"].get("quantityFulfilled", 0) for i in order.doc["orderItems"])
        order.doc["fulfillment"]["fulfillmentStatus"] = "SHIPPED" if shipped else "CANCELLED"
    world.touch(order)


def request_cancellation(world: World, order: SimOrder, reason: str) -> None:
    """After Ready the buyer can only ask; the seller decides (SPAPI.md §14 O21/O22)."""
    for item in order.doc["orderItems"]:
        item.setdefault("cancellation", {})["cancellationRequest"] = {
            "requester": "BUYER",
            "cancelReason": reason,
        }
    world.touch(order)


def confirm_shipment(world: World, order: SimOrder, package: dict[str, Any]) -> None:
    """FBM shipment confirmation (v0 confirmShipment body's `packageDetail`)."""
    if order.fulfilled_by != "MERCHANT":
        raise invalid_input(f"order {order.order_id} is fulfilled by Amazon")
    if order.status not in ("UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"):
        raise invalid_input(
            f"order {order.order_id} is {order.status}; only unshipped orders can be confirmed"
        )
    reference = str(package["packageReferenceId"])
    packages = order.doc.setdefault("packages", [])
    known = next((p for p in packages if p["packageReferenceId"] == reference), None)
    if known is not None:
        _edit_package(world, order, known, package)
        return
    items = {i["orderItemId"]: i for i in order.doc["orderItems"]}
    shipped: dict[str, int] = {}
    for line in package["orderItems"]:
        item = items.get(line["orderItemId"])
        if item is None:
            raise invalid_input(f"order item {line['orderItemId']} is not in order {order.order_id}")
        fulfilment = item["fulfillment"]
        units = min(int(line["quantity"]), fulfilment["quantityUnfulfilled"])
        fulfilment["quantityFulfilled"] += units
        fulfilment["quantityUnfulfilled"] -= units
        shipped[item["orderItemId"]] = units
    packages.append(
        {
            "packageReferenceId": str(package["packageReferenceId"]),
            "createdTime": order.doc["lastUpdatedTime"],
            "packageStatus": {"status": "SHIPPED"},
            "carrier": package.get("carrierName") or package["carrierCode"],
            "shipTime": package["shipDate"],
            "shippingService": package.get("shippingMethod", ""),
            "trackingNumber": package["trackingNumber"],
            "packageItems": [{"orderItemId": k, "quantity": v} for k, v in shipped.items()],
        }
    )
    _settle_shipment(world, order, shipped, "MFN")
    _update_shipped_status(order)
    world.touch(order)
    latest = order.doc["fulfillment"].get("deliverByWindow", {}).get("latestDateTime")
    if order.status == "SHIPPED" and latest:
        world.schedule(max(parse_iso(latest), world.now), "hide_phone", order.order_id)


def ship_by_amazon(world: World, order: SimOrder) -> None:
    """Amazon ships an FBA order from a fulfilment centre, writing ledger Shipments rows."""
    mkt = BY_ID[order.marketplace_id]
    shipped: dict[str, int] = {}
    for item in order.doc["orderItems"]:
        fulfilment = item["fulfillment"]
        units = fulfilment["quantityUnfulfilled"]
        if units <= 0:
            continue
        fulfilment["quantityFulfilled"] += units
        fulfilment["quantityUnfulfilled"] = 0
        shipped[item["orderItemId"]] = units
        sku = item["product"]["sellerSku"]
        fc = pick_fulfillment_center(world, order.seller_id, sku, mkt.fulfillment_centers, units)
        # Some shipments come as one ledger row per unit: identical twin rows, each a real event (F10).
        per_unit = order.order_id in world.unit_ledger_rows
        for quantity in [-1] * units if per_unit else [-units]:
            world.record_ledger(
                LedgerEvent(
                    order.seller_id,
                    world.now,
                    sku,
                    "Shipments",
                    order.order_id,
                    quantity,
                    fc,
                    country=mkt.country_code,
                )
            )
        if "TRANSPARENCY" in item.get("programs", []):
            _add_serial_numbers(item, units)
    _settle_shipment(world, order, shipped, "AFN")
    _update_shipped_status(order)
    world.touch(order)


def _add_serial_numbers(item: Doc, units: int) -> None:
    """Amazon reports the unit codes of Transparency items it ships (model: ItemProduct.serialNumbers)."""
    numbers = item["product"].setdefault("serialNumbers", [])
    start = len(numbers)
    numbers.extend(f"TPC{item['orderItemId'][-8:]}{n:03d}" for n in range(start, start + units))


def pick_fulfillment_center(
    world: World, seller_id: str, sku: str, centers: tuple[str, ...], units: int = 1
) -> str:
    """Where Amazon ships from: a marketplace FC holding the units, else the region FC holding most."""
    stock = fba_stock(world, seller_id, sku)
    local = [fc for fc in centers if stock.get(fc, 0) >= units]
    if local:
        return max(local, key=lambda fc: stock[fc])
    # EU stock travels between countries (Pan-European FBA), so any FC of the seller's region may ship.
    anywhere = [fc for fc, n in stock.items() if n > 0]
    return max(anywhere, key=lambda fc: stock[fc]) if anywhere else centers[0]


def fba_stock(world: World, seller_id: str, sku: str) -> dict[str, int]:
    """Sellable FBA units per fulfilment centre, summed from the ledger."""
    return {
        fc: units for (seller, item, fc), units in world.stock.items() if seller == seller_id and item == sku
    }


def _edit_package(world: World, order: SimOrder, known: dict[str, Any], package: dict[str, Any]) -> None:
    """A confirmation of a package Amazon already has edits its carrier, tracking and ship date (the
    docs: confirmShipment also edits an already-shipped order's shipment); no unit ships twice."""
    known["carrier"] = package.get("carrierName") or package["carrierCode"]
    known["trackingNumber"] = package["trackingNumber"]
    known["shipTime"] = package["shipDate"]
    known["shippingService"] = package.get("shippingMethod", known.get("shippingService", ""))
    world.touch(order)


def _update_shipped_status(order: SimOrder) -> None:
    items = order.doc["orderItems"]
    open_units = sum(i["fulfillment"]["quantityUnfulfilled"] for i in items)
    order.doc["fulfillment"]["fulfillmentStatus"] = "PARTIALLY_SHIPPED" if open_units else "SHIPPED"
    if not open_units:
        finalize_tips(order.doc)


def _withheld_prefix(item: Doc) -> str:
    """The settlement's withheld-tax description for a facilitator item, "" when the seller owes the tax."""
    tax = item.get("tax", {})
    if not any(c.get("model") == "MARKETPLACE_FACILITATOR" for c in tax.get("taxCollections", [])):
        return ""
    schemes = {b.get("reportingScheme") for b in tax.get("taxCalculationBreakdowns", [])}
    if "IOSS" in schemes:
        return "LowValueGoodsTax"
    return "MarketplaceFacilitatorTax" if "NA" in _regions(item) else "MarketplaceFacilitatorVAT"


def _regions(item: Doc) -> set[str]:
    currency = item.get("proceeds", {}).get("proceedsTotal", {}).get("currencyCode", "")
    return {"NA"} if currency in ("USD", "CAD", "MXN") else {"EU"}


def _money_rows(item: Doc, tax_inclusive: bool) -> list[tuple[str, str, Decimal]]:
    """Settlement amount components of a whole item (SPAPI.md §8.1 vocabulary; docs/amazon-payloads.md)."""
    parts = item_parts(item)

    def part(key: str) -> Decimal:
        return parts.get(key, Decimal(0))

    gross = {kind: part(kind) for kind in ("ITEM", "SHIPPING", "GIFT_WRAP", "COD_FEE", "OTHER")}
    promotions = {kind: part(f"DISCOUNT_{kind}") for kind in ("ITEM", "SHIPPING")}
    if tax_inclusive and tax_on_top(item):  # subtotals net of VAT: the settlement shows them gross
        for kind in gross:
            gross[kind] += part(f"TAX_{kind}")
        promotions["ITEM"] += part("TAX_DISCOUNT")
    taxes = {
        "Principal": part("TAX_ITEM") + part("TAX_DISCOUNT") + part("TAX_COD_FEE") + part("TAX_OTHER"),
        "Shipping": part("TAX_SHIPPING"),
        "Giftwrap": part("TAX_GIFT_WRAP"),
    }
    rows = [
        ("ItemPrice", "Principal", gross["ITEM"]),
        ("ItemPrice", "Shipping", gross["SHIPPING"]),
        ("ItemPrice", "GiftWrap", gross["GIFT_WRAP"]),
        ("ItemPrice", "CODFee", gross["COD_FEE"]),
        ("ItemPrice", "Other", gross["OTHER"]),
        ("Promotion", "Principal", promotions["ITEM"]),
        ("Promotion", "Shipping", promotions["SHIPPING"]),
    ]
    if not tax_inclusive:
        rows += [
            ("ItemPrice", "Tax", taxes["Principal"]),
            ("ItemPrice", "ShippingTax", taxes["Shipping"]),
            ("ItemPrice", "GiftWrapTax", taxes["Giftwrap"]),
        ]
    prefix = _withheld_prefix(item)
    if prefix:
        rows += [("ItemWithheldTax", f"{prefix}-{part_name}", -amount) for part_name, amount in taxes.items()]
    return rows


def _settle_shipment(world: World, order: SimOrder, shipped: dict[str, int], channel: str) -> None:
    """Settlement rows for shipped units (SPAPI.md §8.1 amount-type vocabulary)."""
    mkt = BY_ID[order.marketplace_id]
    if order.doc["salesChannel"]["channelName"] != "AMAZON":
        return  # a multi-channel fulfilment order is no Amazon sale: nothing is released for it
    for item in order.doc["orderItems"]:
        units = shipped.get(item["orderItemId"], 0)
        ordered = item["quantityOrdered"] or units
        if units <= 0:
            continue
        share = Decimal(units) / Decimal(ordered)
        rows = [(kind, text, amount * share) for kind, text, amount in _money_rows(item, mkt.tax_inclusive)]
        gross = rows[0][2] + rows[1][2]
        rows.append(("ItemFees", "Commission", -(gross * COMMISSION)))
        if channel == "AFN":
            rows.append(("ItemFees", "FBAPerUnitFulfillmentFee", -FBA_FEE * units))
        for amount_type, description, amount in rows:
            if amount == 0 and description not in ("Principal", "Commission"):
                continue
            world.financial_events.append(
                FinancialEvent(
                    order.seller_id,
                    order.marketplace_id,
                    world.now,
                    "Order",
                    order.order_id,
                    amount_type,
                    description,
                    amount.quantize(Decimal("0.01")),
                    sku=item["product"]["sellerSku"],
                    quantity=units,
                    order_item_code=item["orderItemId"],
                    shipment_id=f"S{order.order_id[-7:]}",
                    fulfillment_id=channel,
                )
            )


def refund(world: World, order: SimOrder, sku: str, units: int) -> None:
    """Refund rows for returned units: the shipment rows of that SKU, reversed pro rata."""
    if order.doc["salesChannel"]["channelName"] != "AMAZON":
        return  # a multi-channel order released nothing; its seller refunds the buyer where it was sold
    item = next(i for i in order.doc["orderItems"] if i["product"]["sellerSku"] == sku)
    mkt = BY_ID[order.marketplace_id]
    share = Decimal(units) / Decimal(max(item["quantityOrdered"], 1))
    components = _money_rows(item, mkt.tax_inclusive)
    refunded = {("ItemPrice", "Principal"), ("ItemPrice", "Tax")}
    rows = [
        (kind, text, -amount * share)
        for kind, text, amount in components
        if (kind, text) in refunded or (kind == "ItemWithheldTax" and text.endswith("-Principal"))
    ]
    principal = next(
        amount for kind, text, amount in components if text == "Principal" and kind == "ItemPrice"
    )
    rows.append(("ItemFees", "Commission", principal * share * COMMISSION))
    for amount_type, description, amount in rows:
        world.financial_events.append(
            FinancialEvent(
                order.seller_id,
                order.marketplace_id,
                world.now,
                "Refund",
                order.order_id,
                amount_type,
                description,
                amount.quantize(Decimal("0.01")),
                sku=sku,
                quantity=units,
                order_item_code=item["orderItemId"],
                adjustment_id=f"A{order.order_id[-7:]}",
                fulfillment_id="AFN" if order.fulfilled_by == "AMAZON" else "MFN",
            )
        )
