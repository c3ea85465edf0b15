"""The FBA opening balance: the stock a seller already has at Amazon when orderbridge connects.

The inventory ledger tells changes, not counts; a book that starts from the first ledger window assumes
FBA started empty. The opening takes Amazon's own count instead: the Inventory Ledger summary view
(`GET_LEDGER_SUMMARY_VIEW_DATA`, SPAPI.md §8.3) by fulfilment centre and day, whose *Ending Warehouse
Balance* of the last full day is the sellable count per SKU and centre at the end of that day, the
**cutoff**. The book is then *set* to that count:

- per SKU and centre, an `OpeningBalance` entry in the ledger sub-ledger for the difference between
  Amazon's count and what the sub-ledger held before the cutoff;
- per product and FBA warehouse, one movement of reason `opening` for the difference between the count
  (summed over the centres of the warehouse's marketplaces) and the movements dated before the cutoff,
  referencing the summary report(s).

Everything dated before the cutoff is inside Amazon's count, so it never moves stock again: ledger rows
dated before it are kept (claims, orders shipped) but move nothing (`before_opening`), FBA returns
processed before it are credited without restocking, and units an inbound shipment delivered before it
(ledger `Receipts` before the cutoff) are taken back out of what its transfer releases afterwards.
Rows after the cutoff apply on top as usual. Taking the same report twice changes nothing; a later
opening (a new count) sets the book again from its own cutoff.

Days are UTC days here; whether Amazon's summary ends its day at UTC or marketplace midnight is
UNCONFIRMED (SPAPI.md §8.3 does not say), so rows within hours of the cutoff are the ones to check.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.fba.before_opening import JUST_BEFORE, settle_opening_receipts
from orderbridge.amazon.fba.places import channels_by_country, places, products_for
from orderbridge.amazon.fba.records import BEFORE_OPENING, FbaOpening, LedgerEntry
from orderbridge.amazon.fba_warehouses import account_warehouse_ids
from orderbridge.amazon.marketplaces import by_id
from orderbridge.amazon.reports.locales import ReportLocale, locale_for
from orderbridge.amazon.reports.rows import ReportFileError, RowError, read_rows
from orderbridge.book.catalog import Product
from orderbridge.book.inventory import MovementReason, StockMovement, Warehouse, move_stock
from orderbridge.clock import Clock
from orderbridge.errors import OrderbridgeError

SUMMARY = "GET_LEDGER_SUMMARY_VIEW_DATA"
# SPAPI.md §8.3: reportOptions of the summary view; by centre, one row per SKU, disposition and day.
SUMMARY_OPTIONS = {"aggregateByLocation": "FC", "aggregatedByTimePeriod": "DAILY"}
SUMMARY_REQUIRED = ("Date", "MSKU", "Disposition", "Ending Warehouse Balance", "Location")
OPENING_EVENT = "OpeningBalance"  # the sub-ledger entries an opening writes (not an Amazon event type)


class OpeningError(OrderbridgeError):
    """The opening cannot be taken (no count from Amazon, no FBA warehouse set); the message says why."""


@dataclass(frozen=True)
class Balance:
    """Amazon's sellable count of one SKU at one centre at the end of `day`."""

    country: str
    sku: str
    fnsku: str
    centre: str
    units: int
    day: datetime


@dataclass
class OpeningLine:
    country: str
    sku: str
    centre: str
    amazon: int
    book: int

    @property
    def change(self) -> int:
        return self.amazon - self.book


@dataclass
class OpeningResult:
    cutoff: datetime
    reports: str
    lines: list[OpeningLine] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    already: bool = False  # this count was taken before: nothing changed
    dry_run: bool = False

    @property
    def units(self) -> int:
        return sum(line.amazon for line in self.lines)

    def line(self) -> str:
        if self.already:
            return f"FBA opening balance from {self.reports} was taken already: nothing changed"
        verb = "would set" if self.dry_run else "set"
        changed = sum(1 for line in self.lines if line.change)
        text = (
            f"FBA opening balance {verb} {self.units} units over {len(self.lines)} SKU/centre pairs "
            f"({changed} changed) as counted by Amazon at {self.cutoff.isoformat()}"
        )
        if self.refused:
            text += f"; {len(self.refused)} refused: " + "; ".join(self.refused[:3])
        return text


