"""Benchmark: a 1,000,000-row settlement and a 1,000,000-row inventory ledger, parsed and booked.

Each file is generated, then booked through the report machinery (`import_report_file`: stream, inbox,
handler, one transaction per batch) on SQLite and PostgreSQL, each run in its own process so that its
peak memory (max RSS) is its own. Beside each run: Python's `csv` module merely reading the same file
(the parsing ceiling) and the ratio. Goal (issue 6): >= 20,000 rows/s booked on SQLite and peak memory
under 200 MB whatever the size (run with `--rows 100000` and `--rows 1000000` to compare). Every order
in the settlement is unknown to the book, so its reconciliation lists 100,000 unknown orders per
million rows (the case that used to hold them all in memory).
Run: `.venv/bin/python bench/reports.py [--rows N] [--stores sqlite,postgresql]
[--reports settlement,ledger] [--no-gc-freeze]`; the defaults run all four (both reports on both stores)
at 1,000,000 rows, with the start-up heap frozen out of the garbage collector as the CLI runs.
"""

from __future__ import annotations

import argparse
import csv
import gc
import multiprocessing
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine

from orderbridge import db_admin
from orderbridge.amazon.accounts import NewAccount, add_account
from orderbridge.amazon.channel import change_settings, channel_for
from orderbridge.amazon.reports.booking import import_report_file
from orderbridge.amazon.reports.handlers import UnknownReportType, handler_for
from orderbridge.amazon.reports.settlements import SETTLEMENT_REPORT
from orderbridge.book.catalog import save_product
from orderbridge.book.inventory import WarehouseKind, add_warehouse, count_stock
from orderbridge.book.orders.statuses import ensure_default_statuses
from orderbridge.book.tax import add_nominal_code
from orderbridge.db import make_engine, session_factory
from orderbridge.privacy.keystore import open_keystore

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
LEDGER_REPORT = "GET_LEDGER_DETAIL_VIEW_DATA"
US = "ATVPDKIKX0DER"
START = datetime(2026, 1, 1, tzinfo=UTC)
SKUS = 200
SETTLEMENT_HEADER = [
    "settlement-id", "settlement-start-date", "settlement-end-date", "deposit-date", "total-amount",
    "currency", "transaction-type", "order-id", "merchant-order-id", "adjustment-id", "shipment-id",
    "marketplace-name", "amount-type", "amount-description", "amount", "fulfillment-id", "posted-date",
    "posted-date-time", "order-item-code", "merchant-order-item-id", "merchant-adjustment-item-id", "sku",
    "quantity-purchased",
]  # fmt: skip
LEDGER_HEADER = [
    "Date", "FNSKU", "ASIN", "MSKU", "Title", "Event Type", "Reference ID", "Quantity",
    "Fulfillment Center", "Disposition", "Reason", "Country", "Reconciled Quantity",
    "Unreconciled Quantity", "Date and Time", "Store",
]  # fmt: skip
COMPONENTS = [
    ("ItemPrice", "Principal", "19.99"),
    ("ItemPrice", "Shipping", "4.99"),
    ("ItemPrice", "Tax", "1.65"),
    ("ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", "-1.65"),
    ("ItemFees", "Commission", "-3.00"),
    ("ItemFees", "FBAPerUnitFulfillmentFee", "-3.22"),
    ("Promotion", "Principal", "-1.00"),
    ("ItemFees", "ShippingChargeback", "-4.99"),
    ("ItemFees", "ShippingHB", "0.50"),
    ("ItemFees", "GiftwrapChargeback", "0.00"),
]
LEDGER_EVENTS = [
    ("Shipments", "", "-1", "SELLABLE"),
    ("CustomerReturns", "", "1", "SELLABLE"),
    ("Adjustments", "M", "-1", "SELLABLE"),
    ("Adjustments", "F", "1", "SELLABLE"),
    ("Adjustments", "E", "-1", "SELLABLE"),
    ("Adjustments", "D", "-1", "SELLABLE"),
    ("Receipts", "", "5", "SELLABLE"),
]


