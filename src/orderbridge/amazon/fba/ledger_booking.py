"""The FBA inventory ledger (GET_LEDGER_DETAIL_VIEW_DATA, SPAPI.md §8.3) booked into the FBA warehouse.

The book's FBA warehouse holds Amazon's *sellable* units. Each ledger row is kept as an entry (the
sub-ledger per fulfilment centre) and, when it changes sellable stock, becomes one movement whose
reference names the entry (F10):

- Shipments: units shipped to buyers, replacements included (F6); a booked FBA order's row is marked
  shipped and its allocation released.
- Adjustments by reason code: lost M/5 (F7), damaged 6/7/E/H/K/U (F7), disposed D/G (F9), found F/N,
  corrections O, 3/4 and the disposition pair P/Q. Only rows in the Sellable disposition move stock,
  so a unit that turns from sellable to damaged leaves stock once (E) and nothing more (P).
- Receipts and CustomerReturns change nothing here: inbound shipments (F4) and the returns report (F8)
  move those units, so they are never counted twice. They still count in the per-centre sub-ledger.
- WhseTransfers move units between centres; VendorReturns are removals.

Rows dated before the account's FBA opening balance (`opening.py`) are inside Amazon's opening
count: they are kept as entries marked `before_opening` (claims, shipped order rows) and move nothing.

An entry's identity leaves out the Reconciled / Unreconciled columns, which Amazon changes later (a
lost unit found or reimbursed): a re-download with new reconciliation updates the entry (for claims)
and books nothing again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from orderbridge.amazon.fba.before_opening import settle_opening_receipts
from orderbridge.amazon.fba.ledger_rows import LedgerRow
from orderbridge.amazon.fba.places import channels_by_country, places, products_for
from orderbridge.amazon.fba.records import BEFORE_OPENING, ENTRIES, LedgerEntry, Replacement, opening_cutoff
from orderbridge.book.catalog import Product
from orderbridge.book.inventory import (
    MovementReason,
    NewMovement,
    StockMovement,
    move_stock_many,
    stock_level,
)
from orderbridge.book.orders.model import Fulfilment, OrderRow, RowKind, SalesOrder
from orderbridge.book.orders.shipping import mark_shipped_when_complete
from orderbridge.db import insert_rows


@dataclass(frozen=True)
class Place:
    channel_id: int
    warehouse_id: int | None


def book_ledger_rows(
    session: Session,
    account_id: int,
    rows: Sequence[tuple[int, LedgerRow]],
    *,
    report_pk: int | None,
    cache: dict[str, Any] | None = None,
    known: Mapping[str, tuple[int, int, int]] | None = None,
) -> dict[int, str]:
    """Book (line, row) pairs in bulk; returns {line: reason} for rows refused. Idempotent per identity.

    `known`: the entries of these rows' identities, when the caller has just looked them up."""
    cache = cache if cache is not None else {}
    refused: dict[int, str] = {}
    fresh = _reconcile_known(session, account_id, rows, known)
    placed = _places(session, account_id, cache, {row.country for _, row in fresh})
    products = _products(session, cache, placed, fresh)
    replacements = _replacement_orders(session, account_id, fresh)
    cutoff = _opening_cutoff(session, account_id, cache)
    receipts_before: set[str] = set()
    entries: list[tuple[Any, ...]] = []
    movements: list[NewMovement] = []
    # Entry ids are taken before the INSERT so that each movement's reference names its entry by id:
    # ids grow, so the movements' unique reference index is appended to, not written at random pages
    # (a content hash there made every insert land on a random page of a table of millions).
    ids = _next_entry_ids(session, len(fresh))
    shipped: list[tuple[LedgerRow, Product, int]] = []
    for line, row in fresh:
        place = placed.get(row.country)
        product = products.get((place.channel_id, row.sku)) if place else None
        reason = row.movement_reason()
        if cutoff is not None and row.happened_at < cutoff:
            # In Amazon's opening count already: kept for claims and shipped rows, moves nothing.
            entries.append(
                _before_opening(
                    ids[len(entries)],
                    account_id,
                    row,
                    product,
                    place,
                    shipped,
                    receipts_before,
                    report_pk,
                    line,
                )
            )
            continue
        if reason is not None:
            if place is None or place.warehouse_id is None:
                refused[line] = f"country {row.country}: no Amazon channel with an fba_warehouse setting"
                continue
            if product is None:
                refused[line] = (
                    f"MSKU {row.sku!r}: no stock-tracked product in the book (connect the listing)"
                )
                continue
            if reason == MovementReason.SHIPMENT and row.reference_id in replacements:
                reason = MovementReason.REPLACEMENT
            movements.append(
                NewMovement(
                    product.id,
                    place.warehouse_id,
                    row.quantity,
                    reason,
                    f"ledger:{ids[len(entries)]}",
                    row.happened_at,
                    f"ledger {row.event_type} {row.reason} {row.reference_id} {row.fulfillment_center}",
                )
            )
            if reason in (MovementReason.SHIPMENT, MovementReason.REPLACEMENT) and row.quantity < 0:
                shipped.append((row, product, place.warehouse_id))
        entries.append(
            _entry(ids[len(entries)], account_id, row, product, place, reason, report_pk=report_pk, line=line)
        )
    insert_rows(session, ENTRIES, ENTRY_COLUMNS, entries)
    # Each movement's reference names a ledger entry first inserted just now, so none was applied before.
    move_stock_many(session, movements, known_new=True)
    _ship_order_rows(session, placed, shipped)
    if receipts_before:
        settle_opening_receipts(session, account_id, receipts_before)
    return refused


