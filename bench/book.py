"""Benchmark: book 10,000 orders (3 product rows each, allocated, new and existing contacts).

Prints orders/s on SQLite and PostgreSQL beside a bare bulk insert of the same rows (the store's
ceiling) and the ratio. Run: `make bench` or `.venv/bin/python bench/book.py [--orders N]`.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from orderbridge import db_admin
from orderbridge.book.address import Address
from orderbridge.book.catalog import save_product
from orderbridge.book.channels import ChannelKind, save_channel
from orderbridge.book.contacts import Contact, NewContact, create_contact
from orderbridge.book.inventory import MovementReason, StockLevel, add_warehouse, move_stock
from orderbridge.book.orders.booking import book_orders
from orderbridge.book.orders.commands import NewOrder, NewRow
from orderbridge.book.orders.model import OrderRow, RowKind, SalesOrder
from orderbridge.book.orders.statuses import ensure_default_statuses, status_by_name
from orderbridge.book.tax import add_nominal_code, add_tax_code
from orderbridge.db import make_engine

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
START = datetime(2026, 11, 1, tzinfo=UTC)
PRODUCTS = 300
PAGE = 100  # orders per transaction: one SP-API page


@dataclass
class Setup:
    channel_id: int
    status_id: int
    warehouse_id: int
    product_ids: list[int]
    contact_ids: list[int]


def fresh_store(kind: str, workdir: Path, name: str) -> Engine:
    if kind == "sqlite":
        url = f"sqlite:///{workdir / name}.db"
    else:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    engine = make_engine(url)
    db_admin.upgrade(engine)
    return engine


def prepare(engine: Engine, existing_contacts: int) -> Setup:
    with Session(engine) as session, session.begin():
        ensure_default_statuses(session)
        add_tax_code(session, "T20", "Standard", Decimal("0.20"))
        add_nominal_code(session, "4000", "Sales")
        channel = save_channel(session, "amazon-uk", "Amazon UK", ChannelKind.AMAZON, "A1F83G8C2ARO7P")
        warehouse = add_warehouse(session, "MAIN", "Main")
        products = [
            save_product(session, f"SKU-{n:04d}", f"Product {n}", sales_nominal_code="4000")
            for n in range(PRODUCTS)
        ]
        session.flush()
        for product in products:
            move_stock(
                session,
                product,
                warehouse,
                1000,
                reason=MovementReason.OPENING,
                reference="opening",
                now=START,
            )
        contacts = [
            create_contact(
                session, NewContact(first_name=f"Buyer{n}", email=f"b{n}@marketplace.amazon.co.uk"), now=START
            )
            for n in range(existing_contacts)
        ]
        session.flush()
        return Setup(
            channel.id,
            status_by_name(session, "New order").id,
            warehouse.id,
            [p.id for p in products],
            [c.id for c in contacts],
        )


def new_order(setup: Setup, n: int, contact_id: int) -> NewOrder:
    rows = tuple(
        NewRow(
            kind=RowKind.PRODUCT,
            name=f"Product {k}",
            product_id=setup.product_ids[(n * 3 + k) % PRODUCTS],
            quantity=1 + k % 2,
            net=Decimal("9.99") * (1 + k % 2),
            tax=Decimal("2.00") * (1 + k % 2),
            tax_code="T20",
            nominal_code="4000",
        )
        for k in range(3)
    )
    return NewOrder(
        channel_id=setup.channel_id,
        external_ref=f"202-{n:07d}-0000000",
        contact_id=contact_id,
        status_id=setup.status_id,
        currency="GBP",
        placed_at=START + timedelta(seconds=n),
        rows=rows,
        warehouse_id=setup.warehouse_id,
        delivery=Address(name=f"Buyer {n}", line1=f"{n} High Street", postcode="SW1A 1AA", country="GB"),
    )


def book_pages(engine: Engine, setup: Setup, count: int) -> float:
    """Book `count` orders through the book's own code, one transaction per page of 100."""
    started = time.perf_counter()
    for page_start in range(0, count, PAGE):
        with Session(engine) as session, session.begin():
            page = []
            for n in range(page_start, min(page_start + PAGE, count)):
                if n % 2:  # half the orders come from existing contacts, half from new buyers
                    page.append((new_order(setup, n, setup.contact_ids[n % len(setup.contact_ids)]), None))
                else:
                    contact = create_contact(
                        session, NewContact(first_name=f"New{n}", email=f"n{n}@example.com"), now=START
                    )
                    page.append((new_order(setup, n, 0), contact))
            book_orders(session, page, now=START)
    return time.perf_counter() - started


