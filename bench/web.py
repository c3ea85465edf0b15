"""Benchmark: the web pages with a million orders in the book, on SQLite and PostgreSQL.

Median and p95 latency (through the whole app: sign-in check, query, template) of the orders list's
first page, a deep page (keyset: half-way down a million orders), a filtered list (marketplace +
status + fulfilment), a SKU search, the order page and the dashboard. Goal: p95 under 150 ms each.
Beside the deep page: the same page read with OFFSET, the baseline keyset pagination replaces.

The book is generated once per store and kept in /tmp/orderbridge-bench-web between runs (`--fresh`
rebuilds it): a template of 50,000 orders booked through `book_orders` (pages of 1,000: allocation,
totals, rows as the book makes them), then copied in SQL, each copy under new ids and order ids and
a few minutes later, up to the count asked for (booking a million one page at a time takes an hour on
a loaded machine; the copies are the same rows).

Run: .venv/bin/python bench/web.py [--orders 1000000] [--stores sqlite,postgresql] [--repeat 40]
"""

from __future__ import annotations

import argparse
import random
import socket
import statistics
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI
from rich.console import Console
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import Table as SqlTable
from sqlalchemy import func, insert, literal, select, text
from sqlalchemy.orm import Session, sessionmaker

from orderbridge import db_admin
from orderbridge.book.catalog import save_product
from orderbridge.book.channels import ChannelKind, save_channel
from orderbridge.book.contacts import NewContact, create_contact
from orderbridge.book.inventory import MovementReason, WarehouseKind, add_warehouse, move_stock
from orderbridge.book.orders.booking import book_orders
from orderbridge.book.orders.commands import NewOrder, NewRow
from orderbridge.book.orders.model import Fulfilment, OrderRow, OrderStatus, RowKind, SalesOrder
from orderbridge.book.orders.statuses import ensure_default_statuses
from orderbridge.book.queries.orders import OrderFilter, list_orders, orders_per_day
from orderbridge.book.queries.paging import Direction, encode
from orderbridge.config import load_settings
from orderbridge.db import make_engine, session_factory
from orderbridge.privacy.keystore import open_keystore
from orderbridge.privacy.sealing import Privacy, enable
from orderbridge.web.app import create_app
from orderbridge.web.deps import SESSION_COOKIE
from orderbridge.web.passwords import add_user
from orderbridge.web.roles import Role
from orderbridge.web.signin import STAGE_FULL, SignInPolicy, open_session

HOME = Path("/tmp/orderbridge-bench-web")
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PG_NAME = "ob_bench_web"
NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SPAN = timedelta(days=730)
GOAL_MS = 150.0
CHANNELS = (("amazon-uk", "A1F83G8C2ARO7P"), ("amazon-de", "A1PA6795UKMFR9"), ("amazon-us", "ATVPDKIKX0DER"))
console = Console()