def _reconcile_known(
    session: Session,
    account_id: int,
    rows: Sequence[tuple[int, LedgerRow]],
    known: Mapping[str, tuple[int, int, int]] | None,
) -> list[tuple[int, LedgerRow]]:
    """The rows whose identity has no entry yet (each once); an entry whose reconciliation columns
    changed is updated (claims read them) and moves nothing."""
    if known is None:
        known = known_entries(session, account_id, [row.identity for _, row in rows])
    updates: list[dict[str, Any]] = []
    fresh: list[tuple[int, LedgerRow]] = []
    seen: set[str] = set()
    for line, row in rows:
        entry = known.get(row.identity)
        if entry is not None:
            if (entry[1], entry[2]) != (row.reconciled, row.unreconciled):
                updates.append(
                    {"id": entry[0], "reconciled": row.reconciled, "unreconciled": row.unreconciled}
                )
        elif row.identity not in seen:
            seen.add(row.identity)
            fresh.append((line, row))
    if updates:
        session.execute(update(LedgerEntry), updates)  # bulk UPDATE by primary key
    return fresh


def _opening_cutoff(session: Session, account_id: int, cache: dict[str, Any]) -> datetime | None:
    if "opening" not in cache:
        cache["opening"] = opening_cutoff(session, account_id)
    cutoff: datetime | None = cache["opening"]
    return cutoff


def _before_opening(  # noqa: PLR0917 - the loop's state, passed once
    entry_id: int,
    account_id: int,
    row: LedgerRow,
    product: Product | None,
    place: Place | None,
    shipped: list[tuple[LedgerRow, Product, int]],
    receipts: set[str],
    report_pk: int | None,
    line: int,
) -> tuple[Any, ...]:
    """The entry of a row dated before the opening's cutoff: it moves nothing (the count holds it)."""
    if row.event_type == "Shipments" and row.quantity < 0 and product and place and place.warehouse_id:
        shipped.append((row, product, place.warehouse_id))
    if row.event_type == "Receipts":
        receipts.add(row.reference_id)
    entry = _entry(entry_id, account_id, row, product, place, None, report_pk=report_pk, line=line)
    at = ENTRY_COLUMNS.index("movement")
    return (*entry[:at], BEFORE_OPENING, *entry[at + 1 :])


def _next_entry_ids(session: Session, count: int) -> list[int]:
    """`count` unused ledger entry ids, ascending. SQLite: above the largest (this transaction is the
    only writer from its first write on; a writer in between makes it fail, never reuse an id).
    PostgreSQL: from the column's sequence, which every other insert of an entry draws from too."""
    if not count:
        return []
    connection = session.connection()
    table = LedgerEntry.__tablename__
    if connection.dialect.name == "postgresql":
        sql = f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) FROM generate_series(1, %s)"
        return sorted(int(n) for (n,) in connection.exec_driver_sql(sql, (count,)))
    top = connection.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}").scalar_one()
    return list(range(int(top) + 1, int(top) + 1 + count))


