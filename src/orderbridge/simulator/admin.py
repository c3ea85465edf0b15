"""The admin API under /_sandbox (not an Amazon path): world, clock, orders, FBA events, faults, call log."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from starlette.responses import Response

from orderbridge.simulator import fba, generator, inbound, lifecycle, worldfile
from orderbridge.simulator.clock import iso, parse_iso
from orderbridge.simulator.errors import SandboxError, invalid_input, not_found
from orderbridge.simulator.marketplaces import marketplace
from orderbridge.simulator.order_builder import Cart, CartLine
from orderbridge.simulator.routing import Ctx, Handler, Route, json_response
from orderbridge.simulator.world import Buyer, InboundItem, InboundShipment, SimOrder

P = "/_sandbox"


def _order(ctx: Ctx) -> SimOrder:
    order = ctx.sandbox.world.orders.get(ctx.params["orderId"])
    if order is None:
        raise not_found(f"order {ctx.params['orderId']}")
    return order


async def state(ctx: Ctx) -> Response:
    world = ctx.sandbox.world
    sellers = [
        {
            "sellerId": a.seller_id,
            "region": a.region,
            "marketplaceIds": a.marketplace_ids,
            "clientId": a.client_id,
            "clientSecret": a.client_secret,
            "refreshToken": a.refresh_token,
        }
        for a in world.accounts.values()
    ]
    return json_response(
        {
            "now": iso(world.now),
            "speed": ctx.sandbox.clock.speed,
            "orders": len(world.orders),
            "sellers": sellers,
            "quotasEnabled": ctx.sandbox.quotas.enabled,
        }
    )


async def listings(ctx: Ctx) -> Response:
    """Every seller's listings, so that a connector can set up a catalog to match (not an Amazon path)."""
    found = [
        {
            "sellerId": listing.seller_id,
            "sku": listing.sku,
            "asin": listing.asin,
            "title": listing.title,
            "fulfilledBy": listing.fulfilled_by,
            "quantity": listing.quantity,
            "marketplaceIds": sorted(marketplace(code).marketplace_id for code in listing.prices),
        }
        for listing in ctx.sandbox.world.listings.values()
    ]
    return json_response({"listings": found})


async def load_world(ctx: Ctx) -> Response:
    body = await ctx.json_body()
    try:
        if "generate" in body:
            spec = dict(body["generate"])
            settings = generator.Settings(
                seed=int(spec.get("seed", 7)),
                orders_per_day=int(spec.get("ordersPerDay", 50)),
                days=int(spec.get("days", 7)),
                marketplaces=list(spec.get("marketplaces", ["US", "UK", "DE"])),
                mix=generator.parse_mix(spec.get("mix", "")),
                now=parse_iso(spec["now"]) if "now" in spec else ctx.sandbox.clock.now(),
            )
            world = generator.generate(settings)
        else:
            world = worldfile.load(body)
    except (KeyError, ValueError, TypeError) as exc:
        raise invalid_input(f"bad world: {exc}") from exc
    ctx.sandbox.load(world)
    return await state(ctx)


async def dump_world(ctx: Ctx) -> Response:
    return json_response(worldfile.dump(ctx.sandbox.world))


async def clock(ctx: Ctx) -> Response:
    body = await ctx.json_body()
    sandbox = ctx.sandbox
    if "speed" in body:
        sandbox.clock.set_speed(float(body["speed"]))
    if "advance" in body:
        sandbox.advance(float(body["advance"]))
    if "to" in body:
        target = parse_iso(body["to"])
        sandbox.advance(max(0.0, target - sandbox.clock.now()))
    sandbox.sync()
    return json_response({"now": iso(sandbox.world.now), "speed": sandbox.clock.speed})


async def place_order(ctx: Ctx) -> Response:
    """Body: sellerId?, marketplace, items [{sku, quantity, giftMessage?, giftWrap?}], prime, business...,
    salesChannel (AMAZON, or NON_AMAZON for a multi-channel fulfilment order, fulfilled by Amazon)."""
    body = await ctx.json_body()
    world = ctx.sandbox.world
    seller = body.get("sellerId") or next(iter(world.accounts))
    mkt = marketplace(body.get("marketplace", "US"))
    lines = []
    for raw in body.get("items", []):
        listing = world.listing(seller, raw["sku"])
        if listing is None:
            raise invalid_input(f"unknown SKU {raw['sku']!r} for seller {seller}")
        lines.append(
            CartLine(
                listing,
                int(raw.get("quantity", 1)),
                raw.get("giftMessage", ""),
                bool(raw.get("giftWrap")),
                raw.get("promotionId", ""),
            )
        )
    if not lines:
        raise invalid_input("an order needs items")
    buyer = world.buyers.get(body.get("buyerId", "")) or next(iter(world.buyers.values()), None)
    if buyer is None:
        buyer = Buyer(
            "BUY-ADMIN",
            "Sandbox Buyer",
            {},
            {"addressLine1": "1 Main St", "city": "Springfield", "postalCode": "12345"},
        )
        world.buyers[buyer.buyer_id] = buyer
    buyer.emails.setdefault(mkt.code, f"{buyer.buyer_id.lower()}@{mkt.email_domain}")
    fulfilled_by = body.get("fulfilledBy") or lines[0].listing.fulfilled_by
    cart = Cart(
        seller,
        mkt,
        buyer,
        lines,
        world.now,
        fulfilled_by=fulfilled_by,
        prime=bool(body.get("prime")),
        easy_ship=bool(body.get("easyShip")),
        business=bool(body.get("business")),
        purchase_order_number=body.get("purchaseOrderNumber", ""),
        replaces_order_id=body.get("replacesOrderId", ""),
        seller_order_id=body.get("sellerOrderId", ""),
    )
    channel = body.get("salesChannel", "AMAZON")
    if channel not in ("AMAZON", "NON_AMAZON"):
        raise invalid_input(f"salesChannel {channel!r} is not AMAZON or NON_AMAZON")
    if channel == "NON_AMAZON" and fulfilled_by != "AMAZON":
        raise invalid_input("a multi-channel (NON_AMAZON) order is fulfilled by Amazon")
    cart.channel = channel
    order = lifecycle.place(world, cart, visible_delay=ctx.sandbox.faults.late_delay())
    return json_response({"orderId": order.order_id, "order": order.doc}, 201)