def store_url(kind: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{HOME / 'book.db'}"
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{PG_NAME}"


def _count(sessions: sessionmaker[Session]) -> int:
    try:
        with sessions() as session:
            return int(session.scalar(select(func.count()).select_from(SalesOrder)) or 0)
    except Exception:  # no schema yet
        return -1


def _fresh_store(kind: str) -> None:
    if kind == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{HOME / 'book.db'}{suffix}").unlink(missing_ok=True)
        return
    with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{PG_NAME}"')


def _seed(session: Session) -> tuple[list[int], dict[str, int], list[int], list[tuple[int, str]]]:
    ensure_default_statuses(session)
    made = [save_channel(session, code, code.upper(), ChannelKind.AMAZON, mid) for code, mid in CHANNELS]
    session.flush()
    channel_ids = [channel.id for channel in made]
    add_warehouse(session, "MAIN", "Main warehouse")
    fba = add_warehouse(session, "FBA-EU", "Amazon FBA Europe", WarehouseKind.FBA, region="EU")
    products = [save_product(session, f"SKU-{n:03d}", f"Product {n}") for n in range(60)]
    session.flush()
    for product in products[:30]:
        move_stock(
            session,
            product,
            fba,
            500,
            reason=MovementReason.RECEIPT,
            reference="bench:opening",
            now=NOW - timedelta(days=20),
        )
    contacts = [
        create_contact(session, NewContact(marketplace_id=CHANNELS[n % 3][1]), now=NOW) for n in range(2000)
    ]
    session.flush()
    statuses = {status.name: status.id for status in session.scalars(select(OrderStatus))}
    return (
        channel_ids,
        statuses,
        [c.id for c in contacts],
        [(p.id, p.sku) for p in products],
    )


def generate(sessions: sessionmaker[Session], count: int, *, page: int = 1000) -> None:
    """`count` orders over two years, three marketplaces, 1-3 rows each, through `book_orders`."""
    rng = random.Random(8)
    with sessions.begin() as session:
        channels, statuses, contacts, products = _seed(session)
    names = ["New order", "Ready to ship", "Shipped", "Shipped", "Shipped", "Cancelled", "New Prime order"]
    with Progress(console=console) as progress:
        task = progress.add_task("booking orders", total=count)
        for start in range(0, count, page):
            batch = []
            for n in range(start, min(start + page, count)):
                placed = NOW - SPAN * (1 - n / count) - timedelta(minutes=rng.randrange(0, 30))
                rows = tuple(
                    NewRow(
                        kind=RowKind.PRODUCT,
                        name=f"Product {sku}",
                        sku=sku,
                        product_id=product_id,
                        quantity=rng.randint(1, 3),
                        net=Decimal("12.50"),
                        tax=Decimal("2.50"),
                    )
                    for product_id, sku in rng.sample(products, rng.randint(1, 3))
                )
                batch.append(
                    (
                        NewOrder(
                            channel_id=channels[n % 3],
                            external_ref=f"{200 + n % 100}-{n:07d}-{rng.randrange(10**7):07d}",
                            contact_id=contacts[n % len(contacts)],
                            status_id=statuses[names[n % len(names)]],
                            currency="GBP",
                            placed_at=placed,
                            rows=rows,
                            fulfilment=Fulfilment.CHANNEL if n % 4 == 0 else Fulfilment.SELLER,
                            warehouse_id=None,
                        ),
                        None,
                    )
                )
            with sessions.begin() as session:
                book_orders(session, batch, now=NOW)
            progress.advance(task, len(batch))
    with sessions() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE"))
        else:
            session.execute(text("ANALYZE"))
        session.commit()


def _shifted(session: Session, column: object, minutes: int) -> object:
    if session.get_bind().dialect.name == "sqlite":
        # The stored text keeps its seconds and fraction; whole minutes never change them.
        return func.strftime("%Y-%m-%d %H:%M:", column, f"+{minutes} minutes").op("||")(
            func.substr(column, 18)
        )
    return column.op("+")(text(f"interval '{minutes} minutes'"))  # type: ignore[attr-defined]


def copy_orders(sessions: sessionmaker[Session], copies: int) -> None:
    """Copy every order and its rows `copies` times under new ids, order ids and times (orders only:
    no shipments, notes or credits exist in the generated book)."""
    orders = SalesOrder.__table__
    rows = OrderRow.__table__
    assert isinstance(orders, SqlTable) and isinstance(rows, SqlTable)
    with sessions() as session:
        top_order = int(session.scalar(select(func.max(orders.c.id))) or 0)
        top_row = int(session.scalar(select(func.max(rows.c.id))) or 0)
    with Progress(console=console) as progress:
        task = progress.add_task("copying orders", total=copies)
        for k in range(1, copies + 1):
            with sessions.begin() as session:
                shift = {
                    "id": orders.c.id + k * top_order,
                    "external_ref": orders.c.external_ref + literal(f"-{k}"),
                    "placed_at": _shifted(session, orders.c.placed_at, k * 7),
                }
                columns = [c.name for c in orders.columns]
                session.execute(
                    insert(orders).from_select(
                        columns,
                        select(*[shift.get(c, orders.c[c]) for c in columns]).where(orders.c.id <= top_order),
                    )
                )
                row_shift = {
                    "id": rows.c.id + k * top_row,
                    "order_id": rows.c.order_id + k * top_order,
                    "parent_row_id": rows.c.parent_row_id + k * top_row,
                }
                row_columns = [c.name for c in rows.columns]
                session.execute(
                    insert(rows).from_select(
                        row_columns,
                        select(*[row_shift.get(c, rows.c[c]) for c in row_columns]).where(
                            rows.c.order_id <= top_order
                        ),
                    )
                )
            progress.advance(task)
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            for table in ("sales_orders", "order_rows"):
                top = f"(SELECT max(id) FROM {table})"
                session.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {top})"))


def prepare(kind: str, count: int, *, fresh: bool, template: int = 50_000) -> sessionmaker[Session]:
    HOME.mkdir(parents=True, exist_ok=True)
    url = store_url(kind)
    engine = make_engine(url)
    sessions = session_factory(engine)
    if fresh or _count(sessions) != count:
        engine.dispose()
        _fresh_store(kind)
        engine = make_engine(url)
        db_admin.upgrade(engine)
        sessions = session_factory(engine)
        started = time.perf_counter()
        booked = min(template, count)
        generate(sessions, booked)
        copies = count // booked - 1
        if copies:
            copy_orders(sessions, copies)
        with sessions.begin() as session:
            session.execute(text("ANALYZE"))
        console.print(f"[dim]{kind}: {count:,} orders made in {time.perf_counter() - started:,.0f} s[/dim]")
        if _count(sessions) != count:
            raise SystemExit(f"--orders {count:,} must be a multiple of the {booked:,} booked")
    return sessions


