"""FBA inbound shipments (Fulfillment Inbound v0) as warehouse transfers: F3 create, F4 receive, F5 notices.

A shipment that leaves WORKING becomes a transfer from the channel's own warehouse to its FBA warehouse
(stock leaves the source, is in transit). Every poll compares Amazon's cumulative QuantityReceived per
SKU with the transfer's rows and releases the difference into the FBA warehouse; over-receipts and
SKUs the shipment never announced are recorded on the transfer. At CLOSED the transfer closes and what
never arrived is written off as short. Each step that the seller should hear about queues one notice,
keyed by the event, in the same transaction as the book change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.api.inbound_types import (
    ABANDONED,
    NOT_SHIPPED,
    RECEIVING,
    InboundShipmentInfo,
    InboundShipmentItem,
)
from orderbridge.amazon.fba.before_opening import (
    inbound_waits,
    received_before_opening,
    settle_opening_receipts,
)
from orderbridge.amazon.fba.inbound_notices import InboundNotices, Line
from orderbridge.amazon.fba.places import FbaPlaces, places, products_for
from orderbridge.amazon.fba.records import InboundPoll, InboundShipmentRecord
from orderbridge.book.alerts import Subject, raise_alert
from orderbridge.book.catalog import Product
from orderbridge.book.inventory import available_quantity
from orderbridge.book.transfers import (
    TransferStatus,
    WarehouseTransfer,
    close_transfer,
    create_transfer,
    receive_transfer,
)
from orderbridge.clock import Clock

FIRST_LOOK_BACK = timedelta(days=90)
OVERLAP = timedelta(hours=1)


@dataclass
class InboundReport:
    shipments_seen: int = 0
    transfers_created: int = 0
    units_received: int = 0
    closed: int = 0
    problems: list[str] = field(default_factory=list)
    waiting: str | None = None  # why nothing was polled yet (the FBA opening and its ledger)


@dataclass
class Applied:
    """What one shipment's update did (for the report)."""

    created: bool = False
    received: int = 0
    closed: bool = False
    problem: str | None = None


ClientFactory = Callable[[SellerAccount], SpApiClient]


def sync_inbound(
    account_id: int,
    *,
    sessions: sessionmaker[Session],
    client_factory: ClientFactory,
    clock: Clock,
    first_look_back: timedelta = FIRST_LOOK_BACK,
) -> InboundReport:
    """Read shipments changed since the last poll (and every open one) and apply each in its own
    transaction; the poll mark advances only after all of them applied, so a killed run repeats them.
    Nothing is polled while the account's FBA opening and its ledger are not booked (`waiting` says
    so): until then a shipment Amazon received before the count cannot be told from a new one."""
    report = InboundReport()
    with sessions() as session:
        account = session.get(SellerAccount, account_id)
        if account is None:
            raise ValueError(f"seller account {account_id} does not exist")
        report.waiting = inbound_waits(session, account_id)
        if report.waiting is not None:
            return report
        markets = list(account.marketplace_ids)
        session.expunge(account)
    with client_factory(account) as client:
        for marketplace_id in markets:
            _sync_marketplace(
                account_id, marketplace_id, client=client, sessions=sessions, clock=clock,
                first_look_back=first_look_back, report=report,
            )  # fmt: skip
    return report


def _sync_marketplace(
    account_id: int,
    marketplace_id: str,
    *,
    client: SpApiClient,
    sessions: sessionmaker[Session],
    clock: Clock,
    first_look_back: timedelta,
    report: InboundReport,
) -> None:
    now = clock()
    with sessions() as session:
        poll = session.get(InboundPoll, (account_id, marketplace_id))
        after = poll.polled_until - OVERLAP if poll is not None else now - first_look_back
        open_ids = list(
            session.scalars(
                select(InboundShipmentRecord.shipment_id).where(
                    InboundShipmentRecord.account_id == account_id,
                    InboundShipmentRecord.marketplace_id == marketplace_id,
                    InboundShipmentRecord.status.not_in([*ABANDONED, "CLOSED"]),
                )
            )
        )
    seen: dict[str, InboundShipmentInfo] = {}
    for info in client.inbound_shipments_updated(marketplace_id, after=after, before=now):
        seen[info.shipment_id] = info
    missing = [shipment_id for shipment_id in open_ids if shipment_id not in seen]
    if missing:
        for info in client.inbound_shipments_by_id(marketplace_id, missing):
            seen.setdefault(info.shipment_id, info)
    for info in sorted(seen.values(), key=lambda i: i.shipment_id):
        items = [] if info.status in NOT_SHIPPED else client.inbound_items(info.shipment_id, marketplace_id)
        with sessions.begin() as session:
            applied = apply_shipment(session, account_id, marketplace_id, info, items, now=clock())
        report.shipments_seen += 1
        report.transfers_created += applied.created
        report.units_received += applied.received
        report.closed += applied.closed
        if applied.problem:
            report.problems.append(applied.problem)
    with sessions.begin() as session:
        poll = session.get(InboundPoll, (account_id, marketplace_id))
        if poll is None:
            session.add(InboundPoll(account_id=account_id, marketplace_id=marketplace_id, polled_until=now))
        else:
            poll.polled_until = max(poll.polled_until, now)


