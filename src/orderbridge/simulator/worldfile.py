"""World files (JSON or YAML): accounts, listings, buyers, official v2026 `Order` objects, FBA history."""

from __future__ import annotations

import json
from dataclasses import asdict, fields
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from orderbridge.simulator import followups, inbound, lifecycle, trickle
from orderbridge.simulator.clock import iso, parse_iso
from orderbridge.simulator.routing import dumps
from orderbridge.simulator.world import (
    Buyer,
    Doc,
    FbaEvent,
    FinancialEvent,
    InboundItem,
    InboundShipment,
    LedgerEvent,
    Listing,
    SellerAccount,
    Trickle,
    World,
)

FORMAT = "orderbridge-sandbox-world"
# Scheduled events a world file keeps (their data is plain JSON); the rest are derived again on load
# (orders turning Ready, FBA shipping, inbound steps) or belong to a served sandbox (reports, feeds).
KEPT_EVENTS = frozenset({"gen_story", "gen_fba", "hide_phone"})
# Properties of the v2026 Order and OrderItem definitions (orders_2026-01-01.json): a world file may not
# invent one, so the sandbox never serves a field Amazon does not have.
ORDER_KEYS = frozenset(
    {
        "orderId",
        "orderAliases",
        "createdTime",
        "lastUpdatedTime",
        "programs",
        "associatedOrders",
        "salesChannel",
        "buyer",
        "recipient",
        "proceeds",
        "payment",
        "tax",
        "fulfillment",
        "orderItems",
        "packages",
        "fulfillmentOrders",
    }
)
ITEM_KEYS = frozenset(
    {
        "orderItemId",
        "quantityOrdered",
        "measurement",
        "associatedOrderItems",
        "programs",
        "product",
        "proceeds",
        "expense",
        "promotion",
        "cancellation",
        "fulfillment",
        "tax",
    }
)


class WorldFileError(ValueError):
    """A world file that cannot be loaded; the message names the order and the bad property."""


def _listing_out(listing: Listing) -> Doc:
    return {
        "sku": listing.sku,
        "asin": listing.asin,
        "fnsku": listing.fnsku,
        "title": listing.title,
        "prices": {k: str(v) for k, v in listing.prices.items()},
        "fulfilledBy": listing.fulfilled_by,
        "quantity": listing.quantity,
    }


def _listing_in(seller_id: str, raw: Doc) -> Listing:
    return Listing(
        seller_id,
        raw["sku"],
        raw.get("asin", "B000000000"),
        raw.get("fnsku", "X000000000"),
        str(raw.get("title", raw["sku"])),
        {k: Decimal(str(v)) for k, v in raw.get("prices", {}).items()},
        raw.get("fulfilledBy", "MERCHANT"),
        int(raw.get("quantity", 0)),
    )


def _rows(items: list[Any]) -> list[Doc]:
    if not items:
        return []
    names = [f.name for f in fields(items[0])]  # flat records: cheaper than asdict's deep copy
    out = []
    for item in items:
        row = {name: getattr(item, name) for name in names}
        row["ts"] = iso(row["ts"])
        if "amount" in row:
            row["amount"] = str(row["amount"])
        if "fields" in row:
            row["fields"] = dict(row["fields"])
        out.append(row)
    return out


