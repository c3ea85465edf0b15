"""Cancelling whole orders or some of their rows; cancelling always frees allocation (O21).

Two callers: the channel (an Amazon order cancelled while Pending, O21) and the seller (the order page,
`orderbridge orders cancel`, the API), who may cancel what is not shipped yet. Shipped units are never
cancelled: they are returned (a credit), not cancelled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy.orm import Session

from orderbridge.book.errors import BookError, InvalidValueError
from orderbridge.book.inventory import release, stock_level
from orderbridge.book.money import minor_unit
from orderbridge.book.orders.booking import recompute_totals
from orderbridge.book.orders.model import OrderRow, RowKind, SalesOrder
from orderbridge.book.orders.shipping import mark_shipped_when_complete
from orderbridge.book.orders.statuses import channel_cancelled_status, move_status

GOODS = (RowKind.PRODUCT, RowKind.BUNDLE, RowKind.FREE_TEXT)


class CancellationRefusedError(BookError):
    """The order or a row cannot be cancelled in its state (already cancelled, already shipped)."""


@dataclass(frozen=True)
class Cancelled:
    """What a seller's cancellation did: units per row (SKU or name), and whether the whole order went."""

    order: SalesOrder
    units: dict[str, int]
    whole_order: bool
    now_shipped: bool


def cancel_order(session: Session, order: SalesOrder, *, now: datetime) -> None:
    """Move the order to its channel's status for cancelled orders and free every allocation.
    Shipped rows stay shipped."""
    for row in order.rows:
        free_allocation(session, row)
    move_status(session, order, channel_cancelled_status(session, order.channel_id))
    order.cancelled_at = now
    order.updated_at = now


def cancel_row_quantity(
    session: Session, order: SalesOrder, row: OrderRow, cancelled: int, *, now: datetime
) -> None:
    """Cancel units of a row: quantity and money shrink in proportion; all cancelled -> 0 (O21)."""
    unshipped = row.quantity - row.shipped
    if cancelled <= 0 or cancelled > unshipped:
        raise InvalidValueError(
            f"order {order.external_ref}: {_name(row)}: cannot cancel {cancelled}; {unshipped} not shipped"
        )
    remaining = row.quantity - cancelled
    unit = minor_unit(order.currency)
    if remaining == 0:
        row.net, row.tax = Decimal(0), Decimal(0)
    else:
        share = Decimal(remaining) / Decimal(row.quantity)
        row.net = (row.net * share).quantize(unit, rounding=ROUND_HALF_UP)
        row.tax = (row.tax * share).quantize(unit, rounding=ROUND_HALF_UP)
    excess = max(row.allocated - (remaining - row.shipped), 0)
    if excess and row.warehouse_id is not None and row.product_id is not None:
        release(stock_level(session, row.product_id, row.warehouse_id), excess)
        row.allocated -= excess
    row.quantity = remaining
    row.cancelled_quantity += cancelled
    recompute_totals(order)
    order.updated_at = now


def cancel_item(session: Session, order: SalesOrder, row: OrderRow, cancelled: int, *, now: datetime) -> None:
    """Cancel units of a goods row with the rows below it: a bundle's components shrink with it (O7); its
    gift wrap goes only when the whole item goes (O10)."""
    whole = cancelled == row.quantity
    for child in [c for c in order.rows if c.parent_row_id == row.id]:
        if whole:
            units = child.quantity - child.shipped
        elif child.kind == RowKind.GIFT_WRAP:
            continue  # some units remain: so does their gift wrap
        else:
            units = child.quantity * cancelled // row.quantity
        if 0 < units <= child.quantity - child.shipped:
            cancel_row_quantity(session, order, child, units, now=now)
    cancel_row_quantity(session, order, row, cancelled, now=now)


def free_allocation(session: Session, row: OrderRow) -> None:
    if row.allocated and row.warehouse_id is not None and row.product_id is not None:
        release(stock_level(session, row.product_id, row.warehouse_id), row.allocated)
        row.allocated = 0


# -- the seller's cancellation ---------------------------------------------------------------------


def goods_rows(order: SalesOrder) -> list[OrderRow]:
    """The rows a seller cancels: each item (a product, a bundle, an unconnected listing), not the rows
    below one (components, gift wrap) nor shipping."""
    return [row for row in order.rows if row.parent_row_id is None and row.kind in GOODS]


