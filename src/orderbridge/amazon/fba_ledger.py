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

Rows dated before the account's FBA opening balance (`fba_opening.py`) are inside Amazon's opening
count: they are kept as entries marked `before_opening` (claims, shipped order rows) and move nothing.

An entry's identity leaves out the Reconciled / Unreconciled columns, which Amazon changes later (a
lost unit found or reimbursed): a re-download with new reconciliation updates the entry (for claims)
and books nothing again.
"""

from __future__ import annotations

import hashlib
from base64 import urlsafe_b64encode
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Table, UniqueConstraint, func, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.amazon.fba_book import channels_by_country, places, products_for
from orderbridge.amazon.report_handler import (
    ParsedRow,
    ReportContext,
    ReportHandler,
    WindowPolicy,
    register_report_handler,
)
from orderbridge.amazon.report_rows import ReportRow, RowError, whole_number
from orderbridge.book.catalog import Product
from orderbridge.book.inventory import (
    MovementReason,
    NewMovement,
    StockMovement,
    move_stock_many,
    stock_level,
)
from orderbridge.book.orders.model import Fulfilment, OrderRow, RowKind, SalesOrder
from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId, insert_rows

LEDGER = "GET_LEDGER_DETAIL_VIEW_DATA"
REPLACEMENTS = "GET_FBA_FULFILLMENT_CUSTOMER_SHIPMENT_REPLACEMENT_DATA"

# SPAPI.md §8.3, "Adjustment reason codes" (Seller Central help G4FKT5KQWFFJ7LDN).
LOST_CODES = frozenset({"M", "5"})
DAMAGED_CODES = frozenset({"6", "7", "E", "H", "K", "U"})
ADJUSTMENT_REASONS: dict[str, MovementReason] = {
    **dict.fromkeys(LOST_CODES, MovementReason.LOST),
    **dict.fromkeys(DAMAGED_CODES, MovementReason.DAMAGED),
    **dict.fromkeys(("D", "G"), MovementReason.DISPOSED),
    **dict.fromkeys(("F", "N"), MovementReason.FOUND),
    **dict.fromkeys(("O", "3", "4", "P", "Q"), MovementReason.CORRECTION),
}
EVENT_TYPES = frozenset(
    {"Shipments", "Receipts", "CustomerReturns", "Adjustments", "WhseTransfers", "VendorReturns"}
)
MOVED_ELSEWHERE = frozenset({"Receipts", "CustomerReturns"})  # by inbound (F4) and returns (F8)
BEFORE_OPENING = "before_opening"  # LedgerEntry.movement of a row the opening count already holds
IDENTITY_TIME = 40  # characters of a row's date and time kept at the front of its identity


@dataclass(slots=True)
class LedgerRow:
    """One ledger row, parsed. `identity` leaves out the reconciliation columns."""

    identity: str
    happened_at: datetime
    sku: str
    fnsku: str
    event_type: str
    reference_id: str
    quantity: int
    fulfillment_center: str
    disposition: str
    reason: str
    country: str
    reconciled: int
    unreconciled: int

    @property
    def sellable(self) -> bool:
        return self.disposition.lower() == "sellable"

    @property
    def claimable(self) -> bool:
        """Lost or damaged at Amazon: units Amazon owes the seller for (claims)."""
        return (
            self.event_type == "Adjustments"
            and self.reason in LOST_CODES | DAMAGED_CODES
            and self.quantity < 0
        )

    def movement_reason(self) -> MovementReason | None:
        """How this row changes the FBA warehouse's sellable stock (None: it does not)."""
        if not self.sellable or self.quantity == 0 or self.event_type in MOVED_ELSEWHERE:
            return None
        if self.event_type == "Adjustments":
            return ADJUSTMENT_REASONS[self.reason]
        if self.event_type == "WhseTransfers":
            return MovementReason.TRANSFER_IN if self.quantity > 0 else MovementReason.TRANSFER_OUT
        if self.event_type == "VendorReturns":
            return MovementReason.REMOVAL
        return MovementReason.SHIPMENT


# What a ledger row is read as, in one step (ReportRow.pick); the first nine make its identity.
LEDGER_COLUMNS = (
    "Date and Time",
    "Date",
    "FNSKU",
    "MSKU",
    "Event Type",
    "Reference ID",
    "Fulfillment Center",
    "Disposition",
    "Reason",
    "Quantity",
    "Country",
    "Reconciled Quantity",
    "Unreconciled Quantity",
)


def _identity(values: tuple[str, ...]) -> str:
    """The row's date and time as written, then a digest of its identifying columns. The date leads so
    that a file's rows (in date order) go into the identity index side by side: a bare digest put each
    row on a random page of an index of millions, and every batch rewrote thousands of its pages. With
    the time in front, the digest only tells apart rows of the same second: 96 bits is plenty."""
    at, day, fnsku, sku, event_type, reference, centre, disposition, reason, quantity = values[:10]
    when = (at or day).replace("|", "/")  # "|" separates the parts of a row key
    parts = (when, fnsku, sku, event_type, reference, centre, disposition, reason, quantity)
    digest = hashlib.sha1("|".join(parts).encode("utf-8"), usedforsecurity=False).digest()
    return f"{when[:IDENTITY_TIME]}|{urlsafe_b64encode(digest[:12]).decode('ascii')}"