def bulk_insert(engine: Engine, setup: Setup, count: int) -> float:
    """The ceiling: the same contacts, orders, rows and stock-level updates, written by Core executemany
    in the same pages, with none of the book's look-ups, rules or checks."""
    started = time.perf_counter()
    for page_start in range(0, count, PAGE):
        numbers = range(page_start, min(page_start + PAGE, count))
        with engine.begin() as connection:
            new_contacts = [n for n in numbers if not n % 2]
            contact_rows = [
                {"first_name": f"New{n}", "email": f"n{n}@example.com", "created_at": START}
                for n in new_contacts
            ]
            ids = (
                connection.execute(insert(Contact).returning(Contact.id), contact_rows).scalars().all()
                if contact_rows
                else []
            )
            contact_of = dict(zip(new_contacts, ids, strict=True))
            orders = [
                {
                    "channel_id": setup.channel_id,
                    "external_ref": f"B-{n:07d}",
                    "contact_id": contact_of.get(n) or setup.contact_ids[n % len(setup.contact_ids)],
                    "status_id": setup.status_id,
                    "payment_status": "unpaid",
                    "fulfilment": "seller",
                    "currency": "GBP",
                    "warehouse_id": setup.warehouse_id,
                    "placed_at": START,
                    "created_at": START,
                    "updated_at": START,
                    "total_net": Decimal("39.96"),
                    "total_tax": Decimal("8.00"),
                    "total_gross": Decimal("47.96"),
                    "withheld_tax": Decimal(0),
                    "amount_paid": Decimal(0),
                    "delivery_name": f"Buyer {n}",
                    "delivery_line1": f"{n} High Street",
                    "delivery_postcode": "SW1A 1AA",
                    "delivery_postcode_district": "SW1A",
                    "delivery_country": "GB",
                }
                for n in numbers
            ]
            order_ids = (
                connection.execute(insert(SalesOrder).returning(SalesOrder.id), orders).scalars().all()
            )
            rows = [
                {
                    "order_id": order_id,
                    "position": k,
                    "kind": "product",
                    "product_id": setup.product_ids[(order_id * 3 + k) % PRODUCTS],
                    "sku": f"SKU-{k:04d}",
                    "name": f"Product {k}",
                    "quantity": 1,
                    "cancelled_quantity": 0,
                    "net": Decimal("9.99"),
                    "tax": Decimal("2.00"),
                    "allocated": 1,
                    "shipped": 0,
                }
                for order_id in order_ids
                for k in range(3)
            ]
            connection.execute(insert(OrderRow), rows)
            touched = {row["product_id"] for row in rows}
            connection.execute(
                update(StockLevel)
                .where(
                    StockLevel.product_id == bindparam("pid"), StockLevel.warehouse_id == setup.warehouse_id
                )
                .values(allocated=StockLevel.allocated + 1),
                [{"pid": pid} for pid in touched],
            )
    return time.perf_counter() - started


def run(kind: str, count: int, workdir: Path) -> tuple[float, float]:
    engine = fresh_store(kind, workdir, "ob_bench_book")
    setup = prepare(engine, existing_contacts=count // 4)
    booked = book_pages(engine, setup, count)
    with Session(engine) as session:
        assert session.scalar(select(SalesOrder.id).order_by(SalesOrder.id.desc()).limit(1)) is not None
    ceiling_engine = fresh_store(kind, workdir, "ob_bench_ceiling")
    ceiling_setup = prepare(ceiling_engine, existing_contacts=count // 4)
    bulk = bulk_insert(ceiling_engine, ceiling_setup, count)
    engine.dispose()
    ceiling_engine.dispose()
    return count / booked, count / bulk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    args = parser.parse_args()
    table = Table(
        "store",
        "orderbridge orders/s",
        "bare bulk insert orders/s",
        "ratio",
        title=f"Booking {args.orders:,} orders",
    )
    with tempfile.TemporaryDirectory() as tmp:
        for kind in args.stores.split(","):
            booked, ceiling = run(kind, args.orders, Path(tmp))
            table.add_row(kind, f"{booked:,.0f}", f"{ceiling:,.0f}", f"{booked / ceiling:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