def parse_summary(text: str, *, locale: ReportLocale, country: str) -> list[Balance]:
    """The sellable balance per SKU and centre on the file's last day (earlier days are left out)."""
    header, rows = read_rows(io.StringIO(text), locale=locale, required=SUMMARY_REQUIRED, what=SUMMARY)
    del header
    latest: dict[tuple[str, str], Balance] = {}
    for row in rows:
        if row["Disposition"].upper() != "SELLABLE":
            continue
        try:
            balance = Balance(
                country=country,
                sku=row.required("MSKU"),
                fnsku=row["FNSKU"],
                centre=row.required("Location"),
                units=row.integer("Ending Warehouse Balance"),
                day=row.moment("Date"),
            )
        except RowError as error:
            raise ReportFileError(f"{SUMMARY}: line {row.line}: {error}") from None
        key = (balance.sku, balance.centre)
        if key not in latest or latest[key].day <= balance.day:
            latest[key] = balance
    if not latest:
        return []
    last_day = max(balance.day for balance in latest.values())
    # A SKU and centre missing from the last day has no sellable units left there.
    return [b if b.day == last_day else _zero(b, last_day) for b in latest.values()]


def _zero(balance: Balance, day: datetime) -> Balance:
    return Balance(balance.country, balance.sku, balance.fnsku, balance.centre, 0, day)


def take_opening(
    session: Session,
    account_id: int,
    balances: Sequence[Balance],
    *,
    countries: Iterable[str],
    cutoff: datetime,
    reports: str,
    now: datetime,
    dry_run: bool = False,
) -> OpeningResult:
    """Set the account's FBA stock in the book to Amazon's count at `cutoff` (see the module text)."""
    result = OpeningResult(cutoff=cutoff, reports=reports, dry_run=dry_run)
    done = session.scalar(
        select(FbaOpening.id).where(
            FbaOpening.account_id == account_id, FbaOpening.reports == reports, FbaOpening.cutoff == cutoff
        )
    )
    if done is not None:
        result.already = True
        return result
    wanted = sorted({c.upper() for c in countries})
    channels = channels_by_country(session)
    at = cutoff - JUST_BEFORE
    book_before = _sub_ledger_before(session, account_id, wanted, cutoff)
    counted = {(b.country, b.sku, b.centre): b for b in balances}
    warehouse_targets: dict[tuple[int, int], int] = {}
    entries: list[LedgerEntry] = []
    resolved: dict[str, tuple[Warehouse, dict[str, Product]]] = {}
    for country in wanted:
        channel = channels.get(country)
        warehouse = (
            places(session, channel.marketplace_id or "", account_id).fba_warehouse if channel else None
        )
        skus = {sku for (c, sku, _) in counted if c == country} | {
            sku for (c, sku, _) in book_before if c == country
        }
        if channel is None or warehouse is None:
            if skus:
                result.refused.append(f"country {country}: no Amazon channel with an fba_warehouse setting")
                if not dry_run:  # a count the book cannot hold is not taken: the next sync tries again
                    raise OpeningError(
                        f"country {country} has FBA stock at Amazon but no Amazon channel with an "
                        "fba_warehouse setting (orderbridge channels set CODE fba_warehouse=...)"
                    )
            continue
        resolved[country] = (warehouse, products_for(session, channel.id, skus))
    for key in sorted(set(counted) | set(book_before)):
        country, sku, centre = key
        if country not in resolved:
            continue
        warehouse, products = resolved[country]
        product = products.get(sku)
        amazon = counted[key].units if key in counted else 0
        if product is None:
            if amazon:
                result.refused.append(f"MSKU {sku!r}: no stock-tracked product in the book ({amazon} units)")
            continue
        line = OpeningLine(country, sku, centre, amazon, book_before.get(key, 0))
        result.lines.append(line)
        target = (warehouse.id, product.id)
        warehouse_targets[target] = warehouse_targets.get(target, 0) + amazon
        if line.change:
            fnsku = counted[key].fnsku if key in counted else ""
            entries.append(
                LedgerEntry(
                    account_id=account_id, identity=_identity(reports, country, sku, centre), happened_at=at,
                    sku=sku, fnsku=fnsku, product_id=product.id, warehouse_id=warehouse.id,
                    fulfillment_center=centre, event_type=OPENING_EVENT, reference_id=reports[:100],
                    quantity=line.change, disposition="Sellable", reason="", country=country, reconciled=0,
                    unreconciled=0, movement=str(MovementReason.OPENING),
                )
            )  # fmt: skip
    if dry_run:
        return result
    session.add_all(entries)
    opening = FbaOpening(
        account_id=account_id, cutoff=cutoff, reports=reports, units=result.units, taken_at=now
    )
    session.add(opening)
    session.flush()
    _set_warehouses(session, opening, _with_others_stock(session, account_id, warehouse_targets, cutoff), at)
    settle_opening_receipts(session, account_id)
    return result


