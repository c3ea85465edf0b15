"""Fulfillment Inbound v0 reads and the inbound shipment life cycle (over, short, unexpected receipts)."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from orderbridge.simulator import fba
from orderbridge.simulator.clock import parse_iso
from orderbridge.simulator.errors import invalid_input, not_found
from orderbridge.simulator.routing import Ctx, Route, json_response
from orderbridge.simulator.world import Doc, InboundItem, InboundShipment, Scheduled, World

BASE = "/fba/inbound/v0"
HOUR = 3600.0
# SPAPI.md §9.1 life cycle, with the virtual time each step takes before the next one.
STEPS: list[tuple[str, float]] = [
    ("WORKING", 24 * HOUR),
    ("SHIPPED", 4 * HOUR),
    ("IN_TRANSIT", 72 * HOUR),
    ("DELIVERED", 4 * HOUR),
    ("CHECKED_IN", 6 * HOUR),
    ("RECEIVING", 24 * HOUR),
    ("CLOSED", 0.0),
]
ORDER = [name for name, _ in STEPS]
PAGE = 50


def register(world: World) -> None:
    world.handlers["inbound_step"] = _on_step


def create(world: World, shipment: InboundShipment, *, auto: bool = True) -> None:
    """Add a shipment; with `auto` it walks the life cycle on the world's clock."""
    world.inbound[shipment.shipment_id] = shipment
    if auto and shipment.status in ORDER[:-1]:
        world.schedule(world.now + dict(STEPS)[shipment.status], "inbound_step", shipment.shipment_id)


def _on_step(world: World, event: Scheduled) -> None:
    shipment = world.inbound.get(event.key)
    if shipment is not None and shipment.status in ORDER[:-1]:
        step(world, shipment)
        if shipment.status != "CLOSED":
            world.schedule(world.now + dict(STEPS)[shipment.status], "inbound_step", shipment.shipment_id)


def step(world: World, shipment: InboundShipment) -> None:
    """Move a shipment one status on; RECEIVING receives half, CLOSED the rest (over / short as planned)."""
    nxt = ORDER[ORDER.index(shipment.status) + 1]
    if nxt == "RECEIVING":
        _receive(world, shipment, half=True)
    elif nxt == "CLOSED":
        _receive(world, shipment, half=False)
    shipment.status = nxt
    shipment.updated_ts = world.now


def _receive(world: World, shipment: InboundShipment, *, half: bool) -> None:
    for item in shipment.items:
        target = item.quantity_shipped if item.receive_target is None else item.receive_target
        goal = target // 2 if half else target
        units = goal - item.quantity_received
        if units > 0:
            item.quantity_received += units
            fba.receive(
                world,
                shipment.seller_id,
                item.sku,
                units,
                fc=shipment.destination,
                shipment_id=shipment.shipment_id,
            )


def _info(shipment: InboundShipment) -> Doc:
    return {
        "ShipmentId": shipment.shipment_id,
        "ShipmentName": shipment.name,
        "ShipFromAddress": shipment.ship_from,
        "DestinationFulfillmentCenterId": shipment.destination,
        "ShipmentStatus": shipment.status,
        "LabelPrepType": "SELLER_LABEL",
        "AreCasesRequired": False,
        "BoxContentsSource": "INTERACTIVE",
    }


def _item(shipment: InboundShipment, item: InboundItem) -> Doc:
    visible_received = item.quantity_received if shipment.status in ("RECEIVING", "CLOSED") else 0
    return {
        "ShipmentId": shipment.shipment_id,
        "SellerSKU": item.sku,
        "FulfillmentNetworkSKU": item.fnsku,
        "QuantityShipped": item.quantity_shipped,
        "QuantityReceived": visible_received,
        "QuantityInCase": item.quantity_in_case,
    }


def _page(ctx: Ctx, rows: list[Doc], key: str) -> Response:
    token = ctx.q("NextToken")
    start = int(token) if token and token.isdigit() else 0
    if ctx.q("QueryType") == "NEXT_TOKEN" and not token:
        raise invalid_input("NextToken is required when QueryType is NEXT_TOKEN.")
    payload: dict[str, Any] = {key: rows[start : start + PAGE]}
    if start + PAGE < len(rows):
        payload["NextToken"] = str(start + PAGE)
    return json_response({"payload": payload})


def _date_range(ctx: Ctx) -> tuple[float, float]:
    after, before = ctx.q("LastUpdatedAfter"), ctx.q("LastUpdatedBefore")
    if not after or not before:
        raise invalid_input(
            "LastUpdatedAfter and LastUpdatedBefore are required when QueryType is DATE_RANGE."
        )
    return parse_iso(after), parse_iso(before)


def _shipments(ctx: Ctx) -> list[InboundShipment]:
    marketplace = ctx.q("MarketplaceId")
    if not marketplace:
        raise invalid_input("MarketplaceId is required.")
    seller = ctx.principal.seller_id
    return sorted(
        (
            s
            for s in ctx.sandbox.world.inbound.values()
            if s.seller_id == seller and s.marketplace_id == marketplace
        ),
        key=lambda s: (s.updated_ts, s.shipment_id),
    )


async def get_shipments(ctx: Ctx) -> Response:
    query_type = ctx.q("QueryType")
    shipments = _shipments(ctx)
    if query_type == "SHIPMENT":
        statuses, ids = set(ctx.qlist("ShipmentStatusList")), set(ctx.qlist("ShipmentIdList"))
        if not statuses and not ids:
            raise invalid_input(
                "ShipmentStatusList or ShipmentIdList is required when QueryType is SHIPMENT."
            )
        shipments = [
            s
            for s in shipments
            if (not statuses or s.status in statuses) and (not ids or s.shipment_id in ids)
        ]
    elif query_type == "DATE_RANGE":
        low, high = _date_range(ctx)
        shipments = [s for s in shipments if low <= s.updated_ts <= high]
    elif query_type != "NEXT_TOKEN":
        raise invalid_input("QueryType must be SHIPMENT, DATE_RANGE or NEXT_TOKEN.")
    return _page(ctx, [_info(s) for s in shipments], "ShipmentData")


async def get_shipment_items_by_shipment_id(ctx: Ctx) -> Response:
    shipment = ctx.sandbox.world.inbound.get(ctx.params["shipmentId"])
    if shipment is None or shipment.seller_id != ctx.principal.seller_id:
        raise not_found(f"Shipment {ctx.params['shipmentId']} was not found.")
    return json_response({"payload": {"ItemData": [_item(shipment, i) for i in shipment.items]}})


async def get_shipment_items(ctx: Ctx) -> Response:
    shipments = _shipments(ctx)
    if ctx.q("QueryType") == "DATE_RANGE":
        low, high = _date_range(ctx)
        shipments = [s for s in shipments if low <= s.updated_ts <= high]
    elif ctx.q("QueryType") != "NEXT_TOKEN":
        raise invalid_input("QueryType must be DATE_RANGE or NEXT_TOKEN.")
    return _page(ctx, [_item(s, i) for s in shipments for i in s.items], "ItemData")


def routes() -> list[Route]:
    return [
        Route("GET", BASE + "/shipments", "getShipments", get_shipments),
        Route(
            "GET",
            BASE + "/shipments/{shipmentId}/items",
            "getShipmentItemsByShipmentId",
            get_shipment_items_by_shipment_id,
        ),
        Route("GET", BASE + "/shipmentItems", "getShipmentItems", get_shipment_items),
    ]