def known_entries(
    session: Session, account_id: int, identities: list[str]
) -> dict[str, tuple[int, int, int]]:
    found: dict[str, tuple[int, int, int]] = {}
    connection = session.connection()
    head = (
        f"SELECT identity, id, reconciled, unreconciled FROM {LedgerEntry.__tablename__} "
        "WHERE account_id = {mark} AND identity "
    )
    # Plain SQL (an ORM IN list compiled per batch costs more than the look-up); on PostgreSQL one
    # array parameter, so the statement is the same for every batch.
    chunks: list[tuple[str, tuple[Any, ...]]]
    if connection.dialect.paramstyle != "qmark":
        chunks = [(head.format(mark="%s") + "= ANY(%s)", (account_id, identities))]
    else:
        chunks = [
            (
                head.format(mark="?") + f"IN ({', '.join(['?'] * len(part))})",
                (account_id, *part),
            )
            for part in (identities[start : start + 5000] for start in range(0, len(identities), 5000))
        ]
    for sql, parameters in chunks:
        for identity, entry_id, reconciled, unreconciled in connection.exec_driver_sql(sql, parameters):
            found[identity] = (entry_id, reconciled, unreconciled)
    return found


def _places(
    session: Session, account_id: int, cache: dict[str, Any], countries: set[str]
) -> dict[str, Place]:
    placed: dict[str, Place] = cache.setdefault("places", {})
    missing = countries - placed.keys()
    if missing:
        channels = channels_by_country(session)
        for country in missing:
            channel = channels.get(country)
            if channel is not None:
                warehouse = places(session, channel.marketplace_id or "", account_id).fba_warehouse
                placed[country] = Place(channel.id, warehouse.id if warehouse is not None else None)
    return placed


def _products(
    session: Session, cache: dict[str, Any], placed: dict[str, Place], rows: list[tuple[int, LedgerRow]]
) -> dict[tuple[int, str], Product]:
    products: dict[tuple[int, str], Product] = cache.setdefault("products", {})
    wanted: dict[int, set[str]] = {}
    for _, row in rows:
        place = placed.get(row.country)
        if place is not None and (place.channel_id, row.sku) not in products:
            wanted.setdefault(place.channel_id, set()).add(row.sku)
    for channel_id, skus in wanted.items():
        for sku, product in products_for(session, channel_id, skus).items():
            products[(channel_id, sku)] = product
    return products


def _replacement_orders(session: Session, account_id: int, rows: list[tuple[int, LedgerRow]]) -> set[str]:
    orders = {row.reference_id for _, row in rows if row.event_type == "Shipments" and row.reference_id}
    if not orders:
        return set()
    query = select(Replacement.replacement_order_id).where(
        Replacement.account_id == account_id, Replacement.replacement_order_id.in_(orders)
    )
    return set(session.scalars(query))


ENTRY_COLUMNS = (
    "id",
    "account_id",
    "identity",
    "happened_at",
    "sku",
    "fnsku",
    "product_id",
    "warehouse_id",
    "fulfillment_center",
    "event_type",
    "reference_id",
    "quantity",
    "disposition",
    "reason",
    "country",
    "reconciled",
    "unreconciled",
    "movement",
    "report_id",
    "line",
)


def _entry(  # noqa: PLR0917 - one entry's values, in ENTRY_COLUMNS' order
    entry_id: int,
    account_id: int,
    row: LedgerRow,
    product: Product | None,
    place: Place | None,
    reason: MovementReason | None,
    *,
    report_pk: int | None,
    line: int,
) -> tuple[Any, ...]:
    return (
        entry_id,
        account_id,
        row.identity,
        row.happened_at,
        row.sku,
        row.fnsku,
        product.id if product else None,
        place.warehouse_id if place else None,
        row.fulfillment_center,
        row.event_type,
        row.reference_id,
        row.quantity,
        row.disposition,
        row.reason,
        row.country,
        row.reconciled,
        row.unreconciled,
        str(reason) if reason is not None else None,
        report_pk,
        line,
    )