@dataclass
class Targets:
    """What the opening sets: units per (warehouse, product), and the warehouses holding this account's
    FBA stock alone, where a product the count left out has none left at Amazon."""

    units: dict[tuple[int, int], int]
    alone: set[int]


def _with_others_stock(
    session: Session, account_id: int, targets: dict[tuple[int, int], int], cutoff: datetime
) -> Targets:
    """The account's count per (warehouse, product), plus in a warehouse the seller shares between
    accounts what the other accounts' sub-ledgers hold there before the cutoff: their stock stays."""
    warehouses = {w for w, _ in targets}
    shared = {w for w in warehouses if account_warehouse_ids(session, w) - {account_id}}
    others = _others_before(session, account_id, shared, cutoff) if shared else {}
    units = {key: count + others.get(key, 0) for key, count in targets.items()}
    return Targets(units, warehouses - shared)


def _others_before(
    session: Session, account_id: int, warehouse_ids: set[int], cutoff: datetime
) -> dict[tuple[int, int], int]:
    """(warehouse, product) -> sellable units other accounts' sub-ledgers hold there before `cutoff`."""
    query = (
        select(LedgerEntry.warehouse_id, LedgerEntry.product_id, func.sum(LedgerEntry.quantity))
        .where(
            LedgerEntry.account_id != account_id,
            LedgerEntry.warehouse_id.in_(warehouse_ids),
            LedgerEntry.product_id.is_not(None),
            LedgerEntry.happened_at < cutoff,
            func.lower(LedgerEntry.disposition) == "sellable",
            or_(LedgerEntry.movement.is_(None), LedgerEntry.movement != BEFORE_OPENING),
        )
        .group_by(LedgerEntry.warehouse_id, LedgerEntry.product_id)
    )
    return {(w, p): int(total) for w, p, total in session.execute(query) if w is not None and p is not None}


def _set_warehouses(session: Session, opening: FbaOpening, targets: Targets, at: datetime) -> None:
    """Per FBA warehouse and product, one movement setting the stock dated before the cutoff to the count.
    Only in a warehouse that holds this account's stock alone does a product the count left out go to 0."""
    cutoff, reports = opening.cutoff, opening.reports
    warehouse_targets = dict(targets.units)
    warehouses = {w.id: w for w in session.scalars(select(Warehouse))}
    before = _movements_before(session, {w for w, _ in warehouse_targets}, cutoff)
    for (warehouse_id, product_id), _units in before.items():
        if warehouse_id in targets.alone:
            warehouse_targets.setdefault((warehouse_id, product_id), 0)
    for (warehouse_id, product_id), units in sorted(warehouse_targets.items()):
        change = units - before.get((warehouse_id, product_id), 0)
        product = session.get(Product, product_id)
        if change and product is not None and product.stock_tracked:
            move_stock(
                session, product, warehouses[warehouse_id], change, reason=MovementReason.OPENING,
                reference=f"fba-opening:{opening.id}", now=at,
                note=f"opening balance: Amazon's count at {cutoff.isoformat()} ({SUMMARY} {reports})"[:500],
            )  # fmt: skip