def dump(world: World) -> Doc:
    """The world as a plain document; orders are exactly the v2026 Order objects the API serves."""
    accounts = []
    for account in world.accounts.values():
        seller = account.seller_id
        orders = [o for o in world.orders.values() if o.seller_id == seller]
        orders.sort(key=lambda o: (o.created_ts, o.order_id))
        accounts.append(
            {
                "sellerId": seller,
                "name": account.name,
                "region": account.region,
                "marketplaceIds": account.marketplace_ids,
                "clientId": account.client_id,
                "clientSecret": account.client_secret,
                "refreshToken": account.refresh_token,
                "listings": [
                    _listing_out(item) for (s, _), item in sorted(world.listings.items()) if s == seller
                ],
                "orders": [o.doc for o in orders],
                "orderMeta": {
                    o.order_id: {"buyerId": o.buyer_id, "visibleAt": iso(o.visible_ts)}
                    for o in orders
                    if o.buyer_id or o.visible_ts != o.created_ts
                },
                "inboundShipments": [
                    _shipment_out(s) for s in world.inbound.values() if s.seller_id == seller
                ],
            }
        )
    buyers = [
        {
            "buyerId": b.buyer_id,
            "name": b.name,
            "emails": b.emails,
            "address": b.address,
            "company": b.company,
            "vatNumber": b.vat_number,
        }
        for b in world.buyers.values()
    ]
    return {
        "format": FORMAT,
        "version": 1,
        "now": iso(world.now),
        "accounts": accounts,
        "buyers": buyers,
        "ledger": _rows(world.ledger),
        "fbaEvents": _rows(world.fba_events),
        "financialEvents": _rows(world.financial_events),
        "settlementDays": world.settlement_days,
        "trickle": _trickle_out(world.trickle),
        "scheduled": [
            {"at": iso(e.ts), "kind": e.kind, "key": e.key, "data": e.data}
            for e in world.pending(KEPT_EVENTS)
        ],
    }


def _trickle_out(live: Trickle | None) -> Doc | None:
    if live is None:
        return None
    return {
        "ordersPerDay": live.orders_per_day,
        "mix": live.mix,
        "seed": live.seed,
        "placed": live.placed,
        "next": iso(live.next_ts) if live.next_ts is not None else None,
    }


def _shipment_out(shipment: InboundShipment) -> Doc:
    row = asdict(shipment)
    row["updated_ts"] = iso(shipment.updated_ts)
    return row


def _normalise(doc: Doc) -> Doc:
    """Check a hand-written order against the model's property names, then fill what the life cycle needs."""
    unknown = set(doc) - ORDER_KEYS
    for item in doc.get("orderItems", []):
        unknown |= {f"orderItems[].{key}" for key in set(item) - ITEM_KEYS}
    missing = {"orderId", "createdTime", "salesChannel", "orderItems"} - set(doc)
    if unknown or missing:
        raise WorldFileError(
            f"order {doc.get('orderId', '?')}: unknown {sorted(unknown)}, missing {sorted(missing)}"
        )
    doc.setdefault("lastUpdatedTime", doc["createdTime"])
    doc.setdefault("fulfillment", {}).setdefault("fulfillmentStatus", "PENDING")
    doc["fulfillment"].setdefault("fulfilledBy", "MERCHANT")
    for item in doc["orderItems"]:
        fulfilment = item.setdefault("fulfillment", {})
        shipped = fulfilment.setdefault("quantityFulfilled", 0)
        fulfilment.setdefault("quantityUnfulfilled", max(item["quantityOrdered"] - shipped, 0))
    return doc