def apply_shipment(
    session: Session,
    account_id: int,
    marketplace_id: str,
    info: InboundShipmentInfo,
    items: Sequence[InboundShipmentItem],
    *,
    now: datetime,
) -> Applied:
    """Bring the book in step with one shipment as Amazon shows it now. Applying it twice changes nothing."""
    record = _record(session, account_id, marketplace_id, info, now=now)
    applied = Applied()
    if info.status in NOT_SHIPPED or (info.status in ABANDONED and record.transfer_id is None):
        return applied
    where = places(session, marketplace_id, account_id)
    notices = InboundNotices(session, account_id, record, now=now)
    if where.fba_warehouse is None or where.own_warehouse is None:
        applied.problem = record.problem = (
            f"shipment {info.shipment_id}: channel {where.channel.code} needs fba_warehouse and "
            "fbm_warehouse (or inbound_source_warehouse) set"
        )
        return applied
    products = products_for(session, where.channel.id, [item.seller_sku for item in items])
    transfer = session.get(WarehouseTransfer, record.transfer_id) if record.transfer_id else None
    if transfer is None and info.status == "CLOSED" and _in_opening(session, account_id, info, items):
        record.problem = None  # Amazon had it all before the opening count: no transfer, no notices
        return applied
    if transfer is None:
        transfer = _create(session, record, items, products, where=where, notices=notices, now=now)
        if transfer is None:
            applied.problem = record.problem
            return applied
        applied.created = True
    applied.received = _receive(session, record, transfer, items, products, notices=notices, now=now)
    if applied.received:
        settle_opening_receipts(session, account_id, [info.shipment_id])
    if info.status == "CLOSED" and transfer.status != TransferStatus.CLOSED:
        close_transfer(session, transfer, now=now)
        applied.closed = True
        notices.complete(_lines(session, transfer, items))
    elif info.status in ABANDONED:
        raise_alert(
            session, Subject.TRANSFER, transfer.id, "inbound_abandoned",
            f"inbound shipment {info.shipment_id} is {info.status} at Amazon; units may still be in transit",
            now=now,
        )  # fmt: skip
    return applied


def _in_opening(
    session: Session, account_id: int, info: InboundShipmentInfo, items: Sequence[InboundShipmentItem]
) -> bool:
    """A closed shipment whose every received unit the ledger dates before the FBA opening's cutoff."""
    before = received_before_opening(session, account_id, info.shipment_id)
    return bool(before) and all(item.quantity_received <= before.get(item.seller_sku, 0) for item in items)


def _record(
    session: Session, account_id: int, marketplace_id: str, info: InboundShipmentInfo, *, now: datetime
) -> InboundShipmentRecord:
    record = session.scalar(
        select(InboundShipmentRecord).where(
            InboundShipmentRecord.account_id == account_id,
            InboundShipmentRecord.shipment_id == info.shipment_id,
        )
    )
    if record is None:
        record = InboundShipmentRecord(
            account_id=account_id,
            marketplace_id=marketplace_id,
            shipment_id=info.shipment_id,
            status=info.status,
            first_seen_at=now,
            updated_at=now,
        )
        session.add(record)
    if record.status != info.status:
        record.updated_at = now
    record.status, record.name, record.destination = info.status, info.name, info.destination
    session.flush()
    return record


