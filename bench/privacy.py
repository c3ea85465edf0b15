"""Benchmark: the retention sweep over N due Amazon orders (default 1,000,000) on SQLite and PostgreSQL.

Each order carries a billing and a delivery address sealed under its retention epoch key (as the book
writes them with privacy on) and a note. The sweep archives each order's tax fields (sealed box,
fsynced per batch), redacts the order and its note in one transaction per batch, writes the ledger,
shreds the epoch keys and makes the store forget. The ceiling is a bare batched ``UPDATE`` setting the
same rows and columns the redaction writes (each order's PII columns, key id and redaction time, and its
note's) on a copy of the same store. Prints orders/s, the ratio and
the resident memory at the first batch and at the end (flat = the sweep streams).

Run: ``.venv/bin/python bench/privacy.py [--orders N] [--stores sqlite,postgresql] [--batch 5000]
[--distinct M]`` (``--distinct``: seal M orders one by one and copy them in SQL up to N, to load fast).
Also prints the ratio of CPU time in this process, which a machine shared with other work distorts less.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import psycopg
from rich.console import Console
from rich.table import Table as RichTable
from sqlalchemy import Engine, String, Table, func, insert, literal, select, update
from sqlalchemy import cast as cast_
from sqlalchemy.orm import Session

from orderbridge import db_admin
from orderbridge.book.channels import ChannelKind, save_channel
from orderbridge.book.contacts import NewContact, create_contact
from orderbridge.book.orders.model import OrderNote, SalesOrder
from orderbridge.book.orders.statuses import ensure_default_statuses, status_by_name
from orderbridge.book.pii import REDACTED, new_pii_ref, pii_fields, seal_rows
from orderbridge.db import make_engine, session_factory
from orderbridge.privacy.archive import ArchiveWriter, keygen, load_public_key
from orderbridge.privacy.keystore import open_keystore
from orderbridge.privacy.retention import Sweep
from orderbridge.privacy.sealing import Privacy, enable

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
LOAD_PAGE = 10_000
EPOCH_DAYS = 10  # due orders spread over ten epochs (ten keys to shred)


@dataclass
class Result:
    store: str
    orders: int
    sweep_s: float
    update_s: float
    sweep_cpu_s: float
    update_cpu_s: float
    rss_first_mb: float
    rss_end_mb: float
    narrow_s: float


def rss_mb() -> float:
    """The current resident set size (VmRSS), in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


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


def copy_store(kind: str, engine: Engine, workdir: Path, name: str) -> Engine:
    """A copy of the loaded store, for the bare UPDATE ceiling on the same rows."""
    if kind == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        engine.dispose()
        source = Path(str(engine.url.database))
        shutil.copy(source, workdir / f"{name}.db")
        return make_engine(f"sqlite:///{workdir / name}.db")
    source_name = engine.url.database
    engine.dispose()
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{source_name}"')
    return make_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")


def load(engine: Engine, privacy: Privacy, orders: int, distinct: int | None = None) -> None:
    """N Amazon orders shipped 31-40 days ago, sealed through the book's bulk hook, each with a note.

    With `distinct`, only the first `distinct` orders are sealed one by one; the rest are SQL copies of
    them (same sealed values and pii_ref, so they decrypt; their own id and external ref): the sweep
    does the same work per order, and a million orders load in minutes on a busy machine.
    """
    sessions = session_factory(engine)
    enable(sessions, privacy)
    with sessions.begin() as session:
        ensure_default_statuses(session)
        channel = save_channel(session, "amazon-uk", "Amazon UK", ChannelKind.AMAZON, "A1F83G8C2ARO7P")
        generic = create_contact(session, NewContact(company_name="Amazon customers"), now=NOW)
        session.flush()
        ids = (channel.id, generic.id, status_by_name(session, "Shipped").id)
    orders_table = cast(Table, SalesOrder.__table__)
    notes_table = cast(Table, OrderNote.__table__)
    for start in range(0, min(orders, distinct or orders), LOAD_PAGE):
        with sessions.begin() as session:
            rows = [_order(n, *ids) for n in range(start, min(start + LOAD_PAGE, orders))]
            seal_rows(session, orders_table, rows)
            session.execute(insert(orders_table), rows)
            first = session.execute(
                orders_table.select()
                .with_only_columns(orders_table.c.id)
                .order_by(orders_table.c.id.desc())
                .limit(1)
            ).scalar_one()
            notes = [
                {"order_id": first - len(rows) + 1 + i, "body": f"Leave with neighbour {start + i}"}
                for i in range(len(rows))
            ]
            for note in notes:
                note.update(source="channel", added_at=NOW, pii_ref=new_pii_ref())
            seal_rows(session, notes_table, notes)
            session.execute(insert(notes_table), notes)
    if distinct is not None and distinct < orders:
        clone(engine, distinct, orders)