def _identity(reports: str, country: str, sku: str, centre: str) -> str:
    text = f"opening|{reports}|{country}|{sku}|{centre}"
    return hashlib.sha1(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def _sub_ledger_before(
    session: Session, account_id: int, countries: list[str], cutoff: datetime
) -> dict[tuple[str, str, str], int]:
    """(country, SKU, centre) -> sellable units the sub-ledger holds from entries dated before `cutoff`."""
    query = (
        select(
            LedgerEntry.country,
            LedgerEntry.sku,
            LedgerEntry.fulfillment_center,
            func.sum(LedgerEntry.quantity),
        )
        .where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.country.in_(countries),
            LedgerEntry.happened_at < cutoff,
            func.lower(LedgerEntry.disposition) == "sellable",
            or_(LedgerEntry.movement.is_(None), LedgerEntry.movement != BEFORE_OPENING),
        )
        .group_by(LedgerEntry.country, LedgerEntry.sku, LedgerEntry.fulfillment_center)
    )
    return {(country, sku, fc): int(total) for country, sku, fc, total in session.execute(query) if total}


def _movements_before(
    session: Session, warehouse_ids: set[int], cutoff: datetime
) -> dict[tuple[int, int], int]:
    if not warehouse_ids:
        return {}
    query = (
        select(StockMovement.warehouse_id, StockMovement.product_id, func.sum(StockMovement.quantity))
        .where(StockMovement.warehouse_id.in_(warehouse_ids), StockMovement.moved_at < cutoff)
        .group_by(StockMovement.warehouse_id, StockMovement.product_id)
    )
    return {(w, p): int(total) for w, p, total in session.execute(query) if total}


def summary_window(now: datetime) -> tuple[datetime, datetime]:
    """The last full UTC day before `now`: the day whose ending balance is the count (and the cutoff)."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=1), today


def fetch_opening(
    sessions: sessionmaker[Session],
    client: SpApiClient,
    *,
    account_id: int,
    clock: Clock,
    dry_run: bool = False,
    poll: float = 30.0,
) -> OpeningResult:
    """Request the summary view per marketplace for the last full day and take the opening from it."""
    with sessions() as session:
        account = session.get(SellerAccount, account_id)
        if account is None:
            raise OpeningError(f"no Amazon account with id {account_id}")
        markets = list(account.marketplace_ids)
    start, cutoff = summary_window(clock())
    balances: list[Balance] = []
    report_ids: list[str] = []
    countries: list[str] = []
    for marketplace_id in markets:
        market = by_id(marketplace_id)
        if market is None:
            continue
        country = market.country  # the ledger's Country column: ISO codes, GB where the code is UK
        countries.append(country)
        report_id = client.create_report(
            SUMMARY, [marketplace_id], start=start, end=cutoff - timedelta(seconds=1), options=SUMMARY_OPTIONS
        )
        report = client.wait_for_report(report_id, poll=poll)
        report_ids.append(report_id)
        if report.processing_status == "CANCELLED":
            continue  # SPAPI.md §7: no data, i.e. no FBA stock in that marketplace
        if report.processing_status != "DONE" or not report.report_document_id:
            raise OpeningError(f"{SUMMARY} {report_id} for {country}: {report.processing_status} at Amazon")
        locale = locale_for(marketplace_id)
        document = client.download_report(report.report_document_id)
        balances += parse_summary(document.text(locale.charset), locale=locale, country=country)
    with sessions.begin() as session:
        return take_opening(
            session, account_id, balances, countries=countries, cutoff=cutoff,
            reports=",".join(report_ids), now=clock(), dry_run=dry_run,
        )  # fmt: skip