def _ship_order_rows(
    session: Session, placed: dict[str, Place], shipped: list[tuple[LedgerRow, Product, int]]
) -> None:
    """Units Amazon shipped for a booked FBA order: the row counts them shipped, its allocation released."""
    if not shipped:
        return
    refs = {row.reference_id for row, _, _ in shipped}
    channels = {place.channel_id for place in placed.values()}
    query = (
        select(OrderRow, SalesOrder)
        .join(SalesOrder, SalesOrder.id == OrderRow.order_id)
        .where(
            SalesOrder.external_ref.in_(refs),
            SalesOrder.channel_id.in_(channels),
            SalesOrder.fulfilment == Fulfilment.CHANNEL,
            OrderRow.kind == RowKind.PRODUCT,
        )
        .order_by(OrderRow.id)
    )
    rows: dict[tuple[str, int, int | None], list[OrderRow]] = {}
    orders: dict[int, SalesOrder] = {}
    for order_row, order in session.execute(query):
        rows.setdefault((order.external_ref, order_row.product_id or 0, order_row.warehouse_id), []).append(
            order_row
        )
        orders[order.id] = order
    touched: set[int] = set()
    for row, product, warehouse_id in shipped:
        units = -row.quantity
        for order_row in rows.get((row.reference_id, product.id, warehouse_id), []):
            take = min(units, order_row.quantity - order_row.shipped)
            if take <= 0:
                continue
            freed = min(order_row.allocated, take)
            if freed:
                order_row.allocated -= freed
                stock_level(session, product.id, warehouse_id).allocated -= freed
            order_row.shipped += take
            units -= take
            touched.add(order_row.order_id)
            if units == 0:
                break
    for order_id in touched:
        order = orders[order_id]
        when = max(row.happened_at for row, _, _ in shipped if row.reference_id == order.external_ref)
        mark_shipped_when_complete(session, order, now=when)


def book_replacements(session: Session, account_id: int, rows: Sequence[Mapping[str, Any]]) -> None:
    """F6: record replacements, and mark the ledger shipments of those orders as replacements."""
    orders = set()
    for row in rows:
        exists = session.scalar(
            select(Replacement.id).where(
                Replacement.account_id == account_id,
                Replacement.replacement_order_id == row["replacement_order_id"],
                Replacement.sku == row["sku"],
            )
        )
        if exists is None:
            session.add(Replacement(account_id=account_id, **row))
        orders.add(str(row["replacement_order_id"]))
    session.flush()
    references = [
        f"ledger:{entry_id}"
        for entry_id in session.scalars(
            select(LedgerEntry.id).where(
                LedgerEntry.account_id == account_id,
                LedgerEntry.event_type == "Shipments",
                LedgerEntry.reference_id.in_(orders),
            )
        )
    ]
    if references:
        session.execute(
            update(StockMovement)
            .where(StockMovement.reference.in_(references))
            .values(reason=MovementReason.REPLACEMENT)
        )
        session.execute(
            update(LedgerEntry)
            .where(
                LedgerEntry.account_id == account_id,
                LedgerEntry.event_type == "Shipments",
                LedgerEntry.reference_id.in_(orders),
                LedgerEntry.movement.is_not(None),
                LedgerEntry.movement != BEFORE_OPENING,
            )
            .values(movement=str(MovementReason.REPLACEMENT))
        )


def stock_by_centre(session: Session, account_id: int) -> dict[tuple[str, str], int]:
    """(SKU, fulfilment centre) -> sellable units, summed from the ledger entries (the sub-ledger) and the
    opening balance; rows the opening count already holds are left out."""
    query = (
        select(LedgerEntry.sku, LedgerEntry.fulfillment_center, func.sum(LedgerEntry.quantity))
        .where(
            LedgerEntry.account_id == account_id,
            func.lower(LedgerEntry.disposition) == "sellable",
            or_(LedgerEntry.movement.is_(None), LedgerEntry.movement != BEFORE_OPENING),
        )
        .group_by(LedgerEntry.sku, LedgerEntry.fulfillment_center)
    )
    return {(sku, fc): int(total) for sku, fc, total in session.execute(query) if total}
