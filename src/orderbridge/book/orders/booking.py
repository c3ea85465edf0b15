"""Booking sales orders: rows (bundles expanded, gift wrap under its product), allocation and totals.

A page of orders is booked with one look-up per kind of record and one batched INSERT per table
(ORM bulk inserts), which is what lets a page of 100 Amazon orders book in a few milliseconds.
Every rule of a booked order is decided here, whichever caller books it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from orderbridge.book.address import address_values
from orderbridge.book.catalog import BundleComponent, Product
from orderbridge.book.contacts import Contact
from orderbridge.book.errors import InvalidValueError
from orderbridge.book.inventory import StockLevel, allocate, release, stock_level
from orderbridge.book.money import round_money
from orderbridge.book.orders.commands import NewOrder, NewRow
from orderbridge.book.orders.model import OrderNote, OrderRow, OrderStatus, PaymentStatus, RowKind, SalesOrder
from orderbridge.book.pii import new_pii_ref, seal_rows
from orderbridge.db import insert_dicts


@dataclass(frozen=True)
class Booked:
    order_id: int
    created: bool


@dataclass
class _Page:
    """What a page of orders needs from the store, loaded once and held for the unit of work."""

    products: dict[int, Product]
    components: dict[int, list[BundleComponent]]
    cancelled_status_ids: set[int]
    booked: dict[tuple[int, str], int]


@dataclass
class _PlannedRow:
    values: dict[str, Any]
    parent: int | None = None  # index of the parent row within the same order


@dataclass
class _PlannedOrder:
    values: dict[str, Any]
    rows: list[_PlannedRow] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)


def find_order(session: Session, channel_id: int, external_ref: str) -> SalesOrder | None:
    """The order booked under this channel and reference."""
    return session.scalar(
        select(SalesOrder).where(SalesOrder.channel_id == channel_id, SalesOrder.external_ref == external_ref)
    )


def book_order(
    session: Session, new: NewOrder, *, now: datetime, contact: Contact | None = None
) -> SalesOrder:
    """Book one order (or find the one already booked under its channel and reference) and return it."""
    booked = book_orders(session, [(new, contact)], now=now)[0]
    order = session.get(SalesOrder, booked.order_id)
    assert order is not None
    return order


def book_orders(
    session: Session, orders: Sequence[tuple[NewOrder, Contact | None]], *, now: datetime
) -> list[Booked]:
    """Book a page of orders; an order already booked under its channel and reference is left as it is.

    Each order may come with a `Contact` created in the same unit of work, used instead of
    `contact_id`. Stock is allocated where available (partially where short).
    """
    for new, _ in orders:
        _check_amounts(new)
    session.flush()  # contacts created for this page get their ids
    page = _load_page(session, [new for new, _ in orders])
    results: list[Booked | None] = []
    planned: list[_PlannedOrder] = []
    planned_keys: dict[tuple[int, str], int] = {}
    for new, contact in orders:
        key = (new.channel_id, new.external_ref)
        if key in page.booked:
            results.append(Booked(page.booked[key], created=False))
        elif key in planned_keys:
            results.append(None)  # the same order twice in one page: booked once
        else:
            planned_keys[key] = len(planned)
            planned.append(_plan(session, page, new, contact=contact, now=now))
            results.append(None)
    ids = _insert(session, planned)
    reported: set[int] = set()  # a page's second copy of an order reports created=False
    for index, (new, _) in enumerate(orders):
        if results[index] is None:
            order_id = ids[planned_keys[(new.channel_id, new.external_ref)]]
            results[index] = Booked(order_id, created=order_id not in reported)
            reported.add(order_id)
    return [result for result in results if result is not None]


def _load_page(session: Session, orders: list[NewOrder]) -> _Page:
    # The identity map holds objects weakly: the strong references kept in session.info stop the
    # same product or stock level being fetched again for every row that names it.
    keep: list[object] = session.info.setdefault("keep_alive", [])
    product_ids = {row.product_id for new in orders for row in new.rows if row.product_id is not None}
    products = {p.id: p for p in session.scalars(select(Product).where(Product.id.in_(product_ids)))}
    components: dict[int, list[BundleComponent]] = {}
    bundle_ids = [product.id for product in products.values() if product.is_bundle]
    if bundle_ids:
        parts = session.scalars(select(BundleComponent).where(BundleComponent.bundle_id.in_(bundle_ids)))
        for part in parts:
            components.setdefault(part.bundle_id, []).append(part)
            products.setdefault(part.component_id, part.component)
    warehouse_ids = {new.warehouse_id for new in orders if new.warehouse_id is not None}
    if products and warehouse_ids:
        keep.extend(
            session.scalars(
                select(StockLevel).where(
                    StockLevel.product_id.in_(products), StockLevel.warehouse_id.in_(warehouse_ids)
                )
            )
        )
    keep.extend(products.values())
    cancelled = set(session.scalars(select(OrderStatus.id).where(OrderStatus.is_cancelled.is_(True))))
    return _Page(products, components, cancelled, _booked_already(session, orders))


def _booked_already(session: Session, orders: list[NewOrder]) -> dict[tuple[int, str], int]:
    found: dict[tuple[int, str], int] = {}
    for channel_id in {new.channel_id for new in orders}:
        refs = [new.external_ref for new in orders if new.channel_id == channel_id]
        query = select(SalesOrder.id, SalesOrder.external_ref).where(
            SalesOrder.channel_id == channel_id, SalesOrder.external_ref.in_(refs)
        )
        found.update({(channel_id, ref): order_id for order_id, ref in session.execute(query)})
    return found


def _check_amounts(new: NewOrder) -> None:
    if not new.rows:
        raise InvalidValueError(f"order {new.external_ref}: has no rows")
    for number, row in enumerate(new.rows, start=1):
        where = f"order {new.external_ref}: row {number}"
        if row.quantity < 0:
            raise InvalidValueError(f"{where}: quantity {row.quantity} < 0")
        for label, amount in (("net", row.net), ("tax", row.tax)):
            if round_money(amount, new.currency) != amount:
                raise InvalidValueError(f"{where}: {label} {amount} is not rounded to {new.currency}")


def _plan(
    session: Session, page: _Page, new: NewOrder, *, contact: Contact | None, now: datetime
) -> _PlannedOrder:
    order = _PlannedOrder(_order_values(new, contact=contact, now=now))
    order.rows = _plan_rows(page, new)
    if new.warehouse_id is not None and new.status_id not in page.cancelled_status_ids:
        for row in order.rows:
            _allocate(session, page, row.values, new.warehouse_id)
    order.values["total_net"] = sum((row.values["net"] for row in order.rows), Decimal(0))
    order.values["total_tax"] = sum((row.values["tax"] for row in order.rows), Decimal(0))
    order.values["total_gross"] = order.values["total_net"] + order.values["total_tax"]
    order.notes = [
        {"body": body, "source": new.note_source, "added_at": now, "pii_ref": new_pii_ref()}
        for body in new.notes
    ]
    return order


def _order_values(new: NewOrder, *, contact: Contact | None, now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "channel_id": new.channel_id,
        "external_ref": new.external_ref,
        "contact_id": contact.id if contact is not None else new.contact_id,
        "status_id": new.status_id,
        "payment_status": PaymentStatus.UNPAID,
        "fulfilment": new.fulfilment,
        "currency": new.currency,
        "price_list_id": new.price_list_id,
        "warehouse_id": new.warehouse_id,
        "shipping_method_id": new.shipping_method_id,
        "placed_at": new.placed_at,
        "ship_by": new.ship_by,
        "deliver_by": new.deliver_by,
        "created_at": now,
        "updated_at": now,
        "withheld_tax": new.withheld_tax,
        "channel_programs": new.channel_programs,
        "confirm_shipments": new.confirm_shipments,
        "amount_paid": Decimal(0),
        "pii_ref": new_pii_ref(),
    }
    for prefix, address in (("billing", new.billing), ("delivery", new.delivery)):
        values.update(address_values(prefix, address))
    return values


def _plan_rows(page: _Page, new: NewOrder) -> list[_PlannedRow]:
    rows: list[_PlannedRow] = []
    goods_row: int | None = None
    components: list[tuple[BundleComponent, NewRow]] = []  # a bundle's parts, placed after its gift wrap

    def place_components() -> None:
        for part, bundle_spec in components:
            rows.append(
                _PlannedRow(_component_values(part, bundle_spec, position=len(rows)), parent=goods_row)
            )
        components.clear()

    for number, spec in enumerate(new.rows, start=1):
        where = f"order {new.external_ref}: row {number}"
        if spec.kind == RowKind.GIFT_WRAP:
            if goods_row is None:
                raise InvalidValueError(f"{where}: gift wrap with no product row above it")
            # O10: the wrap sits directly under its product (or bundle) row.
            rows.append(_PlannedRow(_row_values(spec, position=len(rows)), parent=goods_row))
            place_components()
            continue
        place_components()
        if spec.kind in (RowKind.PRODUCT, RowKind.BUNDLE):
            product = page.products.get(spec.product_id) if spec.product_id is not None else None
            if product is None:
                raise InvalidValueError(f"{where}: product row without a known product ({spec.product_id})")
            kind = RowKind.BUNDLE if product.is_bundle else RowKind.PRODUCT
            goods_row = len(rows)
            rows.append(_PlannedRow(_row_values(spec, position=len(rows), kind=kind, sku=product.sku)))
            if product.is_bundle:
                components.extend((part, spec) for part in page.components.get(product.id, []))
        elif spec.kind == RowKind.FREE_TEXT:
            if spec.product_id is not None:
                raise InvalidValueError(f"{where}: a free-text row cannot have a product")
            goods_row = len(rows)
            rows.append(_PlannedRow(_row_values(spec, position=len(rows))))
        else:
            rows.append(_PlannedRow(_row_values(spec, position=len(rows))))
    place_components()
    return rows


def _row_values(
    spec: NewRow, *, position: int, kind: RowKind | None = None, sku: str | None = None
) -> dict[str, Any]:
    return {
        "position": position,
        "kind": kind or spec.kind,
        "external_ref": spec.external_ref,
        "product_id": spec.product_id,
        "sku": sku or spec.sku,
        "name": spec.name,
        "quantity": spec.quantity,
        "cancelled_quantity": 0,
        "net": spec.net,
        "tax": spec.tax,
        "tax_code": spec.tax_code,
        "nominal_code": spec.nominal_code,
        "warehouse_id": None,
        "allocated": 0,
        "shipped": 0,
    }


def _component_values(part: BundleComponent, spec: NewRow, *, position: int) -> dict[str, Any]:
    """O7: each component of a bundle as its own zero-priced product row under the bundle row."""
    values = _row_values(spec, position=position, kind=RowKind.PRODUCT, sku=part.component.sku)
    values.update(
        product_id=part.component_id,
        name=part.component.name,
        quantity=spec.quantity * part.quantity,
        net=Decimal(0),
        tax=Decimal(0),
        external_ref=None,
    )
    return values


def _allocate(session: Session, page: _Page, row: dict[str, Any], warehouse_id: int) -> None:
    product = page.products.get(row["product_id"]) if row["product_id"] is not None else None
    if row["kind"] != RowKind.PRODUCT or product is None or not product.stock_tracked:
        return
    row["warehouse_id"] = warehouse_id
    row["allocated"] = allocate(stock_level(session, product.id, warehouse_id), row["quantity"])


def _insert(session: Session, planned: list[_PlannedOrder]) -> list[int]:
    """Write the planned orders, their rows (parents before children) and notes in batched INSERTs.

    Plain executemany INSERTs, then one SELECT of the new ids by natural key: SQLite cannot batch
    an INSERT ... RETURNING whose ids must come back in order, and would write row by row.
    """
    if not planned:
        return []
    orders, rows_table = cast(Table, SalesOrder.__table__), cast(Table, OrderRow.__table__)
    seal_rows(session, orders, [order.values for order in planned])  # P2: privacy seals the PII first
    insert_dicts(session, orders, [order.values for order in planned])
    order_ids = _ids_by_reference(session, planned)
    parents: list[dict[str, Any]] = []
    for order_id, order in zip(order_ids, planned, strict=True):
        for row in order.rows:
            row.values["order_id"] = order_id
            if row.parent is None:
                parents.append(row.values)
    insert_dicts(session, rows_table, parents)
    children = [(order, row) for order in planned for row in order.rows if row.parent is not None]
    if children:
        ids = _row_ids(
            session,
            [
                order_id
                for order_id, order in zip(order_ids, planned, strict=True)
                if any(row.parent is not None for row in order.rows)
            ],
        )
        insert_dicts(
            session,
            rows_table,
            [
                {
                    **row.values,
                    "parent_row_id": ids[(row.values["order_id"], order.rows[row.parent].values["position"])],
                }
                for order, row in children
                if row.parent is not None
            ],
        )
    notes = [
        {**note, "order_id": order_id}
        for order_id, order in zip(order_ids, planned, strict=True)
        for note in order.notes
    ]
    if notes:
        seal_rows(session, cast(Table, OrderNote.__table__), notes)
        insert_dicts(session, cast(Table, OrderNote.__table__), notes)
    return order_ids


def _ids_by_reference(session: Session, planned: list[_PlannedOrder]) -> list[int]:
    wanted = [(order.values["channel_id"], order.values["external_ref"]) for order in planned]
    found: dict[tuple[int, str], int] = {}
    for channel_id in {channel for channel, _ in wanted}:
        refs = [ref for channel, ref in wanted if channel == channel_id]
        query = select(SalesOrder.id, SalesOrder.external_ref).where(
            SalesOrder.channel_id == channel_id, SalesOrder.external_ref.in_(refs)
        )
        found.update({(channel_id, ref): order_id for order_id, ref in session.execute(query)})
    return [found[key] for key in wanted]


def _row_ids(session: Session, order_ids: list[int]) -> dict[tuple[int, int], int]:
    query = select(OrderRow.id, OrderRow.order_id, OrderRow.position).where(OrderRow.order_id.in_(order_ids))
    return {(order_id, position): row_id for row_id, order_id, position in session.execute(query)}


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


def replace_rows(session: Session, order: SalesOrder, rows: Sequence[NewRow], *, now: datetime) -> None:
    """Book new rows in place of an unshipped order's rows (a pending order made Ready, O2).

    The old rows' allocation is released, the new rows are planned as booking plans them (bundles
    expanded, gift wrap under its product) and allocated from the order's warehouse again.
    """
    if any(row.shipped for row in order.rows):
        raise InvalidValueError(f"order {order.external_ref}: has shipped rows; its rows cannot be replaced")
    spec = NewOrder(
        channel_id=order.channel_id,
        external_ref=order.external_ref,
        contact_id=order.contact_id,
        status_id=order.status_id,
        currency=order.currency,
        placed_at=order.placed_at,
        rows=tuple(rows),
        warehouse_id=order.warehouse_id,
    )
    _check_amounts(spec)
    for row in order.rows:
        if row.allocated and row.warehouse_id is not None and row.product_id is not None:
            release(stock_level(session, row.product_id, row.warehouse_id), row.allocated)
    order.rows.clear()
    session.flush()
    page = _load_page(session, [spec])
    planned = _plan_rows(page, spec)
    status = session.get(OrderStatus, order.status_id)
    if order.warehouse_id is not None and not (status is not None and status.is_cancelled):
        for plan in planned:
            _allocate(session, page, plan.values, order.warehouse_id)
    objects = [OrderRow(**plan.values) for plan in planned]
    for plan, made in zip(planned, objects, strict=True):
        if plan.parent is not None:
            made.parent = objects[plan.parent]
    order.rows.extend(objects)
    recompute_totals(order)
    order.updated_at = now
    session.flush()