def load(data: Doc, *, seed: int = 0) -> World:
    """Build a world from a world document (as written by `dump`, or by hand)."""
    world = World(now=parse_iso(data["now"]), seed=seed)
    lifecycle.register(world)
    inbound.register(world)
    followups.register(world)
    world.settlement_days = float(data.get("settlementDays", world.settlement_days))
    for raw in data.get("buyers", []):
        world.buyers[raw["buyerId"]] = Buyer(
            raw["buyerId"],
            raw["name"],
            raw.get("emails", {}),
            raw.get("address", {}),
            raw.get("company", ""),
            raw.get("vatNumber", ""),
        )
    for raw in data["accounts"]:
        account = SellerAccount(
            raw["sellerId"],
            raw.get("name", raw["sellerId"]),
            raw.get("region", "NA"),
            raw["marketplaceIds"],
            raw["clientId"],
            raw["clientSecret"],
            raw["refreshToken"],
        )
        world.add_account(account)
        for listing in raw.get("listings", []):
            world.add_listing(_listing_in(account.seller_id, listing))
        meta = raw.get("orderMeta", {})
        for doc in raw.get("orders", []):
            extra = meta.get(doc["orderId"], {})
            visible = parse_iso(extra["visibleAt"]) if "visibleAt" in extra else None
            order = lifecycle.adopt(world, account.seller_id, _normalise(doc), visible_ts=visible)
            order.buyer_id = extra.get("buyerId", "")
        for ship in raw.get("inboundShipments", []):
            items = [InboundItem(**item) for item in ship.pop("items")]
            ship["updated_ts"] = parse_iso(ship["updated_ts"]) if "updated_ts" in ship else world.now
            inbound.create(world, InboundShipment(items=items, **ship))
    _load_rows(world, data)
    for raw in data.get("scheduled", []):
        if raw["kind"] in KEPT_EVENTS:
            world.schedule(parse_iso(raw["at"]), raw["kind"], raw["key"], **raw.get("data", {}))
    live = data.get("trickle")
    if live:
        next_ts = parse_iso(live["next"]) if live.get("next") else None
        trickle.start(
            world,
            Trickle(
                float(live["ordersPerDay"]),
                dict(live["mix"]),
                int(live["seed"]),
                int(live["placed"]),
                next_ts,
            ),
        )
    return world


def _load_rows(world: World, data: Doc) -> None:
    for kind, target in (
        (LedgerEvent, "ledger"),
        (FbaEvent, "fbaEvents"),
        (FinancialEvent, "financialEvents"),
    ):
        names = {f.name for f in fields(kind)}
        for raw in data.get(target, []):
            row = {k: v for k, v in raw.items() if k in names}
            row["ts"] = parse_iso(row["ts"])
            if kind is FinancialEvent:
                row["amount"] = Decimal(row["amount"])
            if kind is LedgerEvent:
                world.record_ledger(LedgerEvent(**row))
            elif kind is FbaEvent:
                world.fba_events.append(FbaEvent(**row))
            else:
                world.financial_events.append(FinancialEvent(**row))


def read(path: Path, *, seed: int = 0) -> World:
    """Read a `.json`, `.yaml` or `.yml` world file."""
    text = path.read_text(encoding="utf-8")
    data = _plain(yaml.safe_load(text)) if path.suffix in (".yaml", ".yml") else json.loads(text)
    return load(data, seed=seed)


def _plain(node: Any) -> Any:
    """YAML turns unquoted timestamps into datetimes; the world wants ISO strings as in the API."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, datetime):
        return iso((node if node.tzinfo else node.replace(tzinfo=UTC)).timestamp())
    return node


def write(world: World, path: Path) -> None:
    data = dump(world)
    if path.suffix in (".yaml", ".yml"):
        path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    else:
        path.write_bytes(_json_lines(data))


def _json_lines(data: Doc) -> bytes:
    """JSON with one record per line: readable and diffable, and fast for 100,000s of records."""
    lines = [b"{"]
    for n, (key, value) in enumerate(data.items()):
        comma = b"," if n < len(data) - 1 else b""
        if key == "accounts":
            lines.append(b' "accounts": [')
            for m, account in enumerate(value):
                lines.append(b"  {")
                for k, (name, field_value) in enumerate(account.items()):
                    inner = b"," if k < len(account) - 1 else b""
                    lines.extend(_member(name, field_value, b"   ", inner))
                lines.append(b"  }" + (b"," if m < len(value) - 1 else b""))
            lines.append(b" ]" + comma)
        else:
            lines.extend(_member(key, value, b" ", comma))
    lines.append(b"}")
    return b"\n".join(lines) + b"\n"


def _member(name: str, value: Any, indent: bytes, comma: bytes) -> list[bytes]:
    head = indent + dumps(name) + b": "
    if not isinstance(value, list) or not value:
        return [head + dumps(value) + comma]
    rows = [indent + b" " + dumps(v) + (b"," if i < len(value) - 1 else b"") for i, v in enumerate(value)]
    return [head + b"[", *rows, indent + b"]" + comma]
