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
    """Whose data, for which marketplaces, between which times (and the request's reportOptions)."""

    seller_id: str
    marketplace_ids: frozenset[str]
    start: float
    end: float
    options: tuple[tuple[str, str], ...] = ()
    marketplace_id: str = ""  # the first marketplace of the request: the file's locale


@dataclass(frozen=True)
class Style:
    """How a marketplace's flat files write day dates and amounts (SPAPI.md §7-§8.1: `posted-date` and
    the ledger `Date` follow the marketplace, `DD.MM.YYYY` in German files, `MM/DD/YYYY` in US ones;
    continental European files write decimal commas). ISO times are the same everywhere."""

    day: str = "%m/%d/%Y"
    comma: bool = False

    def money(self, amount: Decimal | str) -> str:
        text = str(amount)
        return text.replace(".", ",") if self.comma else text


_DAY_FIRST = Style("%d/%m/%Y")
_CONTINENTAL = Style("%d.%m.%Y", comma=True)
STYLES: dict[str, Style] = {
    **dict.fromkeys(("UK", "IE", "CA", "MX", "AU", "SG"), _DAY_FIRST),
    **dict.fromkeys(("DE", "FR", "IT", "ES", "NL", "SE", "PL", "BE", "TR", "BR"), _CONTINENTAL),
    "JP": Style("%Y/%m/%d"),
}


def style(marketplace_id: str) -> Style:
    mkt = BY_ID.get(marketplace_id)
    return STYLES.get(mkt.code, Style()) if mkt is not None else Style()


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
    day_format = style(scope.marketplace_id).day
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
                    _day(e.ts, day_format),
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
    written = style(scope.marketplace_id)
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
                    written.money(f["amount_per_unit"]),
                    written.money(f["amount_total"]),
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
    written = style(marketplace_id)
    rows = [
        [
            settlement_id,
            _offset(scope.start),
            _offset(scope.end),
            _offset(deposit),
            written.money(total),
            mkt.currency,
        ]
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
                written.money(e.amount),
                e.fulfillment_id,
                _day(e.ts, written.day),
                _offset(e.ts),
                e.order_item_code,
                "",
                "",
                e.sku,
                quantity,
            ]
        )
    return rows


# Summary view columns after Starting Warehouse Balance and In Transit: the day's events by kind.
_SUMMARY_EVENT = {"Receipts": 0, "Shipments": 1, "CustomerReturns": 2, "VendorReturns": 3, "WhseTransfers": 4}
_SUMMARY_ADJUSTMENT = {
    **dict.fromkeys(("F", "N"), 5),  # Found
    **dict.fromkeys(("M", "5"), 6),  # Lost
    **dict.fromkeys(("6", "7", "E", "H", "K", "U"), 7),  # Damaged
    **dict.fromkeys(("D", "G"), 8),  # Disposed
}
_OTHER_EVENTS = 9


def ledger_summary(world: World, scope: Scope) -> Rows:
    """GET_LEDGER_SUMMARY_VIEW_DATA, DAILY: per day, SKU, disposition and centre (aggregateByLocation FC)
    or country (COUNTRY): the starting balance, the day's events by kind, the ending balance."""
    by_fc = dict(scope.options).get("aggregateByLocation", "COUNTRY") == "FC"
    written = style(scope.marketplace_id)
    countries = {BY_ID[m].country_code for m in scope.marketplace_ids}
    first_day, last_day = int(scope.start // 86400), int(scope.end // 86400)
    running: dict[tuple[str, str, str], int] = {}
    moves: dict[int, dict[tuple[str, str, str], list[int]]] = {}
    for e in sorted(world.ledger, key=lambda event: event.ts):
        day = int(e.ts // 86400)
        if day > last_day:
            break
        if e.seller_id != scope.seller_id or e.country not in countries:
            continue
        key = (e.sku, e.disposition, e.fulfillment_center if by_fc else e.country)
        if day < first_day:
            running[key] = running.get(key, 0) + e.quantity
            continue
        column = _SUMMARY_EVENT.get(e.event_type)
        if column is None:
            column = _SUMMARY_ADJUSTMENT.get(e.reason, _OTHER_EVENTS)
        moves.setdefault(day, {}).setdefault(key, [0] * 10)[column] += e.quantity
    rows = []
    for day in range(first_day, last_day + 1):
        today = moves.get(day, {})
        for key in sorted(set(running) | set(today)):
            start = running.get(key, 0)
            figures = today.get(key, [0] * 10)
            end = running[key] = start + sum(figures)
            if not (start or end or any(figures)):
                continue
            sku, disposition, location = key
            asin, fnsku, title = _product(world, scope.seller_id, sku)
            rows.append(
                [_day(day * 86400.0, written.day), fnsku, asin, sku, title, disposition, str(start), "0"]
                + [str(n) for n in figures]
                + [str(end), "0", location]
            )
    return rows


BUILDERS: dict[str, Callable[[World, Scope], Rows]] = {
    "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA": customer_returns,
    "GET_LEDGER_DETAIL_VIEW_DATA": ledger,
    "GET_LEDGER_SUMMARY_VIEW_DATA": ledger_summary,
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