def serve(app: FastAPI) -> tuple[str, uvicorn.Server]:
    """The app on a real port of 127.0.0.1, as a browser reaches it (uvicorn in a thread)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server


def signed_in_client(kind: str, sessions: sessionmaker[Session]) -> httpx.Client:
    settings = load_settings(
        data_dir=HOME / "data",
        database_url=store_url(kind),
        key_store_dir=HOME / "keys",
        kek_file=HOME / "secrets" / "kek",
    )
    keys = open_keystore(HOME / "keys", key_file=HOME / "secrets" / "kek", environ={})
    enable(sessions, Privacy(keys, retention_days=settings.retention_days))
    app = create_app(settings, sessions=sessions, keys=keys, clock=lambda: NOW)
    with sessions.begin() as session:
        name = f"bench{random.randrange(10**9)}"
        user = add_user(
            session,
            name,
            role=Role.ADMIN,
            password="Correct-Horse-Battery-9",
            full_name="",
            clock=lambda: NOW,
        )
        token, _ = open_session(session, user, stage=STAGE_FULL, now=NOW, policy=SignInPolicy())
    base, _server = serve(app)
    return httpx.Client(base_url=base, cookies={SESSION_COOKIE: token}, timeout=60)


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    call()  # warm: templates compiled, statements cached
    found = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        found.append((time.perf_counter() - started) * 1000)
    return found


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def measure(
    kind: str, sessions: sessionmaker[Session], count: int, repeat: int
) -> list[tuple[str, list[float]]]:
    client = signed_in_client(kind, sessions)
    with sessions() as session:
        depth = count // 2
        deep = session.execute(
            select(SalesOrder.placed_at, SalesOrder.id)
            .order_by(SalesOrder.placed_at.desc(), SalesOrder.id.desc())
            .offset(depth)
            .limit(1)
        ).one()
        cursor = encode(
            Direction.AFTER, (deep[0].replace(tzinfo=UTC) if deep[0].tzinfo is None else deep[0], deep[1])
        )
        channel_id = int(session.scalar(select(SalesOrder.channel_id).limit(1)) or 1)
        status_id = session.scalar(select(OrderStatus.id).where(OrderStatus.name == "Ready to ship"))
        order_ids = list(session.scalars(select(SalesOrder.id).where(SalesOrder.id % 9973 == 1).limit(200)))
        sku = session.scalar(select(OrderRow.sku).limit(1))
    picks = iter(order_ids * (repeat // max(len(order_ids), 1) + 2))

    def get(url: str) -> Callable[[], object]:
        def call() -> object:
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code, response.text[-500:])
            return response

        return call

    def offset_page() -> object:
        with sessions() as session:
            return session.execute(
                select(SalesOrder.id, SalesOrder.external_ref, SalesOrder.placed_at)
                .order_by(SalesOrder.placed_at.desc(), SalesOrder.id.desc())
                .offset(depth)
                .limit(50)
            ).all()

    def query(call: Callable[[Session], object]) -> Callable[[], object]:
        def run() -> object:
            with sessions() as session:
                return call(session)

        return run

    deep_filter = OrderFilter(channel_id=channel_id, status_id=status_id, fulfilment=Fulfilment.SELLER)
    first_day = NOW.date() - timedelta(days=29)
    return [
        ("floor: /health (no query; this machine's HTTP cost now)", timed(get("/health"), repeat)),
        ("orders list, first page", timed(get("/orders"), repeat)),
        ("  query only", timed(query(list_orders), repeat)),
        (f"orders list, deep page (after {depth:,})", timed(get(f"/orders?cursor={cursor}"), repeat)),
        ("  query only", timed(query(lambda s: list_orders(s, cursor=cursor)), repeat)),
        ("  baseline: same page by OFFSET (query only)", timed(offset_page, max(repeat // 4, 3))),
        (
            "orders list, filtered (marketplace+status+FBM)",
            timed(get(f"/orders?channel={channel_id}&status={status_id}&fulfilment=seller"), repeat),
        ),
        ("  query only", timed(query(lambda s: list_orders(s, deep_filter)), repeat)),
        ("orders list, search by SKU", timed(get(f"/orders?by=sku&q={sku}"), repeat)),
        ("order page", timed(lambda: get(f"/orders/{next(picks)}")(), repeat)),  # noqa: PLW0108
        ("dashboard", timed(get("/"), repeat)),
        (
            "  orders-per-day chart query only",
            timed(query(lambda s: orders_per_day(s, first=first_day, last=NOW.date())), repeat),
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--fresh", action="store_true", help="rebuild the generated books")
    parser.add_argument("--template", type=int, default=50_000, help="orders booked before copying")
    args = parser.parse_args()
    table = Table(title=f"Web pages with {args.orders:,} orders (ms; goal: p95 < {GOAL_MS:.0f})")
    table.add_column("store")
    table.add_column("page")
    table.add_column("median", justify="right")
    table.add_column("p95", justify="right")
    table.add_column("goal", justify="center")
    for kind in [s.strip() for s in args.stores.split(",") if s.strip()]:
        sessions = prepare(kind, args.orders, fresh=args.fresh, template=args.template)
        for name, values in measure(kind, sessions, args.orders, args.repeat):
            worst = p95(values)
            verdict = (
                ""
                if name.startswith(("  ", "floor"))
                else ("[green]met[/green]" if worst < GOAL_MS else "[red]missed[/red]")
            )
            table.add_row(kind, name, f"{statistics.median(values):.1f}", f"{worst:.1f}", verdict)
    console.print(table)


if __name__ == "__main__":
    main()
