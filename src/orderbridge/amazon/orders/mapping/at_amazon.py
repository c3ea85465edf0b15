"""What Amazon reports it did to an order, whoever did it (O24): shipped units, packages, shipment and
cancellation times.

The model gives each package its `shipTime` and each item its `quantityFulfilled`, but no time for a
cancellation and no time for the whole order's shipment. UNCONFIRMED (the model leaves both open):
- an order's cancellation time is the `lastUpdatedTime` of the first version seen CANCELLED;
- an order shipped in full ships at its last package's `shipTime`, else (FBA orders carry no packages,
  and an FBM order may come without them) at the `lastUpdatedTime` of the first version seen SHIPPED.
A package may list its items (`packageItems`, an array of orderItemId and quantity) or not; without
them the units shipped are read from the items' `quantityFulfilled` alone. Both shapes are tested.
"""

from __future__ import annotations

from datetime import datetime

from orderbridge.amazon.orders.mapping.commands import AmazonPackage, AtAmazon
from orderbridge.amazon.orders.mapping.fields import Reader

# Package statuses that mean nothing left the seller (yet): no shipment to record.
NOT_SHIPPED = frozenset({"PENDING", "CANCELLED"})
EASY_SHIP = "AMAZON_EASY_SHIP"


def at_amazon(r: Reader, status: str, updated: datetime) -> AtAmazon:
    """The facts of O24 an order version carries (pure)."""
    by_amazon = r.text(r.doc, "fulfillment.fulfilledBy", "fulfillment.fulfilledBy") == "AMAZON"
    fulfilled = {}
    for n, item in enumerate(r.items(r.doc, "orderItems", "orderItems")):
        item_id = r.text(item, "orderItemId", f"orderItems.{n}.orderItemId", required=True) or ""
        where = f"orderItems.{n}.fulfillment.quantityFulfilled"
        if r.get(item, "fulfillment.quantityFulfilled") is not None:
            fulfilled[item_id] = r.integer(item, "fulfillment.quantityFulfilled", where)
    packages = tuple(_packages(r))
    shipped_at = None
    if status == "SHIPPED":
        times = [package.shipped_at for package in packages if package.shipped_at is not None]
        shipped_at = max(times) if times else updated
    return AtAmazon(
        fulfilled=fulfilled,
        packages=packages,
        shipped_at=shipped_at,
        cancelled_at=updated if status == "CANCELLED" else None,
        by_amazon=by_amazon,
    )


def _packages(r: Reader) -> list[AmazonPackage]:
    found = []
    for n, package in enumerate(r.items(r.doc, "packages", "packages")):
        where = f"packages.{n}"
        state = r.text(package, "packageStatus.status", f"{where}.packageStatus.status")
        if state in NOT_SHIPPED:
            continue
        shipped = r.get(package, "shipTime")
        items = {}
        for m, item in enumerate(r.items(package, "packageItems", f"{where}.packageItems")):
            item_id = r.text(item, "orderItemId", f"{where}.packageItems.{m}.orderItemId", required=True)
            items[item_id or ""] = r.integer(item, "quantity", f"{where}.packageItems.{m}.quantity")
        found.append(
            AmazonPackage(
                reference=r.text(package, "packageReferenceId", f"{where}.packageReferenceId", required=True)
                or "",
                shipped_at=r.timestamp(package, "shipTime", f"{where}.shipTime") if shipped else None,
                carrier=r.text(package, "carrier", f"{where}.carrier"),
                tracking_number=r.text(package, "trackingNumber", f"{where}.trackingNumber"),
                items=items,
            )
        )
    return found