async def cancel_order(ctx: Ctx) -> Response:
    body = await ctx.json_body()
    order = _order(ctx)
    items = body.get("items")
    lifecycle.cancel(
        ctx.sandbox.world, order, items, by=body.get("by", "BUYER"), reason=body.get("reason", "")
    )
    return json_response({"orderId": order.order_id, "status": order.status})


async def ready_order(ctx: Ctx) -> Response:
    order = _order(ctx)
    if order.status != "PENDING":
        raise invalid_input(f"order {order.order_id} is {order.status}")
    lifecycle.make_ready(ctx.sandbox.world, order)
    return json_response({"orderId": order.order_id, "status": order.status})


async def ship_order(ctx: Ctx) -> Response:
    """Ship now: FBA orders by Amazon; FBM orders as if the seller confirmed elsewhere."""
    order = _order(ctx)
    world = ctx.sandbox.world
    if order.status not in ("UNSHIPPED", "PARTIALLY_SHIPPED"):
        raise invalid_input(f"order {order.order_id} is {order.status}")
    if order.fulfilled_by == "AMAZON":
        lifecycle.ship_by_amazon(world, order)
    else:
        lines = [
            {"orderItemId": i["orderItemId"], "quantity": i["fulfillment"]["quantityUnfulfilled"]}
            for i in order.doc["orderItems"]
        ]
        lifecycle.confirm_shipment(
            world,
            order,
            {
                "packageReferenceId": "1",
                "carrierCode": "UPS",
                "trackingNumber": "1ZADMIN",
                "shipDate": iso(world.now),
                "orderItems": lines,
            },
        )
    return json_response({"orderId": order.order_id, "status": order.status})


async def return_order(ctx: Ctx) -> Response:
    body = await ctx.json_body()
    order = _order(ctx)
    fba.customer_return(
        ctx.sandbox.world,
        order,
        body["sku"],
        int(body.get("quantity", 1)),
        disposition=body.get("disposition", "SELLABLE"),
        reason=body.get("reason", "UNWANTED"),
    )
    return json_response({"orderId": order.order_id})


async def replace_order(ctx: Ctx) -> Response:
    body = await ctx.json_body()
    replacement = fba.replace_order(ctx.sandbox.world, _order(ctx), body["sku"], int(body.get("quantity", 1)))
    return json_response({"orderId": replacement.order_id}, 201)


async def fba_event(ctx: Ctx) -> Response:
    """Body: sellerId?, sku, kind (lost|found|damaged|disposed|reimbursement), quantity, fc?"""
    body = await ctx.json_body()
    world = ctx.sandbox.world
    seller = body.get("sellerId") or next(iter(world.accounts))
    kind, sku, quantity = body["kind"], body["sku"], int(body.get("quantity", 1))
    fc = body.get("fc") or marketplace(world.accounts[seller].marketplace_ids[0]).fulfillment_centers[0]
    if kind == "reimbursement":
        amount = Decimal(str(body["amountPerUnit"])) if "amountPerUnit" in body else None
        fba.reimburse(
            world,
            seller,
            sku,
            quantity,
            reason=body.get("reason", "Lost_Warehouse"),
            order_id=body.get("orderId", ""),
            inventory=bool(body.get("inventory")),
            amount_per_unit=amount,
        )
    else:
        fba.adjust(world, seller, sku, kind, quantity=quantity, fc=fc)
    return json_response({"ok": True}, 201)