def clone(engine: Engine, distinct: int, orders: int) -> None:
    """Orders `distinct`+1..N (and their notes) as copies of the first `distinct` ones, in SQL."""
    orders_table = cast(Table, SalesOrder.__table__)
    notes_table = cast(Table, OrderNote.__table__)
    with engine.connect() as connection:
        ids = connection.execute(select(func.min(orders_table.c.id), func.max(orders_table.c.id))).one()
        note_ids = connection.execute(select(func.min(notes_table.c.id), func.max(notes_table.c.id))).one()
    assert tuple(ids) == tuple(note_ids) == (1, distinct), (ids, note_ids)  # contiguous: ids shift
    order_columns = [c.name for c in orders_table.columns if c.name != "id"]
    note_columns = [c.name for c in notes_table.columns if c.name not in ("id", "order_id")]
    for start in range(distinct, orders, distinct):
        count = min(distinct, orders - start)
        copied = [
            (literal("202-copy-") + cast_(orders_table.c.id + start, String)).label(name)
            if name == "external_ref"
            else orders_table.c[name]
            for name in order_columns
        ]
        with engine.begin() as connection:
            connection.execute(
                insert(orders_table).from_select(
                    ["id", *order_columns],
                    select(orders_table.c.id + start, *copied).where(orders_table.c.id <= count),
                )
            )
            connection.execute(
                insert(notes_table).from_select(
                    ["id", "order_id", *note_columns],
                    select(
                        notes_table.c.id + start,
                        notes_table.c.order_id + start,
                        *(notes_table.c[name] for name in note_columns),
                    ).where(notes_table.c.order_id <= count),
                )
            )
    if engine.dialect.name == "postgresql":  # ids were given: move the sequences past them
        with engine.begin() as connection:
            for table in (orders_table, notes_table):
                connection.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), {orders})"
                )


def _order(n: int, channel_id: int, contact_id: int, status_id: int) -> dict[str, Any]:
    shipped = NOW - timedelta(days=31 + n % EPOCH_DAYS, hours=1)
    values: dict[str, Any] = {
        "channel_id": channel_id,
        "external_ref": f"202-{n:07d}-{n % 9973:07d}",
        "contact_id": contact_id,
        "status_id": status_id,
        "currency": "GBP",
        "placed_at": shipped - timedelta(days=1),
        "created_at": shipped,
        "updated_at": shipped,
        "shipped_at": shipped,
        "total_net": Decimal("10.00"),
        "total_tax": Decimal("2.00"),
        "total_gross": Decimal("12.00"),
        "pii_ref": new_pii_ref(),
    }
    for prefix in ("billing", "delivery"):
        values.update(
            {
                f"{prefix}_name": f"Buyer {n}",
                f"{prefix}_company": None,
                f"{prefix}_line1": f"{n % 200 + 1} High Street",
                f"{prefix}_line2": f"Flat {n % 40}",
                f"{prefix}_city": "Leeds",
                f"{prefix}_region": "West Yorkshire",
                f"{prefix}_postcode": "LS1 4AP",
                f"{prefix}_country": "GB",
                f"{prefix}_phone": f"+44 7700 {n % 1_000_000:06d}",
                f"{prefix}_postcode_district": "LS1",
            }
        )
    return values


def bare_update(engine: Engine, batch: int, *, as_redaction: bool = True) -> tuple[float, float]:
    """The ceiling: the same rows and columns the sweep's redaction writes, one transaction per batch.

    Each order's PII columns set to [Redacted] and its key id and redaction time written (indexed
    columns: on PostgreSQL they make the UPDATE non-HOT, as in the sweep), and the same for its note.
    No archive, no decryption, no ledger, no secure_delete: what the sweep adds is its cost.
    `as_redaction=False` is the earlier, narrower ceiling: the orders' PII columns only.
    """
    orders_table = cast(Table, SalesOrder.__table__)
    notes_table = cast(Table, OrderNote.__table__)
    redacted: dict[str, Any] = {"pii_key": None, "pii_redacted_at": NOW} if as_redaction else {}
    order_values = dict.fromkeys(pii_fields(orders_table), REDACTED) | redacted
    note_values = dict.fromkeys(pii_fields(notes_table), REDACTED) | redacted
    started, cpu = time.perf_counter(), time.process_time()
    with Session(engine) as session:
        ids = [
            row[0]
            for row in session.execute(
                orders_table.select().with_only_columns(orders_table.c.id).order_by(orders_table.c.id)
            )
        ]
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        with Session(engine) as session, session.begin():
            session.execute(update(orders_table).where(orders_table.c.id.in_(chunk)).values(**order_values))
            if as_redaction:
                notes = update(notes_table).where(notes_table.c.order_id.in_(chunk))
                session.execute(notes.values(**note_values))
    return time.perf_counter() - started, time.process_time() - cpu


