"""Flat-file report rows built from the world, under Amazon's exact tab-separated headers (SPAPI.md §8)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from orderbridge.simulator.marketplaces import BY_ID
from orderbridge.simulator.orders_v0 import V0_LEVEL, V0_STATUS
from orderbridge.simulator.report_headers import HEADERS, LEDGER_DISPOSITION
from orderbridge.simulator.world import FinancialEvent, World

Rows = list[list[str]]


@dataclass(frozen=True)
class Scope:
    """Whose data, for which marketplaces, between which times."""

    seller_id: str
    marketplace_ids: frozenset[str]
    start: float
    end: float


@lru_cache(maxsize=8192)
def _day_text(day: int, fmt: str) -> str:
    return datetime.fromtimestamp(day * 86400, UTC).strftime(fmt)


def _day(ts: float, fmt: str = "%Y-%m-%d") -> str:
    # Formatting per day, not per row: a 100,000-row report formats a few dozen distinct days.
    return _day_text(int(ts // 86400), fmt)


def _offset(ts: float) -> str:
    """ISO 8601 with the UTC offset, as `datetime.isoformat(timespec="seconds")` writes it."""
    day, second = divmod(int(ts), 86400)
    return (
        f"{_day_text(day, '%Y-%m-%d')}T{second // 3600:02d}:{second % 3600 // 60:02d}:{second % 60:02d}+00:00"
    )


def _product(world: World, seller_id: str, sku: str) -> tuple[str, str, str]:
    listing = world.listing(seller_id, sku)
    return (listing.asin, listing.fnsku, listing.title) if listing else ("", "", "")


def ledger(world: World, scope: Scope) -> Rows:
    rows = []
    countries = {BY_ID[m].country_code for m in scope.marketplace_ids}
    products: dict[str, tuple[str, str, str]] = {}
    for e in world.ledger:
        if e.seller_id == scope.seller_id and scope.start <= e.ts <= scope.end and e.country in countries:
            product = products.get(e.sku)
            if product is None:
                product = products[e.sku] = _product(world, e.seller_id, e.sku)
            asin, fnsku, title = product
            if e.reconciled is not None:
                reconciled, unreconciled = str(e.reconciled), str(abs(e.quantity) - e.reconciled)
            else:
                reconciled = str(abs(e.quantity)) if e.event_type == "Adjustments" else "0"
                unreconciled = "0"
            rows.append(
                [
                    _day(e.ts, "%m/%d/%Y"),
                    fnsku,
                    asin,
                    e.sku,
                    title,
                    e.event_type,
                    e.reference_id,
                    str(e.quantity),
                    e.fulfillment_center,
                    LEDGER_DISPOSITION.get(e.disposition, e.disposition),
                    e.reason,
                    e.country,
                    reconciled,
                    unreconciled,
                    _offset(e.ts),
                    "",
                ]
            )
    return rows


def customer_returns(world: World, scope: Scope) -> Rows:
    rows = []
    for e in world.fba_events:
        if e.kind == "RETURN" and e.seller_id == scope.seller_id and scope.start <= e.ts <= scope.end:
            asin, fnsku, title = _product(world, e.seller_id, e.sku)
            f = e.fields
            rows.append(
                [
                    _offset(e.ts),
                    e.order_id,
                    e.sku,
                    asin,
                    fnsku,
                    title,
                    str(e.quantity),
                    f.get("fc", ""),
                    f.get("disposition", ""),
                    f.get("reason", ""),
                    f.get("status", ""),
                    f.get("lpn", ""),
                    "",
                ]
            )
    return rows


def replacements(world: World, scope: Scope) -> Rows:
    rows = []
    for e in world.fba_events:
        if e.kind == "REPLACEMENT" and e.seller_id == scope.seller_id and scope.start <= e.ts <= scope.end:
            asin, _, _ = _product(world, e.seller_id, e.sku)
            f = e.fields
            rows.append(
                [
                    _offset(e.ts),
                    e.sku,
                    asin,
                    f["fc"],
                    f["original_fc"],
                    str(e.quantity),
                    f["reason"],
                    f["replacement_order_id"],
                    e.order_id,
                ]
            )
    return rows


def reimbursements(world: World, scope: Scope) -> Rows:
    rows = []
    for e in world.fba_events:
        if e.kind == "REIMBURSEMENT" and e.seller_id == scope.seller_id and scope.start <= e.ts <= scope.end:
            asin, fnsku, title = _product(world, e.seller_id, e.sku)
            f = e.fields
            rows.append(
                [
                    _offset(e.ts),
                    f["reimbursement_id"],
                    f["case_id"],
                    e.order_id,
                    f["reason"],
                    e.sku,
                    fnsku,
                    asin,
                    title,
                    "SELLABLE",
                    f["currency"],
                    f["amount_per_unit"],
                    f["amount_total"],
                    f["cash"],
                    f["inventory"],
                    str(e.quantity),
                    "",
                    "",
                ]
            )
    return rows


def mfn_returns(world: World, scope: Scope) -> Rows:
    rows = []
    for e in world.fba_events:
        if e.kind == "MFN_RETURN" and e.seller_id == scope.seller_id and scope.start <= e.ts <= scope.end:
            order = world.orders.get(e.order_id)
            asin, _, title = _product(world, e.seller_id, e.sku)
            created = order.doc["createdTime"] if order else ""
            currency = BY_ID[order.marketplace_id].currency if order else ""
            prime = "Y" if order and "PRIME" in order.doc.get("programs", []) else "N"
            rows.append(
                [
                    e.order_id,
                    created,
                    _offset(e.ts),
                    "Approved",
                    e.fields.get("rma", ""),
                    "",
                    "AmazonUnPaidLabel",
                    "0.00",
                    currency,
                    "USPS",
                    "",
                    "Customer",
                    "N",
                    prime,
                    asin,
                    e.sku,
                    title,
                    str(e.quantity),
                    e.fields.get("reason", ""),
                    "Y",
                    "C-Returns",
                    "StandardRefund",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                    "",
                ]
            )
    return rows


def all_orders(world: World, scope: Scope) -> Rows:
    rows = []
    index = world.updated_index.get(scope.seller_id)
    for order_id in index.between(scope.start, scope.end) if index else []:
        order = world.orders[order_id]
        if order.marketplace_id not in scope.marketplace_ids or order.visible_ts > world.now:
            continue
        doc = order.doc
        mkt = BY_ID[order.marketplace_id]
        address = doc.get("recipient", {}).get("deliveryAddress", {})
        business = "AMAZON_BUSINESS" in doc.get("programs", [])
        for item in doc["orderItems"]:
            parts = {
                b["type"]: b["subtotal"]["amount"] for b in item.get("proceeds", {}).get("breakdowns", [])
            }
            pending = order.status == "PENDING"

            def money(key: str, parts: dict[str, str] = parts, pending: bool = pending) -> str:
                return "" if pending else parts.get(key, "0.00")

            promos = ",".join(p["promotionId"] for p in item.get("promotion", {}).get("breakdowns", []))
            rows.append(
                [
                    doc["orderId"],
                    "",
                    _offset(order.created_ts),
                    _offset(order.updated_ts),
                    V0_STATUS[order.status],
                    "Amazon" if order.fulfilled_by == "AMAZON" else "Merchant",
                    mkt.name,
                    "",
                    V0_LEVEL.get(doc["fulfillment"].get("fulfillmentServiceLevel", ""), "Standard"),
                    item["product"]["title"],
                    item["product"]["sellerSku"],
                    item["product"]["asin"],
                    V0_STATUS[order.status],
                    str(item["quantityOrdered"]),
                    mkt.currency,
                    money("ITEM"),
                    money("TAX"),
                    money("SHIPPING"),
                    "" if pending else "0.00",
                    money("GIFT_WRAP"),
                    "" if pending else "0.00",
                    money("DISCOUNT").lstrip("-"),
                    "" if pending else "0.00",
                    address.get("city", ""),
                    address.get("stateOrRegion", ""),
                    address.get("postalCode", ""),
                    mkt.country_code,
                    promos,
                    "true" if business else "false",
                    doc.get("buyer", {}).get("buyerPurchaseOrderNumber", ""),
                    "BusinessPrice" if business else "",
                ]
            )
    return rows


def settlement(world: World, scope: Scope, settlement_id: str) -> Rows:
    """One settlement (one marketplace): summary row first, then one amount component per row (§8.1)."""
    (marketplace_id,) = scope.marketplace_ids
    mkt = BY_ID[marketplace_id]
    events: list[FinancialEvent] = [
        e
        for e in world.financial_events
        if e.seller_id == scope.seller_id
        and e.marketplace_id == marketplace_id
        and scope.start <= e.ts < scope.end
    ]
    total = sum((e.amount for e in events), Decimal(0))
    deposit = scope.end + 2 * 86400
    rows = [
        [settlement_id, _offset(scope.start), _offset(scope.end), _offset(deposit), str(total), mkt.currency]
        + [""] * 17
    ]
    for e in events:
        quantity = "" if e.quantity is None or e.amount_type != "ItemPrice" else str(e.quantity)
        rows.append(
            [
                settlement_id,
                "",
                "",
                "",
                "",
                "",
                e.transaction_type,
                e.order_id,
                e.merchant_order_id,
                e.adjustment_id,
                e.shipment_id,
                mkt.name,
                e.amount_type,
                e.amount_description,
                str(e.amount),
                e.fulfillment_id,
                _day(e.ts),
                _offset(e.ts),
                e.order_item_code,
                "",
                "",
                e.sku,
                quantity,
            ]
        )
    return rows


BUILDERS: dict[str, Callable[[World, Scope], Rows]] = {
    "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA": customer_returns,
    "GET_LEDGER_DETAIL_VIEW_DATA": ledger,
    "GET_FBA_FULFILLMENT_CUSTOMER_SHIPMENT_REPLACEMENT_DATA": replacements,
    "GET_FBA_REIMBURSEMENTS_DATA": reimbursements,
    "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL": all_orders,
    "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE": mfn_returns,
}


def to_tsv(report_type: str, rows: Rows) -> bytes:
    """Header line plus rows, tab-separated, CRLF-free."""
    lines = ["\t".join(HEADERS[report_type])]
    lines.extend("\t".join(row) for row in rows)
    return ("\n".join(lines) + "\n").encode("utf-8")