def _key_identity(key: str) -> tuple[str, tuple[str, str] | None]:
    """A row key's entry identity and, for an adjustment, the reconciliation columns it carries."""
    if key.count("|") < 3:  # not an adjustment's: the key is the identity
        return key, None
    when, digest, reconciled, unreconciled = key.split("|", 3)
    return f"{when}|{digest}", (reconciled, unreconciled)


def parse_ledger_row(row: ReportRow, identity: str | None = None) -> LedgerRow:
    """A ledger row, or RowError naming the column and value that is wrong."""
    values = row.pick(LEDGER_COLUMNS)
    (
        _at,
        _day,
        fnsku,
        sku,
        event_type,
        reference,
        centre,
        disposition,
        reason,
        quantity,
        country,
        reconciled,
        unreconciled,
    ) = values
    if not event_type:
        raise RowError("Event Type is empty")
    if event_type not in EVENT_TYPES:
        raise RowError(
            f"Event Type: unknown event type {event_type!r} (expected one of {sorted(EVENT_TYPES)})"
        )
    if event_type == "Adjustments" and reason not in ADJUSTMENT_REASONS:
        raise RowError(f"Reason: unknown adjustment reason code {reason!r} (SPAPI.md §8.3)")
    happened_at = row.moment("Date and Time", "Date")
    if not sku:
        raise RowError("MSKU is empty")
    whole = whole_number("Quantity", quantity)
    for name, value in (("Fulfillment Center", centre), ("Disposition", disposition), ("Country", country)):
        if not value:
            raise RowError(f"{name} is empty")
    return LedgerRow(
        identity=_identity(values) if identity is None else identity,
        happened_at=happened_at,
        sku=sku,
        fnsku=fnsku,
        event_type=event_type,
        reference_id=reference,
        quantity=whole,
        fulfillment_center=centre,
        disposition=disposition,
        reason=reason,
        country=country.upper(),
        reconciled=whole_number("Reconciled Quantity", reconciled, 0),
        unreconciled=whole_number("Unreconciled Quantity", unreconciled, 0),
    )