def write_settlement(path: Path, rows: int) -> Decimal:
    """One settlement: the summary row and `rows - 1` amount rows (10 per order), streamed to disk."""
    total = Decimal(0)
    body_path = path.with_suffix(".body")
    with body_path.open("w", encoding="utf-8", newline="") as out:
        body: list[str] = []
        for n in range(rows - 1):
            amount_type, description, amount = COMPONENTS[n % len(COMPONENTS)]
            total += Decimal(amount)
            order = f"111-{n // 10:07d}-{n % 7919:07d}"
            posted = START + timedelta(seconds=n)
            body.append(
                f"9000001\t\t\t\t\t\tOrder\t{order}\t\t\tS{n // 10}\tAmazon.com\t{amount_type}\t"
                f"{description}\t{amount}\tAFN\t{posted:%m/%d/%Y}\t{posted.isoformat()}\tI{n}\t\t\t"
                f"SKU-{n % SKUS}\t1\n"
            )
            if len(body) >= 10000:
                out.writelines(body)
                body.clear()
        out.writelines(body)
    summary = (
        f"9000001\t{START.isoformat()}\t{(START + timedelta(days=14)).isoformat()}\t"
        f"{(START + timedelta(days=16)).isoformat()}\t{total}\tUSD" + "\t" * 17 + "\n"
    )
    with path.open("w", encoding="utf-8", newline="") as out, body_path.open(encoding="utf-8") as rest:
        out.write("\t".join(SETTLEMENT_HEADER) + "\n" + summary)
        shutil.copyfileobj(rest, out)
    body_path.unlink()
    return total


def write_ledger(path: Path, rows: int) -> None:
    rng = random.Random(6)
    with path.open("w", encoding="utf-8", newline="") as out:
        out.write("\t".join(LEDGER_HEADER) + "\n")
        body: list[str] = []
        for n in range(rows):
            event, reason, quantity, disposition = LEDGER_EVENTS[rng.randrange(len(LEDGER_EVENTS))]
            at = START + timedelta(seconds=n * 3)
            sku = n % SKUS
            reference = f"FBA{n // 50:08d}" if event == "Receipts" else f"{n:011d}"
            body.append(
                f"{at:%m/%d/%Y}\tX{sku:09d}\tB{sku:09d}\tSKU-{sku}\tItem {sku}\t{event}\t{reference}\t"
                f"{quantity}\tPHX7\t{disposition.title()}\t{reason}\tUS\t0\t0\t{at.isoformat()}\t\n"
            )
            if len(body) >= 10000:
                out.writelines(body)
                body.clear()
        out.writelines(body)


def fresh_store(kind: str, workdir: Path, name: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / name}.db"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def prepare(engine: Engine, workdir: Path) -> int:
    """A migrated book with one US account and channel, fees' nominal codes, the SKUs stocked at FBA."""
    db_admin.upgrade(engine)
    sessions = session_factory(engine)
    keys = open_keystore(workdir / "keys", key_file=workdir / "kek", environ={})
    with sessions.begin() as session:
        ensure_default_statuses(session)
        for code, name in (("4000", "Sales"), ("5100", "Amazon fees")):
            add_nominal_code(session, code, name)
        add_warehouse(session, "MAIN", "Main warehouse")
        fba = add_warehouse(session, "FBA", "Amazon FBA", WarehouseKind.FBA)
        session.flush()
        account = add_account(
            session,
            keys,
            NewAccount(
                selling_partner_id="A1BENCH",
                name="bench",
                region="NA",
                lwa_client_id="amzn1.application-oa2-client.bench",
                client_secret="secret",
                refresh_token="Atzr|bench",
                marketplaces=[US],
            ),
            clock=lambda: START,
        )
        change_settings(
            session,
            channel_for(session, US),
            {
                "fbm_warehouse": "MAIN",
                "fba_warehouse": "FBA",
                "sales_nominal_code": "4000",
                "fee_nominal_code": "5100",
            },
        )
        for sku in range(SKUS):
            product = save_product(session, f"SKU-{sku}", f"Item {sku}")
            session.flush()
            count_stock(session, product, fba, 1_000_000, reference=f"bench:{sku}", now=START)
        return account.id


@dataclass
class Figure:
    rows: int
    seconds: float
    peak_mb: float
    booked: int = 0
    quarantined: int = 0
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def cpu_rate(self) -> float:
        """Rows per second of this process's own CPU time (less sensitive to a shared machine)."""
        return self.rows / self.cpu_seconds if self.cpu_seconds else 0.0


def peak_mb() -> float:
    # ru_maxrss: kilobytes on Linux, bytes on macOS
    scale = 1024 * 1024 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale


def book_file(url: str, workdir: str, path: str, report_type: str, freeze: str = "yes") -> Figure:
    """In a fresh process: prepare the store, then book the file and report rate and peak memory.

    As `orderbridge` does on start (cli/app.py), what is imported by now is first frozen out of the
    garbage collector: `orderbridge reports import` and `orderbridge run` book with that heap
    (`--no-gc-freeze` books without it; the import pauses the collector per batch either way)."""
    if freeze == "yes":
        gc.collect()
        gc.freeze()
    engine = make_engine(url)
    account_id = prepare(engine, Path(workdir))
    started, cpu = time.perf_counter(), time.process_time()
    result = import_report_file(
        session_factory(engine),
        account_id=account_id,
        report_type=report_type,
        path=Path(path),
        clock=lambda: START + timedelta(days=20),
    )
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    engine.dispose()
    return Figure(result.read, seconds, peak_mb(), result.booked, result.quarantined, cpu)


def csv_read(path: str) -> Figure:
    """In a fresh process: the csv module reading every row and nothing else."""
    started, cpu = time.perf_counter(), time.process_time()
    rows = 0
    with open(path, encoding="utf-8", newline="") as text:
        reader = csv.reader(text, delimiter="\t", quoting=csv.QUOTE_NONE)
        next(reader)
        for _ in reader:
            rows += 1
    return Figure(rows, time.perf_counter() - started, peak_mb(), cpu_seconds=time.process_time() - cpu)


def in_child(function: object, *args: str) -> Figure:
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--reports", default="settlement,ledger", help="settlement, ledger or both")
    parser.add_argument(
        "--no-gc-freeze", action="store_true", help="book without the start-up heap frozen (unlike the CLI)"
    )
    args = parser.parse_args()
    console = Console(width=150)
    load = os.getloadavg()
    table = Table(
        "report", "store", "rows", "booked", "quarantined", "rows/s", "CPU rows/s", "peak MB", "csv rows/s",
        "csv CPU rows/s", "ratio", "CPU ratio",
        title=f"Reports parsed and booked ({args.rows:,} rows each; load average at start {load[0]:.1f})",
    )  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as folder:
        work = Path(folder)
        wanted = args.reports.split(",")
        files = {}
        if "settlement" in wanted:
            files[SETTLEMENT_REPORT] = work / "settlement.tsv"
            write_settlement(files[SETTLEMENT_REPORT], args.rows)
        if "ledger" in wanted:
            files[LEDGER_REPORT] = work / "ledger.tsv"
            write_ledger(files[LEDGER_REPORT], args.rows)
        for report_type, path in files.items():
            try:
                handler_for(report_type)
            except UnknownReportType:
                console.print(f"{report_type}: no handler registered yet; file generated, not booked")
                continue
            ceiling = in_child(csv_read, str(path))
            for store in args.stores.split(","):
                name = f"bench_reports_{store}_{report_type.lower()[:20]}"
                url = fresh_store(store, work, name)
                freeze = "no" if args.no_gc_freeze else "yes"
                figure = in_child(book_file, url, str(work), str(path), report_type, freeze)
                console.print(
                    f"{report_type} {store}: {figure.rows:,} rows, {figure.booked:,} booked, "
                    f"{figure.quarantined:,} quarantined, {figure.rate:,.0f} rows/s "
                    f"({figure.cpu_rate:,.0f} per CPU second), peak {figure.peak_mb:,.0f} MB; "
                    f"csv alone {ceiling.rate:,.0f} rows/s",
                    highlight=False,
                )
                table.add_row(
                    report_type.removeprefix("GET_")[:28],
                    store,
                    f"{figure.rows:,}",
                    f"{figure.booked:,}",
                    f"{figure.quarantined:,}",
                    f"{figure.rate:,.0f}",
                    f"{figure.cpu_rate:,.0f}",
                    f"{figure.peak_mb:,.0f}",
                    f"{ceiling.rate:,.0f}",
                    f"{ceiling.cpu_rate:,.0f}",
                    f"{figure.rate / ceiling.rate:.3f}" if ceiling.rate else "-",
                    f"{figure.cpu_rate / ceiling.cpu_rate:.3f}" if ceiling.cpu_rate else "-",
                )
    console.print(table)
    console.print(f"load average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