def cancellable_units(order: SalesOrder, row: OrderRow) -> int:
    """Units of the item not shipped yet: a bundle counts the bundles its components can still make."""
    if row.kind == RowKind.BUNDLE:
        parts = [c for c in order.rows if c.parent_row_id == row.id and c.kind == RowKind.PRODUCT]
        if parts and row.quantity:
            shipped_bundles = max(-(-c.shipped * row.quantity // c.quantity) for c in parts if c.quantity)
            return max(row.quantity - shipped_bundles, 0)
        return row.quantity
    if row.kind == RowKind.FREE_TEXT:
        return row.quantity
    return row.quantity - row.shipped


def cancel(
    session: Session, order: SalesOrder, *, now: datetime, quantities: dict[int, int] | None = None
) -> Cancelled:
    """Cancel `quantities` (goods row id -> units) or, without them, everything not shipped yet.

    Every line is checked before anything changes. An order with nothing shipped that loses every unit is
    cancelled as a whole (its channel's cancelled status); one whose remaining units are all shipped is
    shipped (its channel's shipped status). Allocation of the cancelled units is freed.
    """
    if order.is_cancelled:
        raise CancellationRefusedError(f"order {order.external_ref} is already cancelled")
    goods = goods_rows(order)
    if quantities is None:
        quantities = {row.id: cancellable_units(order, row) for row in goods if cancellable_units(order, row)}
        if not quantities:
            raise CancellationRefusedError(
                f"order {order.external_ref} is shipped in full: nothing is left to cancel "
                "(record a return instead)"
            )
    _check(order, goods, quantities)
    nothing_shipped = not any(row.shipped for row in order.rows)
    every_unit = all(quantities.get(row.id, 0) == row.quantity for row in goods)
    units = {_name(row): quantities[row.id] for row in goods if row.id in quantities}
    if nothing_shipped and every_unit:
        cancel_order(session, order, now=now)
        return Cancelled(order, units, whole_order=True, now_shipped=False)
    for row in goods:
        if quantities.get(row.id):
            cancel_item(session, order, row, quantities[row.id], now=now)
    shipped = mark_shipped_when_complete(session, order, now=now)
    return Cancelled(order, units, whole_order=False, now_shipped=shipped)


def _check(order: SalesOrder, goods: list[OrderRow], quantities: dict[int, int]) -> None:
    by_id = {row.id: row for row in goods}
    if not quantities:
        raise InvalidValueError(f"order {order.external_ref}: no units to cancel were given")
    for row_id, units in quantities.items():
        row = by_id.get(row_id)
        if row is None:
            raise InvalidValueError(f"order {order.external_ref}: row {row_id} is not an item of this order")
        where = f"order {order.external_ref}: {_name(row)}"
        left = cancellable_units(order, row)
        if left == 0:
            raise CancellationRefusedError(
                f"{where} is shipped: a shipped item cannot be cancelled (record a return instead)"
            )
        if units <= 0:
            raise InvalidValueError(f"{where}: the quantity to cancel must be 1 or more, not {units}")
        if units > left:
            shipped = row.quantity - left
            raise CancellationRefusedError(
                f"{where}: cannot cancel {units}; {left} of {row.quantity} are not shipped"
                + (f" ({shipped} shipped)" if shipped else "")
            )


def units_by_sku(order: SalesOrder, lines: list[tuple[str, int | None]]) -> dict[int, int]:
    """(SKU, units) lines -> goods row id -> units; a SKU on several rows fills them in order; units None:
    every unit of that SKU not shipped yet."""
    wanted: dict[int, int] = {}
    for sku, units in lines:
        where = f"order {order.external_ref}"
        rows = [row for row in goods_rows(order) if row.sku == sku]
        if not rows:
            raise InvalidValueError(f"{where}: no item has the SKU {sku!r}")
        if units is not None and units <= 0:
            raise InvalidValueError(f"{where}: SKU {sku}: cancel 1 or more units, not {units}")
        left = units if units is not None else sum(cancellable_units(order, row) for row in rows)
        if left == 0:  # every unit shipped: the check says so by name
            wanted.setdefault(rows[0].id, 0)
        for row in rows:
            room = cancellable_units(order, row) - wanted.get(row.id, 0)
            take = min(left, room) if row is not rows[-1] else left
            if take > 0:
                wanted[row.id] = wanted.get(row.id, 0) + take
                left -= take
            if left == 0:
                break
    return wanted


def _name(row: OrderRow) -> str:
    return f"SKU {row.sku}" if row.sku else repr(row.name)