class LedgerEntry(Base):
    """One ledger row as booked: the FBA sub-ledger per centre, and the claims' source."""

    __tablename__ = "fba_ledger_entries"
    # Each index costs every one of a million-row ledger's inserts: the identity (booked once), the
    # reference (an order's or shipment's rows) and the claims' look-up; no index per SKU or date.
    __table_args__ = (
        UniqueConstraint("account_id", "identity"),
        Index("ix_fba_ledger_entries_claims", "account_id", "event_type", "happened_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("amazon_seller_accounts.id", ondelete="CASCADE"))
    identity: Mapped[str] = mapped_column(String(60))  # date and time as written | digest
    happened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sku: Mapped[str] = mapped_column(String(100))
    fnsku: Mapped[str] = mapped_column(String(20))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    fulfillment_center: Mapped[str] = mapped_column(String(20))
    event_type: Mapped[str] = mapped_column(String(30))
    reference_id: Mapped[str] = mapped_column(String(100), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    disposition: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(String(10))
    country: Mapped[str] = mapped_column(String(5))
    reconciled: Mapped[int] = mapped_column(Integer)
    unreconciled: Mapped[int] = mapped_column(Integer)
    movement: Mapped[str | None] = mapped_column(String(20))  # the MovementReason booked, if any
    report_id: Mapped[int | None] = mapped_column(Integer)  # AmazonReport.id and line: the row's source
    line: Mapped[int | None] = mapped_column(Integer)


class Replacement(Base):
    """A replacement Amazon shipped (GET_FBA_FULFILLMENT_CUSTOMER_SHIPMENT_REPLACEMENT_DATA, §8.4)."""

    __tablename__ = "fba_replacements"
    __table_args__ = (UniqueConstraint("account_id", "replacement_order_id", "sku"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("amazon_seller_accounts.id", ondelete="CASCADE"))
    replacement_order_id: Mapped[str] = mapped_column(String(40), index=True)
    original_order_id: Mapped[str] = mapped_column(String(40))
    sku: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(Integer)
    reason_code: Mapped[str] = mapped_column(String(10))
    shipped_at: Mapped[datetime] = mapped_column(UtcDateTime())


ENTRIES = Table("fba_ledger_entries", Base.metadata)


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
    placed = _places(session, cache, {row.country for _, row in fresh})
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
        from orderbridge.amazon.fba_opening import settle_opening_receipts

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
        known = _known(session, account_id, [row.identity for _, row in rows])
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
        from orderbridge.amazon.fba_opening import opening_cutoff  # fba_opening builds on this module

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


def _known(session: Session, account_id: int, identities: list[str]) -> dict[str, tuple[int, int, int]]:
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


def _places(session: Session, cache: dict[str, Any], countries: set[str]) -> dict[str, Place]:
    placed: dict[str, Place] = cache.setdefault("places", {})
    missing = countries - placed.keys()
    if missing:
        channels = channels_by_country(session)
        for country in missing:
            channel = channels.get(country)
            if channel is not None:
                warehouse = places(session, channel.marketplace_id or "").fba_warehouse
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
        if order.shipped_at is None and all(
            r.shipped >= r.quantity for r in order.rows if r.kind == RowKind.PRODUCT
        ):
            order.shipped_at = max(
                (row.happened_at for row, _, _ in shipped if row.reference_id == order.external_ref)
            )


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


class LedgerHandler(ReportHandler):
    report_type = LEDGER
    required = ("Date", "MSKU", "Event Type", "Quantity", "Fulfillment Center", "Disposition", "Country")
    # Near-real-time FBA report: regenerated at most every 30 minutes (SPAPI.md §7). The first window
    # reaches as far back as the inbound poll's (90 days), so every shipment it sees has its receipts
    # here: those before the opening balance are in Amazon's count (fba_opening.py).
    policy = WindowPolicy(
        every=timedelta(hours=1), first_lookback=timedelta(days=90), max_span=timedelta(days=31)
    )
    looked_up = ("fba_ledger_entries",)
    keeps_booked_rows = True  # each entry holds its identity, report and line

    def row_key(self, row: ReportRow, context: ReportContext) -> str:
        # An adjustment's key carries the reconciliation columns, so a re-download in which Amazon
        # reconciled a row reaches `book`, which updates the entry and moves nothing.
        values = row.pick(LEDGER_COLUMNS)
        key = _identity(values)
        if values[4] == "Adjustments":
            key += f"|{values[11]}|{values[12]}"
        return key

    def booked_keys(self, session: Session, context: ReportContext, keys: Sequence[str]) -> set[str]:
        wanted = {key: _key_identity(key) for key in keys}
        entries = _known(session, context.account_id, list({identity for identity, _ in wanted.values()}))
        context.scratch[KNOWN_ENTRIES] = entries  # `book` of this batch reuses the look-up
        booked = set()
        for key, (identity, reconciliation) in wanted.items():
            entry = entries.get(identity)
            if entry is not None and (reconciliation is None or _same(reconciliation, entry[1:])):
                booked.add(key)
        return booked

    def parse(self, row: ReportRow, context: ReportContext) -> LedgerRow:
        return parse_ledger_row(row, identity="")  # `book` takes it from the row key, computed once

    def book(self, session: Session, context: ReportContext, rows: Sequence[ParsedRow]) -> Mapping[int, str]:
        pairs = []
        for parsed in rows:
            parsed.value.identity = _key_identity(parsed.key)[0]
            pairs.append((parsed.row.line, parsed.value))
        return book_ledger_rows(
            session,
            context.account_id,
            pairs,
            report_pk=context.report_pk,
            cache=context.scratch,
            known=context.scratch.pop(KNOWN_ENTRIES, None),
        )


KNOWN_ENTRIES = "ledger entries of the batch"


def _same(reconciliation: tuple[str, str], stored: tuple[int, int]) -> bool:
    """Whether a row's Reconciled / Unreconciled columns (as written) equal an entry's."""
    try:
        return (whole_number("", reconciliation[0], 0), whole_number("", reconciliation[1], 0)) == stored
    except RowError:
        return False  # not a number: `parse` quarantines the row, naming the column


class ReplacementsHandler(ReportHandler):
    report_type = REPLACEMENTS
    required = ("shipment-date", "sku", "quantity", "replacement-amazon-order-id", "original-amazon-order-id")
    policy = WindowPolicy(
        every=timedelta(hours=6), first_lookback=timedelta(days=30), max_span=timedelta(days=31)
    )

    def row_key(self, row: ReportRow, context: ReportContext) -> str:
        return f"{row['replacement-amazon-order-id']}|{row['sku']}"

    def parse(self, row: ReportRow, context: ReportContext) -> dict[str, Any]:
        quantity = row.integer("quantity")
        if quantity <= 0:
            raise RowError(f"quantity: {quantity} is not a positive number of units")
        return {
            "replacement_order_id": row.required("replacement-amazon-order-id"),
            "original_order_id": row.required("original-amazon-order-id"),
            "sku": row.required("sku"),
            "quantity": quantity,
            "reason_code": row["replacement-reason-code"],
            "shipped_at": row.moment("shipment-date"),
        }

    def book(self, session: Session, context: ReportContext, rows: Sequence[ParsedRow]) -> Mapping[int, str]:
        book_replacements(session, context.account_id, [parsed.value for parsed in rows])
        return {}


register_report_handler(LedgerHandler())
register_report_handler(ReplacementsHandler())
