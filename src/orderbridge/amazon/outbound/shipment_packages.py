"""O8, O20, O23: what a book shipment tells Amazon: v0 confirmShipment's package, or why nothing is sent.

The package names the carrier of the shipment (given when shipping) or else of the order's shipping
method (O8), the tracking number, the ship date and the Amazon order items with the units this shipment
carries, so a partial shipment confirms only what left. A bundle's Amazon item ships as many units as
its components shipped whole bundles.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy.orm import Session

from orderbridge.amazon.api.types import PackageDetail, PackageItem
from orderbridge.amazon.orders.records import order_record
from orderbridge.book.channels import Channel
from orderbridge.book.orders.model import Fulfilment, OrderRow, RowKind, SalesOrder, Shipment
from orderbridge.errors import OrderbridgeError

# Carrier codes Amazon lists for confirmShipment, by how sellers write them. Amazon's full list is not
# in the models (SPAPI.md §4.4, UNCONFIRMED); anything else goes as carrierCode "Other" with its name,
# which the model always accepts (carrierName is required exactly then).
CARRIER_CODES = {
    name.casefold(): name
    for name in (
        "USPS", "UPS", "FedEx", "DHL", "DHL eCommerce", "OnTrac", "Amazon Shipping", "Canada Post",
        "Royal Mail", "Parcelforce", "DPD", "Evri", "Hermes", "Yodel", "GLS", "Deutsche Post",
        "La Poste", "Colissimo", "Chronopost", "Poste Italiane", "BRT", "SDA", "TNT", "Correos",
        "Australia Post", "Japan Post", "Yamato Transport", "Sagawa",
    )
}  # fmt: skip


class ConfirmationError(OrderbridgeError):
    """The shipment cannot be confirmed as it stands (no carrier, no tracking, no Amazon items):
    a person must fix the order or shipping method, then retry the message."""


@dataclass(frozen=True)
class Confirmation:
    """One confirmShipment call: the Amazon order, its marketplace and the package."""

    amazon_order_id: str
    marketplace_id: str
    package: PackageDetail


@dataclass(frozen=True)
class NotSent:
    """Why a shipment is not confirmed to Amazon (recorded on the message, not an error)."""

    reason: str


def carrier_fields(carrier: str) -> tuple[str, str]:
    """(carrierCode, carrierName): a listed code as Amazon spells it, else Other with the name."""
    code = CARRIER_CODES.get(carrier.strip().casefold())
    return (code, code) if code else ("Other", carrier.strip())


def confirmation_for(session: Session, shipment_id: int) -> Confirmation | NotSent:
    """The confirmShipment for a book shipment, NotSent when Amazon must not hear of it (O20, FBA)."""
    shipment = session.get(Shipment, shipment_id)
    if shipment is None:
        return NotSent(f"shipment {shipment_id} no longer exists in the book")
    order = session.get(SalesOrder, shipment.order_id)
    assert order is not None
    channel = session.get(Channel, order.channel_id)
    if channel is None or not channel.is_amazon or not channel.marketplace_id:
        return NotSent(f"order {order.external_ref} was not sold on Amazon: Amazon is not told")
    if order.fulfilment == Fulfilment.CHANNEL:
        return NotSent(f"Amazon order {order.external_ref} is fulfilled by Amazon: Amazon ships it")
    if shipment.made_at_channel:
        return NotSent(f"Amazon order {order.external_ref} was shipped at Amazon: Amazon already knows")
    if not order.confirm_shipments:
        return NotSent(f"Amazon order {order.external_ref}: Amazon collects it or another system confirms it")
    record = order_record(session, channel.id, order.external_ref)
    if record is not None and record.skip_shipment_confirmation:
        return NotSent(
            f"Amazon order {order.external_ref} is Seller Fulfilled Prime: another system confirms it"
        )
    return Confirmation(order.external_ref, channel.marketplace_id, _package(order, shipment))


def _package(order: SalesOrder, shipment: Shipment) -> PackageDetail:
    where = f"Amazon order {order.external_ref} shipment {shipment.reference}"
    method = order.shipping_method
    carrier = shipment.carrier or (method.carrier if method is not None else None)
    if not carrier:
        name = method.name if method is not None else "(none)"
        raise ConfirmationError(
            f"{where}: no carrier; set the carrier of shipping method {name!r} on the shipment or the method"
        )
    if not shipment.tracking_number:
        raise ConfirmationError(f"{where}: no tracking number")
    items = _order_items(order, shipment)
    if not items:
        raise ConfirmationError(f"{where}: ships no Amazon order item")
    code, name = carrier_fields(carrier)
    return PackageDetail(
        package_reference_id=str(shipment.id),  # numeric, unique within the order (SPAPI.md §4.4)
        carrier_code=code,
        carrier_name=name,
        tracking_number=shipment.tracking_number,
        ship_date=shipment.shipped_at,
        items=items,
        shipping_method=method.name if method is not None else "",
    )


def _order_items(order: SalesOrder, shipment: Shipment) -> list[PackageItem]:
    rows = {row.id: row for row in order.rows}
    direct: dict[str, int] = defaultdict(int)
    parts: dict[int, list[tuple[OrderRow, int]]] = defaultdict(list)
    for line in shipment.rows:
        row = rows[line.row_id]
        parent = rows.get(row.parent_row_id) if row.parent_row_id is not None else None
        if parent is not None and parent.kind == RowKind.BUNDLE:
            parts[parent.id].append((row, line.quantity))
        elif row.external_ref:
            direct[row.external_ref] += line.quantity
    for bundle_id, shipped in parts.items():
        bundle = rows[bundle_id]
        if not bundle.external_ref or bundle.quantity <= 0:
            continue
        components = [r for r in order.rows if r.parent_row_id == bundle_id and r.kind == RowKind.PRODUCT]
        per_bundle = {r.id: r.quantity // bundle.quantity for r in components}
        units = dict((row.id, quantity) for row, quantity in shipped)
        whole = min((units.get(r.id, 0) // max(per_bundle[r.id], 1) for r in components), default=0)
        if whole > 0:
            direct[bundle.external_ref] += whole
    return [PackageItem(item_id, quantity) for item_id, quantity in sorted(direct.items())]
