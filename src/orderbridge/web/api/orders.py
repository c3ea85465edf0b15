"""/api/v1/orders: list with filters (late, due today) and keyset pages, one order, its addresses (pii:read),
shipping, correcting a shipment's tracking, cancelling."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from orderbridge.amazon.outbound.corrections import correct_tracking
from orderbridge.book.channels import Channel
from orderbridge.book.orders.cancel import cancel, units_by_sku
from orderbridge.book.orders.model import Fulfilment, SalesOrder
from orderbridge.book.orders.shipping import ship_order
from orderbridge.book.queries.orders import (
    Due,
    OrderFilter,
    OrderLine,
    SearchUnavailableError,
    list_orders,
    order_detail,
)
from orderbridge.privacy.errors import PrivacyError
from orderbridge.web.api.paging import ApiPage, CursorParam, SizeParam, cursor_checked, page_of
from orderbridge.web.deps import Context, CurrentUser, Db, Principal, require
from orderbridge.web.names import LiveNameIndex
from orderbridge.web.pii import show_pii
from orderbridge.web.problems import ApiError
from orderbridge.web.roles import Permission

router = APIRouter(prefix="/orders", tags=["orders"], dependencies=[require(Permission.ORDERS_READ)])
OrderId = Annotated[int, Path(ge=1, le=2**62, description="The book's order id.")]
ADDRESS_FIELDS = [
    "billing_name",
    "billing_company",
    "billing_line1",
    "billing_line2",
    "billing_city",
    "billing_postcode",
    "billing_phone",
    "delivery_name",
    "delivery_company",
    "delivery_line1",
    "delivery_line2",
    "delivery_city",
    "delivery_postcode",
    "delivery_phone",
]


class OrderOut(BaseModel):
    id: int
    channel: str
    reference: str
    placed_at: datetime
    status: str
    cancelled: bool
    payment_status: str
    fulfilment: str
    currency: str
    total_gross: Decimal
    shipped_at: datetime | None
    redacted: bool = Field(description="True once the order's buyer data was removed (P3).")
    ship_by: datetime | None = Field(description="The channel's latest ship date (None: it gave none).")
    deliver_by: datetime | None = Field(description="The channel's latest delivery date.")


def _order(line: OrderLine) -> OrderOut:
    return OrderOut(**line.__dict__)


@router.get("", summary="Orders, newest first, filtered and paged")
def orders_list(
    db: Db,
    context: Context,
    principal: CurrentUser,
    *,
    channel_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    status_id: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    fulfilment: Fulfilment | None = None,
    placed_from: date | None = None,
    placed_to: Annotated[date | None, Query(description="Inclusive.")] = None,
    reference: Annotated[
        str | None, Query(max_length=100, description="Channel order id or book id.")
    ] = None,
    sku: Annotated[str | None, Query(max_length=100)] = None,
    program: Annotated[
        str | None,
        Query(
            max_length=40,
            pattern=r"^[A-Za-z0-9_]+$",
            description="An Amazon program the order carries, as Amazon names it (PRIME, AMAZON_BUSINESS, "
            "AMAZON_EASY_SHIP, PREORDER ...).",
        ),
    ] = None,
    name: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Buyer name, exact after normalising; needs pii:read, each search is audited. "
            "Finds only orders whose buyer data is still held (P7).",
        ),
    ] = None,
    due: Annotated[
        Due | None,
        Query(
            description="`late`: seller-shipped orders not shipped in full whose ship-by date has passed; "
            "`today`: those whose ship-by date is later today (UTC days). Sorted by ship-by, soonest first."
        ),
    ] = None,
    cursor: CursorParam = None,
    size: SizeParam = 50,
) -> ApiPage[OrderOut]:
    if name and not principal.can(Permission.PII_READ):
        raise ApiError(403, "searching by buyer name needs the pii:read permission", field="query.name")
    if placed_from and placed_to and placed_from > placed_to:
        raise ApiError(
            422, f"placed_to {placed_to} is before placed_from {placed_from}", field="query.placed_to"
        )
    wanted = OrderFilter(
        channel_id=channel_id,
        status_id=status_id,
        fulfilment=fulfilment,
        placed_from=placed_from,
        placed_to=placed_to,
        reference=reference or None,
        sku=sku or None,
        name=name or None,
        due=due,
        program=program or None,
    )
    names = LiveNameIndex(actor=principal.actor, channel=principal.channel, clock=context.clock)
    with cursor_checked():
        try:
            found = list_orders(db, wanted, cursor=cursor, size=size, names=names, now=context.clock())
        except (SearchUnavailableError, PrivacyError) as error:
            raise ApiError(409, str(error), field="query.name") from None
        return page_of(found, _order)


class RowOut(BaseModel):
    id: int
    kind: str
    sku: str | None
    name: str
    quantity: int
    cancelled: int
    shipped: int
    credited: int
    net: Decimal
    tax: Decimal
    warehouse: str | None


class ShipmentOut(BaseModel):
    reference: str
    shipped_at: datetime
    carrier: str | None
    tracking_number: str | None


class OrderDetailOut(BaseModel):
    id: int
    channel: str
    reference: str
    placed_at: datetime
    status: str
    cancelled: bool
    ship_by: datetime | None
    deliver_by: datetime | None
    currency: str
    total_net: Decimal
    total_tax: Decimal
    total_gross: Decimal
    payment_status: str
    fulfilment: str
    redacted: bool
    rows: list[RowOut]
    shipments: list[ShipmentOut]
    alerts: list[str]


def _get(db: Db, order_id: int) -> SalesOrder:
    order = db.get(SalesOrder, order_id)
    if order is None:
        raise ApiError(404, f"no order {order_id}", field="path.order_id")
    return order


@router.get("/{order_id}", summary="One order: rows, shipments, alerts (no buyer data)")
def order_get(db: Db, order_id: OrderId) -> OrderDetailOut:
    _get(db, order_id)
    detail = order_detail(db, order_id)
    order = detail.order
    rows = [
        RowOut(
            id=line.row.id,
            kind=str(line.row.kind),
            sku=line.row.sku,
            name=line.row.name,
            quantity=line.row.quantity,
            cancelled=line.row.cancelled_quantity,
            shipped=line.row.shipped,
            credited=line.credited,
            net=line.row.net,
            tax=line.row.tax,
            warehouse=line.warehouse,
        )
        for line in detail.rows
    ]
    shipments = [
        ShipmentOut(
            reference=s.reference,
            shipped_at=s.shipped_at,
            carrier=s.carrier,
            tracking_number=s.tracking_number,
        )
        for s in order.shipments
    ]
    return OrderDetailOut(
        id=order.id,
        channel=detail.channel.code,
        reference=order.external_ref,
        placed_at=order.placed_at,
        status=order.status.name,
        cancelled=order.is_cancelled,
        ship_by=order.ship_by,
        deliver_by=order.deliver_by,
        currency=order.currency,
        total_net=order.total_net,
        total_tax=order.total_tax,
        total_gross=order.total_gross,
        payment_status=str(order.payment_status),
        fulfilment=str(order.fulfilment),
        redacted=order.pii_redacted_at is not None,
        rows=rows,
        shipments=shipments,
        alerts=[alert.message for alert in detail.alerts],
    )


class AddressesOut(BaseModel):
    order_id: int
    fields: dict[str, str | None] = Field(description="Buyer data; '[Redacted]' once removed (P3).")


@router.get(
    "/{order_id}/addresses",
    summary="The order's billing and delivery addresses (needs pii:read; every read is audited)",
)
def order_addresses(
    db: Db,
    context: Context,
    order_id: OrderId,
    principal: Annotated[Principal, require(Permission.PII_READ)],
) -> AddressesOut:
    order = _get(db, order_id)
    shown = show_pii(db, principal, order, ADDRESS_FIELDS, purpose="api_order_addresses", clock=context.clock)
    return AddressesOut(order_id=order.id, fields=shown)


class ShipIn(BaseModel):
    reference: str = Field(min_length=1, max_length=100, description="Your shipment reference (idempotent).")
    carrier: str | None = Field(default=None, max_length=100)
    tracking_number: str | None = Field(default=None, max_length=100)


@router.post(
    "/{order_id}/ship",
    summary="Ship everything not yet shipped (the same reference twice ships once)",
    dependencies=[require(Permission.ORDERS_WRITE)],
)
def order_ship(db: Db, context: Context, order_id: OrderId, body: ShipIn) -> ShipmentOut:
    order = _get(db, order_id)
    shipment = ship_order(
        db,
        order,
        reference=body.reference.strip(),
        now=context.clock(),
        carrier=body.carrier,
        tracking_number=body.tracking_number,
    )
    return ShipmentOut(
        reference=shipment.reference,
        shipped_at=shipment.shipped_at,
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
    )


class TrackingIn(BaseModel):
    tracking_number: str = Field(min_length=1, max_length=100, description="The corrected tracking number.")
    carrier: str | None = Field(
        default=None, max_length=100, description="The corrected carrier (default: the shipment's)."
    )


class CorrectionOut(ShipmentOut):
    confirmation_queued: bool = Field(description="True when the corrected confirmation goes to Amazon.")


@router.post(
    "/{order_id}/shipments/{reference}/tracking",
    summary="Correct a shipment's tracking number (and carrier); its confirmation is sent to Amazon again",
    dependencies=[require(Permission.ORDERS_WRITE)],
)
def shipment_tracking(
    db: Db,
    context: Context,
    *,
    order_id: OrderId,
    reference: Annotated[str, Path(max_length=100)],
    body: TrackingIn,
    principal: CurrentUser,
) -> CorrectionOut:
    order = _get(db, order_id)
    done = correct_tracking(
        db,
        order,
        reference=reference,
        tracking_number=body.tracking_number,
        carrier=body.carrier,
        now=context.clock(),
        by=principal.actor,
    )
    return CorrectionOut(
        reference=done.shipment.reference,
        shipped_at=done.shipment.shipped_at,
        carrier=done.shipment.carrier,
        tracking_number=done.shipment.tracking_number,
        confirmation_queued=done.message_id is not None,
    )


class CancelLine(BaseModel):
    sku: str = Field(min_length=1, max_length=100, description="The item's SKU as the order shows it.")
    quantity: int = Field(ge=1, le=1_000_000, description="Units to cancel.")


class CancelIn(BaseModel):
    rows: list[CancelLine] | None = Field(
        default=None,
        max_length=500,
        description="What to cancel; absent or null: everything not shipped yet (the whole order when "
        "nothing is shipped).",
    )


class CancelOut(BaseModel):
    reference: str
    status: str
    cancelled: dict[str, int] = Field(description="Units cancelled per item (SKU).")
    whole_order: bool = Field(description="True when the whole order was cancelled.")
    shipped: bool = Field(description="True when what remains is all shipped (the order is now shipped).")
    notice: str | None = Field(description="What the book does not do for you (e.g. tell Amazon).")


AMAZON_NOTICE = "the book does not tell Amazon: cancel it in Seller Central too"


@router.post(
    "/{order_id}/cancel",
    summary="Cancel the order, or some units of its items; shipped units cannot be cancelled",
    description="Cancelled units free their stock allocation; a row cancelled in full keeps its place at "
    "quantity and price 0, a partly cancelled row shrinks in proportion. The order moves to its channel's "
    "status for cancelled orders (or for shipped orders, when only shipped units remain). 409 when the "
    "order is already cancelled or the units are shipped; 422 when a SKU or quantity is wrong. The "
    "cancellation is not sent to Amazon: cancel an Amazon order in Seller Central too.",
    dependencies=[require(Permission.ORDERS_WRITE)],
)
def order_cancel(db: Db, context: Context, order_id: OrderId, body: CancelIn) -> CancelOut:
    order = _get(db, order_id)
    quantities = (
        units_by_sku(order, [(line.sku, line.quantity) for line in body.rows])
        if body.rows is not None
        else None
    )
    done = cancel(db, order, now=context.clock(), quantities=quantities)
    db.flush()
    channel = db.get(Channel, order.channel_id)
    return CancelOut(
        reference=order.external_ref,
        status=order.status.name,
        cancelled=done.units,
        whole_order=done.whole_order,
        shipped=done.now_shipped,
        notice=AMAZON_NOTICE if channel is not None and channel.is_amazon else None,
    )