def _create(
    session: Session,
    record: InboundShipmentRecord,
    items: Sequence[InboundShipmentItem],
    products: dict[str, Product],
    *,
    where: FbaPlaces,
    notices: InboundNotices,
    now: datetime,
) -> WarehouseTransfer | None:
    """F3: the transfer, or None (problem recorded, notice queued) when a SKU is unknown or short."""
    assert where.own_warehouse is not None and where.fba_warehouse is not None
    shipped = [item for item in items if item.quantity_shipped > 0]
    unknown = sorted(item.seller_sku for item in shipped if item.seller_sku not in products)
    if unknown:
        record.problem = (
            f"shipment {record.shipment_id}: SKU {', '.join(unknown)} has no stock-tracked product in the "
            "book (connect the listing or add the product); the transfer waits"
        )
        raise_alert(session, Subject.ACCOUNT, record.account_id, f"inbound {record.shipment_id}",
                    record.problem, now=now)  # fmt: skip
        return None
    wanted: dict[Product, int] = {}
    for item in shipped:
        product = products[item.seller_sku]
        wanted[product] = wanted.get(product, 0) + item.quantity_shipped
    short = []
    for product, quantity in wanted.items():
        available = available_quantity(session, product, where.own_warehouse)
        if available < quantity:
            short.append(Line(product.sku, shipped=quantity, available=available))
    if short:
        record.problem = (
            f"shipment {record.shipment_id}: not enough stock in {where.own_warehouse.code} for "
            + ", ".join(f"{line.sku} (needs {line.shipped}, has {line.available})" for line in short)
            + "; the transfer is created once the stock is there"
        )
        raise_alert(session, Subject.ACCOUNT, record.account_id, f"inbound {record.shipment_id}",
                    record.problem, now=now)  # fmt: skip
        notices.not_enough_stock(where.own_warehouse.code, short)
        return None
    transfer = create_transfer(
        session, record.shipment_id, where.own_warehouse, where.fba_warehouse, wanted, now=now
    )
    session.flush()
    record.transfer_id, record.problem = transfer.id, None
    return transfer


def _receive(
    session: Session,
    record: InboundShipmentRecord,
    transfer: WarehouseTransfer,
    items: Sequence[InboundShipmentItem],
    products: dict[str, Product],
    *,
    notices: InboundNotices,
    now: datetime,
) -> int:
    """F4: release what Amazon received since the last poll; queue the receiving notices (F5)."""
    if transfer.status == TransferStatus.CLOSED:
        return 0
    rows = {row.product_id: row for row in transfer.rows}
    received_before = sum(row.quantity_received for row in transfer.rows)
    released = 0
    over: list[Line] = []
    unexpected: list[Line] = []
    for item in items:
        product = products.get(item.seller_sku)
        if product is None:
            if item.quantity_received:
                record.problem = (
                    f"shipment {record.shipment_id}: received SKU {item.seller_sku} is not in the book"
                )
            continue
        row = rows.get(product.id)
        delta = item.quantity_received - (row.quantity_received if row is not None else 0)
        if delta <= 0:
            continue
        receipt = receive_transfer(
            session,
            transfer,
            {product: delta},
            reference=f"{item.seller_sku}@{item.quantity_received}",
            now=now,
        )
        released += delta
        rows = {row.product_id: row for row in transfer.rows}
        if product.sku in receipt.unexpected:
            unexpected.append(Line(item.seller_sku, shipped=0, received=item.quantity_received))
        if product.sku in receipt.over_received:
            over.append(Line(item.seller_sku, shipped=item.quantity_shipped, received=item.quantity_received))
    started = record.status in RECEIVING or received_before + released > 0
    if started:
        first = notices.started(_lines(session, transfer, items))
        if released and not first and record.status != "CLOSED":
            notices.in_progress(_lines(session, transfer, items), received_before + released)
    for line in over:
        notices.over_received(line)
    for line in unexpected:
        notices.unexpected(line)
    return released


def _lines(session: Session, transfer: WarehouseTransfer, items: Sequence[InboundShipmentItem]) -> list[Line]:
    skus = {product.id: product.sku for product in session.scalars(
        select(Product).where(Product.id.in_([row.product_id for row in transfer.rows]))
    )}  # fmt: skip
    by_sku = {item.seller_sku: item for item in items}
    lines = []
    for row in transfer.rows:
        sku = skus.get(row.product_id, str(row.product_id))
        item = by_sku.get(sku)
        lines.append(
            Line(
                sku,
                shipped=item.quantity_shipped if item is not None else row.quantity_sent,
                received=row.quantity_received,
                short=row.quantity_short,
            )
        )
    return lines


def shipments(session: Session, *, open_only: bool = False) -> list[InboundShipmentRecord]:
    query = select(InboundShipmentRecord).order_by(InboundShipmentRecord.first_seen_at.desc())
    if open_only:
        query = query.where(InboundShipmentRecord.status.not_in([*ABANDONED, "CLOSED"]))
    return list(session.scalars(query))


def shipment(session: Session, shipment_id: str) -> InboundShipmentRecord | None:
    return session.scalar(
        select(InboundShipmentRecord).where(InboundShipmentRecord.shipment_id == shipment_id)
    )
