"""A privacy-enabled book on a real store (file or database), for the end-to-end privacy tests.

Builds what an installation has: the store at `fresh_store_url`, a key store and KEK outside it, an
archive key pair whose private half stands for the operator's offline copy, an Amazon channel, a
non-Amazon channel, products, and a way to book a canary buyer's order through the book's own paths.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.book.address import Address
from orderbridge.book.catalog import save_product
from orderbridge.book.channels import ChannelKind, save_channel
from orderbridge.book.contacts import Contact, NewContact, create_contact, create_contacts
from orderbridge.book.custom_fields import FieldKind, RecordKind, define_field, field_definition, set_field
from orderbridge.book.orders.booking import book_order
from orderbridge.book.orders.cancel import cancel_order
from orderbridge.book.orders.commands import NewOrder, NewRow
from orderbridge.book.orders.model import RowKind, SalesOrder
from orderbridge.book.orders.shipping import ship_order
from orderbridge.book.orders.statuses import ensure_default_statuses, status_by_name
from orderbridge.book.tax import add_nominal_code, add_tax_code
from orderbridge.db import make_engine, session_factory
from orderbridge.privacy.archive import ArchiveWriter, keygen, load_public_key
from orderbridge.privacy.canary import CanaryBuyer, files_under
from orderbridge.privacy.keystore import open_keystore
from orderbridge.privacy.retention import SweepReport, sweep
from orderbridge.privacy.sealing import Privacy, enable
from tests.privacy.fakes import FakeClock

AMAZON_UK = "A1F83G8C2ARO7P"


@dataclass
class World:
    url: str
    root: Path
    engine: Engine
    sessions: sessionmaker[Session]
    privacy: Privacy
    clock: FakeClock
    archive_dir: Path
    private_key: Path
    public_key: Path
    ids: dict[str, int] = field(default_factory=dict)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def writer(self) -> ArchiveWriter:
        return ArchiveWriter(self.archive_dir, load_public_key(self.public_key), clock=self.clock)

    def sweep(self, **options: Any) -> SweepReport:
        return sweep(self.sessions, self.privacy, self.writer(), clock=self.clock, **options)

    def book(
        self,
        ref: str,
        buyer: CanaryBuyer | None,
        *,
        channel: str = "amazon-uk",
        contact_id: int | None = None,
        sku: str = "SKU-1",
        bulk_contact: bool = False,
    ) -> int:
        """Book one order the way the book books pages (bulk INSERT path), with a new contact unless given
        (created as the ORM creates one, or with `bulk_contact` as a page of new Amazon buyers is)."""
        with self.sessions.begin() as session:
            contact = None
            if contact_id is None:
                new = NewContact(
                    first_name=buyer.name.split()[0] if buyer else "Pat",
                    last_name=buyer.name.split()[1] if buyer else "Shopper",
                    email=buyer.email if buyer else None,
                    phone=buyer.phone if buyer else None,
                    billing=_address(buyer),
                    origin_channel_id=self.ids[channel],
                    marketplace_id=AMAZON_UK if channel == "amazon-uk" else None,
                )
                if bulk_contact:
                    (contact_id,) = create_contacts(session, [new], now=self.clock())
                else:
                    contact = create_contact(session, new, now=self.clock())
                    session.flush()
            order = book_order(
                session,
                NewOrder(
                    channel_id=self.ids[channel],
                    external_ref=ref,
                    contact_id=contact.id if contact is not None else contact_id or 0,
                    status_id=status_by_name(session, "New order").id,
                    currency="GBP",
                    placed_at=self.clock(),
                    rows=(
                        NewRow(
                            kind=RowKind.PRODUCT,
                            name="Widget",
                            sku=sku,
                            product_id=self.ids[sku],
                            quantity=1,
                            net=Decimal("10.00"),
                            tax=Decimal("2.00"),
                            tax_code="T20",
                        ),
                    ),
                    billing=_address(buyer),
                    delivery=_address(buyer),
                    notes=(buyer.gift_message,) if buyer else (),
                ),
                now=self.clock(),
            )
            if buyer is not None:
                set_field(
                    session,
                    field_definition(session, RecordKind.SALES_ORDER, "gift"),
                    order.id,
                    buyer.gift_message,
                )
            return order.id

    def ship(self, order_id: int, *, days_ago: float) -> None:
        """Ship the whole order `days_ago` days before the clock's now (ORM path: the listener re-keys)."""
        with self.sessions.begin() as session:
            order = session.get(SalesOrder, order_id)
            assert order is not None
            ship_order(
                session,
                order,
                reference=f"ship-{order_id}",
                now=self.clock() - timedelta(days=days_ago),
                carrier="UPS",
                tracking_number="T1",
            )

    def cancel(self, order_id: int, *, days_ago: float) -> None:
        with self.sessions.begin() as session:
            order = session.get(SalesOrder, order_id)
            assert order is not None
            cancel_order(session, order, now=self.clock() - timedelta(days=days_ago))

    def order(self, session: Session, order_id: int) -> SalesOrder:
        found = session.get(SalesOrder, order_id)
        assert found is not None
        return found

    def contact_of(self, session: Session, order_id: int) -> Contact:
        found = session.scalar(select(Contact).join(SalesOrder).where(SalesOrder.id == order_id))
        assert found is not None
        return found

    def byte_stores(self, tmp_path: Path) -> list[Path]:
        """Every byte store to scan: the SQLite file, -wal, -shm (or a pg_dump), logs, archive, keys."""
        paths = list(files_under(self.root))
        if self.is_sqlite:
            database = Path(str(make_url(self.url).database))
            paths += [p for p in database.parent.glob(database.name + "*") if p.is_file()]
        else:
            dump = tmp_path / f"dump-{len(list(tmp_path.glob('dump-*')))}.sql"
            plain_url = self.url.replace("postgresql+psycopg://", "postgresql://")
            subprocess.run(["pg_dump", "--no-owner", "-f", str(dump), plain_url], check=True)
            paths.append(dump)
        return paths

    def pg_data_files(self) -> list[Path]:
        """The database's heap files and the cluster's WAL, where this process may read them (AC-3)."""
        with self.engine.connect() as connection:
            data = Path(str(connection.exec_driver_sql("SHOW data_directory").scalar()))
            oid = connection.exec_driver_sql(
                "SELECT oid FROM pg_database WHERE datname = current_database()"
            ).scalar()
        roots = [data / "base" / str(oid), data / "pg_wal"]
        if not all(os.access(root, os.R_OK | os.X_OK) for root in roots):
            return []
        return list(files_under(*roots))


