"""Booking a sales order: rows (bundles expanded, gift wrap under its product), allocation and totals."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.book.address import write_address
from orderbridge.book.catalog import BundleComponent, Product
from orderbridge.book.contacts import Contact
from orderbridge.book.errors import InvalidValueError
from orderbridge.book.inventory import StockLevel, allocate, stock_level
from orderbridge.book.money import round_money
from orderbridge.book.orders.commands import NewOrder, NewRow
from orderbridge.book.orders.model import OrderNote, OrderRow, OrderStatus, RowKind, SalesOrder


@dataclass(frozen=True)
class Booked:
    order: SalesOrder
    created: bool


def find_order(session: Session, channel_id: int, external_ref: str) -> SalesOrder | None:
    """The order booked under this channel and reference, including one added but not yet flushed."""
    pending = find_pending_order(session, channel_id, external_ref)
    if pending is not None:
        return pending
    with session.no_autoflush:
        return session.scalar(
            select(SalesOrder).where(SalesOrder.channel_id == channel_id, SalesOrder.external_ref == external_ref)
        )


def find_pending_order(session: Session, channel_id: int, external_ref: str) -> SalesOrder | None:
    for pending in session.new:
        if isinstance(pending, SalesOrder) and (pending.channel_id, pending.external_ref) == (channel_id, external_ref):
            return pending
    return None


def _booked_already(session: Session, orders: list[NewOrder]) -> dict[tuple[int, str], SalesOrder]:
    found: dict[tuple[int, str], SalesOrder] = {}
    for channel_id in {new.channel_id for new in orders}:
        refs = [new.external_ref for new in orders if new.channel_id == channel_id]
        query = select(SalesOrder).where(SalesOrder.channel_id == channel_id, SalesOrder.external_ref.in_(refs))
        found.update({(order.channel_id, order.external_ref): order for order in session.scalars(query)})
    return found


def book_order(session: Session, new: NewOrder, *, now: datetime, contact: Contact | None = None) -> Booked:
    """Book a new order, or return the one already booked under this channel and reference.

    `contact` may be given instead of `new.contact_id` for a contact created in the same unit of
    work. Nothing is flushed here, so a page of orders is written in one batch.
    """
    return book_orders(session, [(new, contact)], now=now)[0]


def book_orders(
    session: Session, orders: Sequence[tuple[NewOrder, Contact | None]], *, now: datetime
) -> list[Booked]:
    """Book a page of orders (each with an optional new contact) with one look-up per kind of record."""
    for new, _ in orders:
        _check_amounts(new)
    with session.no_autoflush:
        _preload(session, [new for new, _ in orders])
        already = _booked_already(session, [new for new, _ in orders])
        booked = []
        for new, contact in orders:
            existing = already.get((new.channel_id, new.external_ref)) or find_pending_order(
                session, new.channel_id, new.external_ref
            )
            if existing is not None:
                booked.append(Booked(existing, created=False))
                continue
            order = _new_order(session, new, now=now, contact=contact)
            allocate_order(session, order)
            recompute_totals(order)
            booked.append(Booked(order, created=True))
    return booked


def _preload(session: Session, orders: list[NewOrder]) -> None:
    """Load every product, stock level and status the page needs, and keep them for the unit of work.

    The session's identity map holds objects weakly, so without the strong references the same
    product would be fetched again for each row that names it.
    """
    keep: list[object] = session.info.setdefault("keep_alive", [])
    product_ids = {row.product_id for new in orders for row in new.rows if row.product_id is not None}
    products = list(session.scalars(select(Product).where(Product.id.in_(product_ids)))) if product_ids else []
    bundle_ids = [product.id for product in products if product.is_bundle]
    if bundle_ids:
        parts = session.scalars(select(BundleComponent).where(BundleComponent.bundle_id.in_(bundle_ids))).all()
        keep.extend(parts)
        product_ids |= {part.component_id for part in parts}
    warehouse_ids = {new.warehouse_id for new in orders if new.warehouse_id is not None}
    if product_ids and warehouse_ids:
        keep.extend(
            session.scalars(
                select(StockLevel).where(
                    StockLevel.product_id.in_(product_ids), StockLevel.warehouse_id.in_(warehouse_ids)
                )
            )
        )
    keep.extend(products)
    keep.extend(session.scalars(select(OrderStatus)))


def _new_order(session: Session, new: NewOrder, *, now: datetime, contact: Contact | None) -> SalesOrder:
    order = SalesOrder(
        channel_id=new.channel_id,
        external_ref=new.external_ref,
        status_id=new.status_id,
        currency=new.currency,
        fulfilment=new.fulfilment,
        warehouse_id=new.warehouse_id,
        shipping_method_id=new.shipping_method_id,
        price_list_id=new.price_list_id,
        placed_at=new.placed_at,
        created_at=now,
        updated_at=now,
        withheld_tax=new.withheld_tax,
        amount_paid=Decimal(0),
    )
    if contact is not None:
        order.contact = contact
    else:
        order.contact_id = new.contact_id
    write_address(order, "billing", new.billing)
    write_address(order, "delivery", new.delivery)
    session.add(order)
    for row in _rows_for(session, new):
        order.rows.append(row)
    for body in new.notes:
        order.notes.append(OrderNote(body=body, source=new.note_source, added_at=now))
    return order


def _check_amounts(new: NewOrder) -> None:
    if not new.rows:
        raise InvalidValueError(f"order {new.external_ref}: has no rows")
    for number, row in enumerate(new.rows, start=1):
        if row.quantity < 0:
            raise InvalidValueError(f"order {new.external_ref}: row {number}: quantity {row.quantity} < 0")
        for label, amount in (("net", row.net), ("tax", row.tax)):
            if round_money(amount, new.currency) != amount:
                raise InvalidValueError(
                    f"order {new.external_ref}: row {number}: {label} {amount} is not rounded to {new.currency}"
                )


def _rows_for(session: Session, new: NewOrder) -> list[OrderRow]:
    rows: list[OrderRow] = []
    goods_row: OrderRow | None = None
    for number, spec in enumerate(new.rows, start=1):
        where = f"order {new.external_ref}: row {number}"
        if spec.kind == RowKind.GIFT_WRAP:
            if goods_row is None:
                raise InvalidValueError(f"{where}: gift wrap with no product row above it")
            rows.append(_row(spec, position=len(rows), parent=goods_row))
        elif spec.kind in (RowKind.PRODUCT, RowKind.BUNDLE):
            product = session.get(Product, spec.product_id) if spec.product_id is not None else None
            if product is None:
                raise InvalidValueError(f"{where}: product row without a known product ({spec.product_id})")
            kind = RowKind.BUNDLE if product.is_bundle else RowKind.PRODUCT
            goods_row = _row(spec, position=len(rows), kind=kind, sku=product.sku)
            rows.append(goods_row)
            if product.is_bundle:
                rows.extend(_component_rows(product, spec, goods_row, start=len(rows)))
        elif spec.kind == RowKind.FREE_TEXT:
            if spec.product_id is not None:
                raise InvalidValueError(f"{where}: a free-text row cannot have a product")
            goods_row = _row(spec, position=len(rows))
            rows.append(goods_row)
        else:
            rows.append(_row(spec, position=len(rows)))
    return rows


def _row(
    spec: NewRow,
    *,
    position: int,
    kind: RowKind | None = None,
    sku: str | None = None,
    parent: OrderRow | None = None,
) -> OrderRow:
    return OrderRow(
        position=position,
        kind=kind or spec.kind,
        parent=parent,
        external_ref=spec.external_ref,
        product_id=spec.product_id,
        sku=sku or spec.sku,
        name=spec.name,
        quantity=spec.quantity,
        cancelled_quantity=0,
        net=spec.net,
        tax=spec.tax,
        tax_code=spec.tax_code,
        nominal_code=spec.nominal_code,
        allocated=0,
        shipped=0,
    )


def _component_rows(bundle: Product, spec: NewRow, bundle_row: OrderRow, *, start: int) -> list[OrderRow]:
    """O7: each component of a bundle as its own zero-priced product row under the bundle row."""
    return [
        OrderRow(
            position=start + offset,
            kind=RowKind.PRODUCT,
            parent=bundle_row,
            product_id=part.component_id,
            sku=part.component.sku,
            name=part.component.name,
            quantity=spec.quantity * part.quantity,
            cancelled_quantity=0,
            net=Decimal(0),
            tax=Decimal(0),
            tax_code=spec.tax_code,
            nominal_code=spec.nominal_code,
            allocated=0,
            shipped=0,
        )
        for offset, part in enumerate(bundle.components)
    ]


def allocate_order(session: Session, order: SalesOrder) -> int:
    """Allocate what stock allows to every unallocated stock-tracked product row; returns units allocated."""
    status = session.get(OrderStatus, order.status_id)
    if order.warehouse_id is None or (status is not None and status.is_cancelled):
        return 0
    granted_total = 0
    for row in order.rows:
        wanted = row.quantity - row.shipped - row.allocated
        if row.kind != RowKind.PRODUCT or row.product_id is None or wanted <= 0:
            continue
        product = session.get(Product, row.product_id)
        if product is None or not product.stock_tracked:
            continue
        row.warehouse_id = order.warehouse_id
        granted = allocate(stock_level(session, row.product_id, order.warehouse_id), wanted)
        row.allocated += granted
        granted_total += granted
    return granted_total


def recompute_totals(order: SalesOrder) -> None:
    """The order's totals are the sums of its rows; nothing else writes them."""
    order.total_net = sum((row.net for row in order.rows), Decimal(0))
    order.total_tax = sum((row.tax for row in order.rows), Decimal(0))
    order.total_gross = order.total_net + order.total_tax
