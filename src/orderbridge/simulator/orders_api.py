"""Orders API v2026-01-01: searchOrders / getOrder with includedData, pagination tokens, 2-minute rule."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

from starlette.responses import Response

from orderbridge.simulator.clock import iso, parse_iso
from orderbridge.simulator.errors import invalid_input, not_found
from orderbridge.simulator.routing import Ctx, Route, dumps, parse_int, raw_json
from orderbridge.simulator.world import Doc, SimOrder, World

BASE = "/orders/2026-01-01/orders"
INCLUDED_DATA = (
    "BUYER",
    "RECIPIENT",
    "PROCEEDS",
    "EXPENSE",
    "PROMOTION",
    "CANCELLATION",
    "FULFILLMENT",
    "PACKAGES",
    "TAX",
    "PAYMENT",
    "FULFILLMENT_ORDERS",
)
STATUSES = (
    "PENDING_AVAILABILITY",
    "PENDING",
    "UNSHIPPED",
    "PARTIALLY_SHIPPED",
    "SHIPPED",
    "CANCELLED",
    "UNFULFILLABLE",
)
# Which includedData value unlocks which Order / OrderItem property (model: includedData descriptions).
ORDER_SECTIONS = {
    "BUYER": "buyer",
    "RECIPIENT": "recipient",
    "PROCEEDS": "proceeds",
    "FULFILLMENT": "fulfillment",
    "PACKAGES": "packages",
    "TAX": "tax",
    "PAYMENT": "payment",
    "FULFILLMENT_ORDERS": "fulfillmentOrders",
}
ITEM_SECTIONS = {
    "PROCEEDS": "proceeds",
    "EXPENSE": "expense",
    "PROMOTION": "promotion",
    "CANCELLATION": "cancellation",
    "FULFILLMENT": "fulfillment",
    "TAX": "tax",
}
GATED_ORDER = frozenset(ORDER_SECTIONS.values())
GATED_ITEM = frozenset(ITEM_SECTIONS.values())
TWO_MINUTES = 120.0
TOKEN_LIFETIME = 24 * 3600.0  # model: paginationToken expires after 24 hours
BAD_TOKEN = (
    "The paginationToken you have submitted is not valid. All parameters must match the original "
    "request except maxResultsPerPage."
)


def included_mask(values: list[str]) -> int:
    """includedData as a bit mask (the serialisation cache key)."""
    mask = 0
    for value in values:
        if value not in INCLUDED_DATA:
            raise invalid_input(f"Invalid includedData value: {value}.")
        mask |= 1 << INCLUDED_DATA.index(value)
    return mask


@cache
def _wanted(mask: int) -> tuple[frozenset[str], frozenset[str]]:
    """The Order and OrderItem properties these includedData unlock."""
    chosen = [name for i, name in enumerate(INCLUDED_DATA) if mask >> i & 1]
    return (
        frozenset(ORDER_SECTIONS[n] for n in chosen if n in ORDER_SECTIONS),
        frozenset(ITEM_SECTIONS[n] for n in chosen if n in ITEM_SECTIONS),
    )


def _asks_all(doc: Doc, wanted_order: frozenset[str], wanted_item: frozenset[str]) -> bool:
    if not GATED_ORDER.intersection(doc) <= wanted_order:
        return False
    return all(GATED_ITEM.intersection(item) <= wanted_item for item in doc["orderItems"])


def project(order: SimOrder, mask: int) -> Doc:
    """The Order as Amazon returns it for these includedData (Pending orders hold no money and no address)."""
    wanted_order, wanted_item = _wanted(mask)
    doc = order.doc
    pending = order.status in ("PENDING", "PENDING_AVAILABILITY")
    hide_email = pending or order.status == "CANCELLED"
    if (
        not pending
        and not (hide_email and "buyer" in wanted_order)
        and _asks_all(doc, wanted_order, wanted_item)
    ):
        return doc  # everything the order holds is asked for: serialise it as it is
    if pending:
        # SPAPI.md §14 O1/O2: Pending orders carry no prices and no delivery address.
        wanted_order -= {"proceeds", "payment", "recipient"}
        wanted_item -= {"proceeds"}
    out = {k: v for k, v in doc.items() if k not in GATED_ORDER or k in wanted_order}
    if "buyer" in out and "buyerEmail" in out["buyer"] and hide_email:
        # SPAPI.md §5: buyer e-mail only for FBM orders in UNSHIPPED / PARTIALLY_SHIPPED / SHIPPED.
        out["buyer"] = {k: v for k, v in out["buyer"].items() if k != "buyerEmail"}
    out["orderItems"] = [
        {k: v for k, v in item.items() if k not in GATED_ITEM or k in wanted_item}
        for item in doc["orderItems"]
    ]
    return out


def render(order: SimOrder, mask: int) -> bytes:
    """Serialised Order, cached per revision and includedData (searchOrders must do >= 200 pages/s)."""
    cached = order.cache.get(mask)
    if cached is None:
        cached = order.cache[mask] = dumps(project(order, mask))
    return cached


@dataclass(frozen=True)
class Query:
    """A searchOrders query with its bounds fixed at the first page."""

    seller_id: str
    by_update: bool
    after: float
    before: float
    statuses: frozenset[str]
    marketplaces: frozenset[str]
    fulfilled_by: frozenset[str]
    fingerprint: tuple[Any, ...]


@dataclass(frozen=True)
class PagePosition:
    """Where a pagination token points: immutable, so a retried token returns the same page."""

    query: Query
    ids: tuple[str, ...]
    cursor: int
    expires: float
    deferred: tuple[int, int] | None = None
    last: tuple[int, int] | None = None
    duplicated: bool = False


class PageTokens:
    """Issued searchOrders pagination tokens."""

    def __init__(self) -> None:
        self.positions: dict[str, PagePosition] = {}
        self.report_queries: dict[str, dict[str, Any]] = {}  # getReports nextToken -> the original query

    def issue(self, position: PagePosition, now: float) -> str:
        if len(self.positions) > 50_000:
            self.positions = {t: p for t, p in self.positions.items() if p.expires > now}
        # Amazon's tokens are base64 with '+', '/' and '=' so clients must URL-encode them (SPAPI.md §4.1).
        token = base64.b64encode(secrets.token_bytes(33)).decode()
        self.positions[token] = position
        return token

    def clear(self) -> None:
        self.positions.clear()
        self.report_queries.clear()


def _parse_time(ctx: Ctx, name: str) -> float | None:
    text = ctx.q(name)
    if text is None:
        return None
    try:
        return parse_iso(text)
    except ValueError as exc:
        raise invalid_input(f"{name} is not a valid ISO 8601 date-time: {text}.") from exc


def _query(ctx: Ctx) -> Query:
    created_after, created_before = _parse_time(ctx, "createdAfter"), _parse_time(ctx, "createdBefore")
    updated_after, updated_before = (
        _parse_time(ctx, "lastUpdatedAfter"),
        _parse_time(ctx, "lastUpdatedBefore"),
    )
    by_created = created_after is not None or created_before is not None
    by_update = updated_after is not None or updated_before is not None
    if by_created == by_update or (created_after is None and updated_after is None):
        raise invalid_input("Exactly one of createdAfter and lastUpdatedAfter must be provided.")
    after = float(created_after if by_created else updated_after)  # type: ignore[arg-type]
    before = created_before if by_created else updated_before
    latest = ctx.now - TWO_MINUTES
    name = "createdBefore" if by_created else "lastUpdatedBefore"
    if before is not None and before > latest:
        raise invalid_input(f"{name} must be at least two minutes before the time of the request.")
    if before is not None and before < after:
        raise invalid_input(f"{name} must be equal to or after the {name.replace('Before', 'After')} date.")
    statuses = ctx.qlist("fulfillmentStatuses")
    fulfilled_by = ctx.qlist("fulfilledBy")
    marketplaces = ctx.qlist("marketplaceIds")
    for value in statuses:
        if value not in STATUSES:
            raise invalid_input(f"Invalid fulfillmentStatuses value: {value}.")
    for value in fulfilled_by:
        if value not in ("MERCHANT", "AMAZON"):
            raise invalid_input(f"Invalid fulfilledBy value: {value}.")
    account = ctx.sandbox.world.accounts[ctx.principal.seller_id]
    if len(marketplaces) > 50:
        raise invalid_input("marketplaceIds may hold at most 50 values.")
    for value in marketplaces:
        if value not in account.marketplace_ids:
            raise invalid_input(f"Invalid marketplaceId: {value}.")
    fingerprint: tuple[Any, ...] = tuple(
        ctx.q(n) for n in ("createdAfter", "createdBefore", "lastUpdatedAfter", "lastUpdatedBefore")
    )
    fingerprint += (tuple(statuses), tuple(marketplaces), tuple(fulfilled_by))
    return Query(
        ctx.principal.seller_id,
        by_update,
        after,
        latest if before is None else before,
        frozenset(statuses),
        frozenset(marketplaces or account.marketplace_ids),
        frozenset(fulfilled_by),
        fingerprint,
    )


def _matching_ids(world: World, query: Query, now: float) -> tuple[str, ...]:
    index = (world.updated_index if query.by_update else world.created_index)[query.seller_id]
    orders = world.orders
    found = []
    for order_id in index.between(query.after, query.before):
        order = orders[order_id]
        if order.visible_ts > now:
            continue  # late-arriving order: not visible yet although its timestamps are in range
        if query.statuses and order.status not in query.statuses:
            continue
        if order.marketplace_id not in query.marketplaces:
            continue
        if query.fulfilled_by and order.fulfilled_by not in query.fulfilled_by:
            continue
        found.append(order_id)
    return tuple(found)


def _next_position(ctx: Ctx, position: PagePosition, size: int) -> tuple[tuple[int, int], PagePosition]:
    """Pick the slice to serve and the position after it, applying duplicate / reorder page faults."""
    total = len(position.ids)
    if position.deferred is not None:
        return position.deferred, replace(position, deferred=None, last=position.deferred, duplicated=False)
    fault = ctx.sandbox.faults.page_fault("searchOrders")
    if fault == "duplicate" and position.last is not None and not position.duplicated:
        return position.last, replace(position, duplicated=True)
    start, end = position.cursor, min(position.cursor + size, total)
    if fault == "reorder" and end < total:
        later = (end, min(end + size, total))
        return later, replace(position, cursor=later[1], deferred=(start, end), last=later, duplicated=False)
    return (start, end), replace(position, cursor=end, last=(start, end), duplicated=False)


async def search_orders(ctx: Ctx) -> Response:
    sandbox = ctx.sandbox
    size = parse_int(ctx.q("maxResultsPerPage"), "maxResultsPerPage", 1, 100, 100)
    mask = included_mask(ctx.qlist("includedData"))
    token = ctx.q("paginationToken")
    query = _query(ctx) if token is None or ctx.q("createdAfter") or ctx.q("lastUpdatedAfter") else None
    if token is not None:
        position = sandbox.pages.positions.get(token)
        if position is None or position.query.seller_id != ctx.principal.seller_id:
            raise invalid_input("", message=BAD_TOKEN)
        if query is None or query.fingerprint != position.query.fingerprint:
            raise invalid_input("", message=BAD_TOKEN)
        if position.expires <= ctx.now or sandbox.faults.token_expired("searchOrders"):
            raise invalid_input("", message="The paginationToken you have submitted has expired.")
    else:
        assert query is not None
        ids = _matching_ids(sandbox.world, query, ctx.now)
        position = PagePosition(query, ids, 0, ctx.now + TOKEN_LIFETIME)
    (start, end), after = _next_position(ctx, position, size)
    orders = sandbox.world.orders
    parts = [render(orders[order_id], mask) for order_id in position.ids[start:end]]
    tail: dict[str, Any] = {}
    if after.cursor < len(after.ids) or after.deferred is not None:
        tail["pagination"] = {"nextToken": sandbox.pages.issue(after, ctx.now)}
    tail["lastUpdatedBefore" if position.query.by_update else "createdBefore"] = iso(position.query.before)
    return raw_json(b'{"orders":[' + b",".join(parts) + b"]," + dumps(tail)[1:])


async def get_order(ctx: Ctx) -> Response:
    mask = included_mask(ctx.qlist("includedData"))
    order = ctx.sandbox.world.orders.get(ctx.params["orderId"])
    if order is None or order.seller_id != ctx.principal.seller_id or order.visible_ts > ctx.now:
        raise not_found(f"Order {ctx.params['orderId']} was not found.")
    return raw_json(b'{"order":' + render(order, mask) + b"}")


def routes() -> list[Route]:
    return [
        Route("GET", BASE, "searchOrders", search_orders),
        Route("GET", BASE + "/{orderId}", "getOrder", get_order),
    ]