def _address(buyer: CanaryBuyer | None) -> Address:
    if buyer is None:
        return Address(name="Pat Shopper", line1="9 Shop Street", postcode="LS1 4AP", country="GB")
    return Address(
        name=buyer.name,
        line1=buyer.address_line1,
        line2=buyer.address_line2,
        city="London",
        postcode="SW1A 1AA",
        country="GB",
        phone=buyer.phone,
    )


def make_world(
    url: str, root: Path, *, enabled: bool = True, retention_days: int = 30, now: datetime | None = None
) -> World:
    """A book at `url` with privacy on (or off: rows written in plaintext, as before privacy existed)."""
    root.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    sessions = session_factory(engine)
    clock = FakeClock(now or datetime(2026, 11, 23, 9, 30, tzinfo=UTC))
    keys = open_keystore(root / "keys", key_file=root / "secrets" / "kek", environ={}, clock=clock)
    privacy = Privacy(keys, retention_days=retention_days)
    archive_dir = root / "archive"
    offline = root.parent / f"{root.name}-offline"
    offline.mkdir(exist_ok=True)
    private_key, public_key = offline / "archive.key", root / "archive.pub"
    keygen(private_key, public_key)
    world = World(url, root, engine, sessions, privacy, clock, archive_dir, private_key, public_key)
    with sessions.begin() as session:
        ensure_default_statuses(session)
        add_tax_code(session, "T20", "Standard 20%", Decimal("0.20"))
        add_nominal_code(session, "4000", "Sales")
    with sessions.begin() as session:
        amazon = save_channel(session, "amazon-uk", "Amazon UK", ChannelKind.AMAZON, AMAZON_UK)
        shop = save_channel(session, "web-shop", "Own web shop", ChannelKind.OTHER)
        products = [
            save_product(session, sku, f"Product {sku}", stock_tracked=False) for sku in ("SKU-1", "SKU-2")
        ]
        define_field(session, RecordKind.SALES_ORDER, "gift", "Gift message", FieldKind.TEXT_AREA)
        session.flush()
        world.ids.update({"amazon-uk": amazon.id, "web-shop": shop.id})
        world.ids.update({product.sku: product.id for product in products})
    if enabled:
        enable(sessions, privacy)
    return world
