"""Orders API v0: confirmShipment, and the deprecated reads with PII only through a Restricted Data Token."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.responses import Response

from orderbridge.simulator import lifecycle
from orderbridge.simulator.clock import iso, parse_iso
from orderbridge.simulator.errors import invalid_input, not_found
from orderbridge.simulator.marketplaces import BY_ID
from orderbridge.simulator.routing import Ctx, Route, json_response, parse_int
from orderbridge.simulator.world import Doc, SimOrder

BASE = "/orders/v0/orders"
V0_STATUS = {
    "PENDING_AVAILABILITY": "PendingAvailability",
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}
V0_LEVEL = {
    "STANDARD": "Standard",
    "EXPEDITED": "Expedited",
    "NEXT_DAY": "NextDay",
    "SECOND_DAY": "SecondDay",
    "SAME_DAY": "SameDay",
    "FREE_ECONOMY": "FreeEconomy",
    "PRIORITY": "Priority",
    "SCHEDULED": "Scheduled",
}
ADDRESS_KEYS = {
    "name": "Name",
    "companyName": "CompanyName",
    "addressLine1": "AddressLine1",
    "addressLine2": "AddressLine2",
    "city": "City",
    "stateOrRegion": "StateOrRegion",
    "postalCode": "PostalCode",
    "countryCode": "CountryCode",
    "phone": "Phone",
}


def _money(value: Decimal, currency: str) -> dict[str, str]:
    return {"CurrencyCode": currency, "Amount": str(value.quantize(Decimal("0.01")))}


def _parts(item: Doc) -> dict[str, Decimal]:
    return {
        b["type"]: Decimal(b["subtotal"]["amount"]) for b in item.get("proceeds", {}).get("breakdowns", [])
    }


def v0_order(order: SimOrder, pii: frozenset[str]) -> Doc:
    """The v0 `Order` for a world order; BuyerInfo / ShippingAddress only with an RDT (SPAPI.md §4.5)."""
    doc = order.doc
    mkt = BY_ID[order.marketplace_id]
    status = order.status
    items = doc["orderItems"]
    shipped = sum(i["fulfillment"]["quantityFulfilled"] for i in items)
    unshipped = sum(i["fulfillment"]["quantityUnfulfilled"] for i in items)
    programs = doc.get("programs", [])
    fulfilment = doc["fulfillment"]
    level = V0_LEVEL.get(fulfilment.get("fulfillmentServiceLevel", ""), "Standard")
    out: Doc = {
        "AmazonOrderId": doc["orderId"],
        "PurchaseDate": doc["createdTime"],
        "LastUpdateDate": doc["lastUpdatedTime"],
        "OrderStatus": V0_STATUS[status],
        "FulfillmentChannel": "AFN" if order.fulfilled_by == "AMAZON" else "MFN",
        "SalesChannel": mkt.name if doc["salesChannel"]["channelName"] == "AMAZON" else "Non-Amazon",
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": unshipped,
        "PaymentMethod": "COD" if _cash_on_delivery(doc) else "Other",
        "PaymentMethodDetails": ["Standard"],
        "MarketplaceId": mkt.marketplace_id,
        # v0 still names the level in free text (SPAPI.md §4.2 example "Std US D2D Dom").
        "ShipServiceLevel": f"{'Std' if level == 'Standard' else 'Exp'} {mkt.country_code} D2D Dom",
        "ShipmentServiceLevelCategory": level,
        "OrderType": "StandardOrder",
        "IsBusinessOrder": "AMAZON_BUSINESS" in programs,
        "IsPrime": "PRIME" in programs and order.fulfilled_by == "MERCHANT",
        "IsPremiumOrder": "PREMIUM" in programs,
        "IsGlobalExpressEnabled": False,
        "IsReplacementOrder": bool(doc.get("associatedOrders")),
        "IsSoldByAB": False,
        "IsIBA": False,
        "IsISPU": "IN_STORE_PICK_UP" in programs,
        "IsAccessPointOrder": False,
    }
    windows = (("shipByWindow", "ShipDate"), ("deliverByWindow", "DeliveryDate"))
    for window, suffix in windows:
        if window in fulfilment and (suffix == "ShipDate" or order.fulfilled_by == "MERCHANT"):
            out["Earliest" + suffix] = fulfilment[window]["earliestDateTime"]  # delivery dates: MFN only
            out["Latest" + suffix] = fulfilment[window]["latestDateTime"]
    if doc.get("associatedOrders"):
        out["ReplacedOrderId"] = doc["associatedOrders"][0]["orderId"]
    for alias in doc.get("orderAliases", []):
        out["SellerOrderId"] = alias["aliasId"]
    if status not in ("PENDING", "PENDING_AVAILABILITY") and "proceeds" in doc:
        total = Decimal(doc["proceeds"]["grandTotal"]["amount"])
        out["OrderTotal"] = _money(total, mkt.currency)
        if "shippingAddress" in pii:
            out["ShippingAddress"] = v0_address(doc)
    if "buyerInfo" in pii:
        out["BuyerInfo"] = _buyer_info(doc)
    return out


def _cash_on_delivery(doc: Doc) -> bool:
    executions = doc.get("payment", {}).get("paymentExecutions", [])
    return any(e.get("paymentMethod") == "CashOnDelivery" for e in executions)


def v0_address(doc: Doc) -> Doc:
    address = doc.get("recipient", {}).get("deliveryAddress", {})
    out = {ADDRESS_KEYS[k]: v for k, v in address.items() if k in ADDRESS_KEYS}
    if "addressType" in address:
        out["AddressType"] = "Commercial" if address["addressType"] == "COMMERCIAL" else "Residential"
    return out


def _buyer_info(doc: Doc) -> Doc:
    buyer = doc.get("buyer", {})
    info: Doc = {}
    if "buyerEmail" in buyer and doc["fulfillment"]["fulfillmentStatus"] not in ("PENDING", "CANCELLED"):
        info["BuyerEmail"] = buyer["buyerEmail"]
    if "buyerName" in buyer:
        info["BuyerName"] = buyer["buyerName"]
    if "buyerPurchaseOrderNumber" in buyer:
        info["PurchaseOrderNumber"] = buyer["buyerPurchaseOrderNumber"]
    return info


def v0_item(order: SimOrder, item: Doc, pii: frozenset[str]) -> Doc:
    mkt = BY_ID[order.marketplace_id]
    product = item["product"]
    out: Doc = {
        "ASIN": product["asin"],
        "SellerSKU": product["sellerSku"],
        "OrderItemId": item["orderItemId"],
        "Title": product["title"],
        "QuantityOrdered": item["quantityOrdered"],
        "QuantityShipped": item["fulfillment"]["quantityFulfilled"],
        "ProductInfo": {"NumberOfItems": "1"},
        "ConditionId": "New",
        "ConditionSubtypeId": "New",
        "IsTransparency": "TRANSPARENCY" in item.get("programs", []),
        "SerialNumberRequired": "serialNumberRequirement" in item["fulfillment"].get("packing", {}),
    }
    gift = item["fulfillment"].get("packing", {}).get("giftOption", {})
    if order.status not in ("PENDING", "PENDING_AVAILABILITY"):
        # SPAPI.md §4.3: Pending items carry no pricing, taxes, shipping charges, gift status or promotions.
        parts = _parts(item)
        out["ItemPrice"] = _money(parts.get("ITEM", Decimal(0)), mkt.currency)
        out["ItemTax"] = _money(parts.get("TAX", Decimal(0)), mkt.currency)
        out["ShippingPrice"] = _money(parts.get("SHIPPING", Decimal(0)), mkt.currency)
        out["PromotionDiscount"] = _money(-parts.get("DISCOUNT", Decimal(0)), mkt.currency)
        out["IsGift"] = "true" if gift else "false"
        for collection in item.get("tax", {}).get("taxCollections", []):
            out["TaxCollection"] = {
                "Model": "MarketplaceFacilitator",
                "ResponsibleParty": collection["responsibleParty"],
            }
        if "promotion" in item:
            out["PromotionIds"] = [p["promotionId"] for p in item["promotion"]["breakdowns"]]
        if "buyerInfo" in pii and gift:
            info: Doc = {}
            if gift.get("giftMessage"):
                info["GiftMessageText"] = gift["giftMessage"]
            if gift.get("giftWrapLevel"):
                info["GiftWrapLevel"] = gift["giftWrapLevel"]
                info["GiftWrapPrice"] = _money(parts.get("GIFT_WRAP", Decimal(0)), mkt.currency)
            out["BuyerInfo"] = info
    request = item.get("cancellation", {}).get("cancellationRequest")
    if request:
        out["BuyerRequestedCancel"] = {
            "IsBuyerRequestedCancel": "true",
            "BuyerCancelReason": request["cancelReason"],
        }
    return out


def _order(ctx: Ctx) -> SimOrder:
    order = ctx.sandbox.world.orders.get(ctx.params["orderId"])
    if order is None or order.seller_id != ctx.principal.seller_id or order.visible_ts > ctx.now:
        raise not_found(f"Order {ctx.params['orderId']} was not found.")
    return order


async def get_orders(ctx: Ctx) -> Response:
    world = ctx.sandbox.world
    seller = ctx.principal.seller_id
    marketplaces = ctx.qlist("MarketplaceIds")
    if not marketplaces:
        raise invalid_input("MarketplaceIds is required.")
    size = parse_int(ctx.q("MaxResultsPerPage"), "MaxResultsPerPage", 1, 100, 100)
    offset = int(ctx.q("NextToken") or 0) if (ctx.q("NextToken") or "0").isdigit() else -1
    if offset < 0:
        raise invalid_input("Invalid NextToken.")
    by_update = ctx.q("LastUpdatedAfter") is not None
    after_text = ctx.q("LastUpdatedAfter") if by_update else ctx.q("CreatedAfter")
    if after_text is None:
        raise invalid_input("Either CreatedAfter or LastUpdatedAfter must be specified.")
    before_text = ctx.q("LastUpdatedBefore" if by_update else "CreatedBefore")
    before = parse_iso(before_text) if before_text else ctx.now - 120
    if before > ctx.now - 120:
        raise invalid_input("Date must be at least two minutes before the time of the request.")
    statuses = set(ctx.qlist("OrderStatuses"))
    channels = set(ctx.qlist("FulfillmentChannels"))
    index = (world.updated_index if by_update else world.created_index)[seller]
    rows = []
    for order_id in index.between(parse_iso(after_text), before):
        order = world.orders[order_id]
        v0 = V0_STATUS[order.status]
        if order.visible_ts > ctx.now or order.marketplace_id not in marketplaces:
            continue
        if (statuses and v0 not in statuses) or (
            channels and ("AFN" if order.fulfilled_by == "AMAZON" else "MFN") not in channels
        ):
            continue
        rows.append(order)
    page = rows[offset : offset + size]
    payload: dict[str, Any] = {"Orders": [v0_order(o, ctx.principal.data_elements) for o in page]}
    if offset + size < len(rows):
        payload["NextToken"] = str(offset + size)
    payload["LastUpdatedBefore" if by_update else "CreatedBefore"] = iso(before)
    return json_response({"payload": payload})


async def get_order(ctx: Ctx) -> Response:
    return json_response({"payload": v0_order(_order(ctx), ctx.principal.data_elements)})


async def get_order_items(ctx: Ctx) -> Response:
    order = _order(ctx)
    items = [v0_item(order, i, ctx.principal.data_elements) for i in order.doc["orderItems"]]
    return json_response({"payload": {"AmazonOrderId": order.order_id, "OrderItems": items}})


async def get_order_items_buyer_info(ctx: Ctx) -> Response:
    order = _order(ctx)
    rows = []
    for item in order.doc["orderItems"]:
        row: Doc = {"OrderItemId": item["orderItemId"]}
        if ctx.principal.restricted:  # gift details are buyer PII (SPAPI.md §4.3)
            info = v0_item(order, item, frozenset({"buyerInfo"})).get("BuyerInfo", {})
            row.update(info)
        rows.append(row)
    return json_response({"payload": {"AmazonOrderId": order.order_id, "OrderItems": rows}})


async def get_order_buyer_info(ctx: Ctx) -> Response:
    order = _order(ctx)
    info = _buyer_info(order.doc) if ctx.principal.restricted else {}
    return json_response({"payload": {"AmazonOrderId": order.order_id, **info}})


async def get_order_address(ctx: Ctx) -> Response:
    order = _order(ctx)
    payload: Doc = {"AmazonOrderId": order.order_id}
    if ctx.principal.restricted and order.status not in ("PENDING", "PENDING_AVAILABILITY"):
        payload["ShippingAddress"] = v0_address(order.doc)
    return json_response({"payload": payload})


async def confirm_shipment(ctx: Ctx) -> Response:
    order = _order(ctx)
    body = await ctx.json_body()
    package = body.get("packageDetail")
    if body.get("marketplaceId") != order.marketplace_id or not isinstance(package, dict):
        raise invalid_input("marketplaceId and packageDetail are required and must match the order.")
    for key in ("packageReferenceId", "carrierCode", "trackingNumber", "shipDate", "orderItems"):
        if not package.get(key):
            raise invalid_input(f"packageDetail.{key} is required.")
    if package["carrierCode"] == "Other" and not package.get("carrierName"):
        raise invalid_input("carrierName is required when carrierCode is Other.")
    lifecycle.confirm_shipment(ctx.sandbox.world, order, package)
    return Response(status_code=204)


def routes() -> list[Route]:
    return [
        Route("GET", BASE, "getOrders", get_orders),
        Route("GET", BASE + "/{orderId}", "v0.getOrder", get_order),
        Route("GET", BASE + "/{orderId}/orderItems", "getOrderItems", get_order_items),
        Route("GET", BASE + "/{orderId}/buyerInfo", "getOrderBuyerInfo", get_order_buyer_info),
        Route(
            "GET",
            BASE + "/{orderId}/orderItems/buyerInfo",
            "getOrderItemsBuyerInfo",
            get_order_items_buyer_info,
        ),
        Route("GET", BASE + "/{orderId}/address", "getOrderAddress", get_order_address),
        Route("POST", BASE + "/{orderId}/shipmentConfirmation", "confirmShipment", confirm_shipment),
    ]