async def create_inbound(ctx: Ctx) -> Response:
    """Body: sellerId?, shipmentId, items [{sku, quantityShipped, receive?}], auto (walk the life cycle)."""
    body = await ctx.json_body()
    world = ctx.sandbox.world
    seller = body.get("sellerId") or next(iter(world.accounts))
    mkt = marketplace(body.get("marketplace") or world.accounts[seller].marketplace_ids[0])
    items = []
    for raw in body.get("items", []):
        listing = world.listing(seller, raw["sku"])
        items.append(
            InboundItem(
                raw["sku"],
                listing.fnsku if listing else raw.get("fnsku", "X000UNKNOWN"),
                int(raw.get("quantityShipped", 0)),
                receive_target=raw.get("receive"),
            )
        )
    ship_from = {
        "Name": "Seller warehouse",
        "AddressLine1": "1 Warehouse Way",
        "City": "Springfield",
        "StateOrProvinceCode": "WA",
        "CountryCode": mkt.country_code,
        "PostalCode": "98101",
    }
    shipment = InboundShipment(
        seller,
        body["shipmentId"],
        body.get("name", body["shipmentId"]),
        mkt.marketplace_id,
        body.get("destination", mkt.fulfillment_centers[0]),
        "WORKING",
        world.now,
        items,
        ship_from,
    )
    inbound.create(world, shipment, auto=bool(body.get("auto", False)))
    return json_response({"shipmentId": shipment.shipment_id, "status": shipment.status}, 201)


async def step_inbound(ctx: Ctx) -> Response:
    shipment = ctx.sandbox.world.inbound.get(ctx.params["shipmentId"])
    if shipment is None:
        raise not_found(f"shipment {ctx.params['shipmentId']}")
    if shipment.status == "CLOSED":
        raise invalid_input("the shipment is closed")
    inbound.step(ctx.sandbox.world, shipment)
    return json_response({"shipmentId": shipment.shipment_id, "status": shipment.status})


async def stock(ctx: Ctx) -> Response:
    """Sellable FBA units per SKU and fulfilment centre (from the ledger)."""
    seller = ctx.q("sellerId")
    rows = [
        {"sellerId": s, "sku": sku, "fulfillmentCenter": fc, "sellable": units}
        for (s, sku, fc), units in sorted(ctx.sandbox.world.stock.items())
        if seller in (None, s)
    ]
    return json_response({"stock": rows})


async def faults(ctx: Ctx) -> Response:
    if ctx.request.method == "PUT":
        try:
            ctx.sandbox.faults.configure(await ctx.json_body())
        except (TypeError, ValueError) as exc:
            raise invalid_input(str(exc)) from exc
    return json_response(ctx.sandbox.faults.describe())


async def quotas(ctx: Ctx) -> Response:
    body: dict[str, Any] = await ctx.json_body() if ctx.request.method == "PUT" else {}
    if "enabled" in body:
        ctx.sandbox.quotas.enabled = bool(body["enabled"])
    if body.get("reset"):
        ctx.sandbox.quotas.reset()
    for operation, plan in (body.get("plans") or {}).items():
        # Orders has dynamic usage plans: a big seller may get more than the default (SPAPI.md §3.3).
        ctx.sandbox.quotas.plans[operation] = (float(plan[0]), int(plan[1]))
        ctx.sandbox.quotas.buckets = {
            k: v for k, v in ctx.sandbox.quotas.buckets.items() if k[1] != operation
        }
    return json_response({"enabled": ctx.sandbox.quotas.enabled, "plans": ctx.sandbox.quotas.plans})


async def calls(ctx: Ctx) -> Response:
    if ctx.request.method == "DELETE":
        ctx.sandbox.calls.clear()
    return json_response({"operations": ctx.sandbox.calls.summary()})


async def expire_tokens(ctx: Ctx) -> Response:
    ctx.sandbox.tokens.expire_all()
    return json_response({"ok": True})


def _guard(handler: Handler) -> Handler:
    async def run(ctx: Ctx) -> Response:
        try:
            return await handler(ctx)
        except SandboxError as error:
            return json_response(error.body(), error.status)
        except KeyError as exc:
            return json_response(invalid_input(f"missing field {exc}").body(), 400)

    return run


def routes() -> list[Route]:
    table = [
        ("GET", "/state", state),
        ("GET", "/world", dump_world),
        ("GET", "/listings", listings),
        ("POST", "/world", load_world),
        ("POST", "/clock", clock),
        ("POST", "/orders", place_order),
        ("POST", "/orders/{orderId}/cancel", cancel_order),
        ("POST", "/orders/{orderId}/ready", ready_order),
        ("POST", "/orders/{orderId}/ship", ship_order),
        ("POST", "/orders/{orderId}/return", return_order),
        ("POST", "/orders/{orderId}/replace", replace_order),
        ("POST", "/fba/events", fba_event),
        ("POST", "/inbound", create_inbound),
        ("GET", "/stock", stock),
        ("POST", "/inbound/{shipmentId}/step", step_inbound),
        ("GET", "/faults", faults),
        ("PUT", "/faults", faults),
        ("GET", "/quotas", quotas),
        ("PUT", "/quotas", quotas),
        ("GET", "/calls", calls),
        ("DELETE", "/calls", calls),
        ("POST", "/tokens/expire", expire_tokens),
    ]
    return [Route(method, P + path, "admin", _guard(handler), admin=True) for method, path, handler in table]