def run(kind: str, orders: int, batch: int, workdir: Path, distinct: int | None = None) -> Result:
    home = workdir / kind
    home.mkdir()
    keys = open_keystore(home / "keys", key_file=home / "secrets" / "kek", environ={})
    privacy = Privacy(keys)
    keygen(home / "offline.key", home / "archive.pub")
    engine = fresh_store(kind, home, "ob_bench_privacy")
    load(engine, privacy, orders, distinct)
    ceiling_engine = copy_store(kind, engine, home, "ob_bench_privacy_update")
    update_s, update_cpu_s = bare_update(ceiling_engine, batch)
    ceiling_engine.dispose()
    narrow_engine = copy_store(kind, engine, home, "ob_bench_privacy_narrow")
    narrow_s, _narrow_cpu_s = bare_update(narrow_engine, batch, as_redaction=False)
    narrow_engine.dispose()
    engine = make_engine(str(engine.url.render_as_string(hide_password=False)))
    sessions = session_factory(engine)
    enable(sessions, privacy)
    writer = ArchiveWriter(home / "archive", load_public_key(home / "archive.pub"), clock=lambda: NOW)
    first_rss: list[float] = []

    def progress(_phase: str, _done: int, _total: int) -> None:
        if not first_rss:
            first_rss.append(rss_mb())

    sweep = Sweep(sessions, privacy, writer, clock=lambda: NOW, batch_size=batch, progress=progress)
    started, cpu = time.perf_counter(), time.process_time()
    report = sweep.run()
    sweep_s, sweep_cpu_s = time.perf_counter() - started, time.process_time() - cpu
    assert report.orders == orders, report
    engine.dispose()
    if kind == "postgresql":
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            for name in ("ob_bench_privacy", "ob_bench_privacy_update", "ob_bench_privacy_narrow"):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return Result(
        kind,
        orders,
        sweep_s,
        update_s,
        sweep_cpu_s,
        update_cpu_s,
        first_rss[0] if first_rss else 0.0,
        rss_mb(),
        narrow_s,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--stores", default="sqlite,postgresql")
    parser.add_argument(
        "--distinct", type=int, default=None, help="seal only this many orders; the rest are SQL copies"
    )
    args = parser.parse_args()
    console = Console(width=160)
    results = []
    with tempfile.TemporaryDirectory() as scratch:
        for kind in args.stores.split(","):
            console.print(f"{kind}: loading {args.orders:,} sealed due orders ...")
            results.append(run(kind, args.orders, args.batch, Path(scratch), args.distinct))
    table = RichTable(title=f"Retention sweep of {args.orders:,} due orders (batch {args.batch:,})")
    columns = (
        "store",
        "sweep orders/s",
        "bare UPDATE orders/s",
        "ratio",
        "sweep orders/CPU-s",
        "bare orders/CPU-s",
        "CPU ratio",
        "RSS first batch",
        "RSS end",
    )
    for column in columns:
        table.add_column(column, justify="right")
    for r in results:
        table.add_row(
            r.store,
            f"{r.orders / r.sweep_s:,.0f}",
            f"{r.orders / r.update_s:,.0f}",
            f"{r.update_s / r.sweep_s:.2f}",
            f"{r.orders / r.sweep_cpu_s:,.0f}",
            f"{r.orders / r.update_cpu_s:,.0f}",
            f"{r.update_cpu_s / r.sweep_cpu_s:.2f}",
            f"{r.rss_first_mb:,.0f} MiB",
            f"{r.rss_end_mb:,.0f} MiB",
        )
    console.print(table)
    for r in results:
        console.print(
            f"{r.store}: the earlier, narrower ceiling (orders' PII columns only, no key id, redaction time "
            f"or note): {r.orders / r.narrow_s:,.0f} orders/s, ratio {r.narrow_s / r.sweep_s:.2f}"
        )
    console.print(
        "ratio: bare UPDATE time / sweep time (wall clock). CPU ratio: the same with this process's CPU "
        "time, which a loaded machine distorts less; on SQLite both sides run in this process, on "
        "PostgreSQL the server's share is not in it."
    )


if __name__ == "__main__":
    main()
