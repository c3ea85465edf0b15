"""Recording in the book what Amazon did to an order outside it (O24).

An FBM order shipped outside the book (Buy Shipping in Seller Central, another shipping tool) or
collected by Amazon (Easy Ship) gets its shipment here: the units Amazon reports shipped beyond what the
book shipped, with Amazon's time, carrier and tracking where given, marked as made at Amazon so that no
confirmation goes back. An FBA order's stock moves with the inventory ledger, so it only gets Amazon's
shipment time. A cancellation after Ready keeps the book order as it is (O22) and records Amazon's time.
Each of these starts the retention clock (P1), whichever comes first.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy.orm import Session

from orderbridge.amazon.orders.mapping import MappedOrder
from orderbridge.amazon.orders.mapping.commands import AmazonPackage, AtAmazon
from orderbridge.book.alerts import Subject, raise_alert
from orderbridge.book.errors import InvalidValueError
from orderbridge.book.orders.model import Fulfilment, OrderRow, RowKind, SalesOrder
from orderbridge.book.orders.shipping import ship_order

AMAZON_REFERENCE = "amazon-"


def record_at_amazon(session: Session, order: SalesOrder, mapped: MappedOrder, *, now: datetime) -> bool:
    """Record one order version's O24 facts; returns whether the book changed. Idempotent."""
    facts = mapped.at_amazon
    changed = False
    if facts.cancelled_at is not None and order.channel_cancelled_at is None:
        order.channel_cancelled_at = facts.cancelled_at
        changed = True
    if order.fulfilment == Fulfilment.SELLER and not facts.by_amazon:
        changed |= _record_shipments(session, order, mapped, now=now)
    if facts.shipped_at is not None and order.channel_shipped_at is None:
        order.channel_shipped_at = facts.shipped_at
        changed = True
    return changed


def _record_shipments(session: Session, order: SalesOrder, mapped: MappedOrder, *, now: datetime) -> bool:
    missing = _units_missing(order, mapped.at_amazon)
    if not missing:
        return False
    ours = {str(shipment.id) for shipment in order.shipments} | {s.reference for s in order.shipments}
    unknown = [p for p in mapped.at_amazon.packages if p.reference not in ours]
    plans = _by_package(order, unknown, missing)
    try:
        for package, quantities in plans:
            ship_order(
                session,
                order,
                reference=_reference(package, mapped),
                now=_when(package, mapped),
                quantities=quantities,
                tracking_number=package.tracking_number if package else None,
                carrier=package.carrier if package else None,
                made_at_channel=True,
            )
    except InvalidValueError as error:
        message = (
            f"Amazon reports order {mapped.amazon_order_id} shipped, but the book could not record the "
            f"shipment: {error}. Check the order's stock and record the shipment by hand."
        )
        raise_alert(session, Subject.ORDER, order.id, "shipped_at_amazon_unrecorded", message[:1000], now=now)
        return False
    return True


def _reference(package: AmazonPackage | None, mapped: MappedOrder) -> str:
    """Amazon's package id; without a package, the version's time (one shipment per version at most)."""
    if package is not None:
        return f"{AMAZON_REFERENCE}{package.reference}"[:100]
    return f"{AMAZON_REFERENCE}{mapped.last_updated:%Y%m%dT%H%M%S}"


def _when(package: AmazonPackage | None, mapped: MappedOrder) -> datetime:
    if package is not None and package.shipped_at is not None:
        return package.shipped_at
    return mapped.at_amazon.shipped_at or mapped.last_updated


def _units_missing(order: SalesOrder, facts: AtAmazon) -> dict[int, int]:
    """Book row id -> units Amazon reports shipped that the book has not shipped (product rows only)."""
    missing: dict[int, int] = {}
    children: dict[int, list[OrderRow]] = defaultdict(list)
    for row in order.rows:
        if row.parent_row_id is not None:
            children[row.parent_row_id].append(row)
    for row in order.rows:
        if row.parent_row_id is not None or not row.external_ref:
            continue
        shipped_at_amazon = facts.fulfilled.get(row.external_ref, 0)
        if row.kind == RowKind.PRODUCT:
            gap = min(shipped_at_amazon, row.quantity) - row.shipped
            if gap > 0:
                missing[row.id] = gap
        elif row.kind == RowKind.BUNDLE and row.quantity > 0:
            for part in children[row.id]:
                per_bundle = part.quantity // row.quantity if part.kind == RowKind.PRODUCT else 0
                gap = min(shipped_at_amazon, row.quantity) * per_bundle - part.shipped
                if gap > 0:
                    missing[part.id] = gap
    return missing


def _by_package(
    order: SalesOrder, packages: list[AmazonPackage], missing: dict[int, int]
) -> list[tuple[AmazonPackage | None, dict[int, int]]]:
    """Split the missing units over Amazon's packages (by their items where given); the rest goes in the
    last package, or in one shipment without a package when Amazon gave none."""
    left = dict(missing)
    by_id = {row.id: row for row in order.rows}
    rows_of_item: dict[str, list[int]] = defaultdict(list)
    for row in order.rows:
        item = by_id[row.parent_row_id].external_ref if row.parent_row_id in by_id else row.external_ref
        if item and row.id in left:
            rows_of_item[item].append(row.id)
    plans: list[tuple[AmazonPackage | None, dict[int, int]]] = []
    for package in packages:
        if not package.items:
            continue
        take: dict[int, int] = {}
        for item, units in package.items.items():
            for row_id in rows_of_item.get(item, []):
                if left.get(row_id, 0) > 0:
                    take[row_id] = min(left[row_id], units) if len(rows_of_item[item]) == 1 else left[row_id]
                    left[row_id] -= take[row_id]
        if take:
            plans.append((package, take))
    rest = {row_id: units for row_id, units in left.items() if units > 0}
    if rest:
        last = packages[-1] if packages else None
        merged = next((plan for plan in plans if plan[0] is last), None) if last is not None else None
        if merged is not None:
            for row_id, units in rest.items():
                merged[1][row_id] = merged[1].get(row_id, 0) + units
        else:
            plans.append((last, rest))
    return plans
