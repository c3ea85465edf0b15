"""Warehouse transfers (FBA inbound shipments among them) with their discrepancies, for the inbound page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, selectinload

from orderbridge.book.catalog import Product
from orderbridge.book.inventory import Warehouse
from orderbridge.book.queries.paging import Page, decode, keyset_page, page_size
from orderbridge.book.transfers import TransferRow, WarehouseTransfer
from orderbridge.clock import as_utc


@dataclass(frozen=True)
class TransferRowLine:
    sku: str
    sent: int
    received: int
    unexpected: bool

    @property
    def difference(self) -> int:
        """Received less sent: negative is short (still in transit or lost), positive over-received."""
        return self.received - self.sent

    @property
    def is_discrepancy(self) -> bool:
        return self.unexpected or self.received > self.sent


@dataclass(frozen=True)
class TransferLine:
    id: int
    reference: str
    source: str
    target: str
    status: str
    created_at: datetime
    closed_at: datetime | None
    rows: list[TransferRowLine]

    @property
    def sent(self) -> int:
        return sum(row.sent for row in self.rows)

    @property
    def received(self) -> int:
        return sum(row.received for row in self.rows)

    @property
    def discrepancies(self) -> list[TransferRowLine]:
        """Over-received and unexpected rows; short rows too once the transfer is closed (F5)."""
        closed = self.status == "closed"
        return [row for row in self.rows if row.is_discrepancy or (closed and row.received < row.sent)]


_DISCREPANT = exists().where(
    TransferRow.transfer_id == WarehouseTransfer.id,
    or_(
        TransferRow.unexpected.is_(True),
        TransferRow.quantity_received > TransferRow.quantity_sent,
        (WarehouseTransfer.status == "closed") & (TransferRow.quantity_received < TransferRow.quantity_sent),
    ),
)


def list_transfers(
    session: Session,
    *,
    discrepancies_only: bool = False,
    open_only: bool = False,
    cursor: str | None = None,
    size: int | None = None,
) -> Page[TransferLine]:
    """Transfers newest first, each with its rows."""
    codes = {key: value for key, value in session.execute(select(Warehouse.id, Warehouse.code))}
    query = select(WarehouseTransfer).options(selectinload(WarehouseTransfer.rows))
    if discrepancies_only:
        query = query.where(_DISCREPANT)
    if open_only:
        query = query.where(WarehouseTransfer.status != "closed")
    page = keyset_page(
        session,
        query,
        columns=(WarehouseTransfer.id,),
        key_of=lambda row: (row[0].id,),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        convert=lambda row: row[0],
    )
    product_ids = {row.product_id for transfer in page.items for row in transfer.rows}
    skus = (
        {
            key: value
            for key, value in session.execute(
                select(Product.id, Product.sku).where(Product.id.in_(product_ids))
            )
        }
        if product_ids
        else {}
    )
    lines = [
        TransferLine(
            transfer.id,
            transfer.reference,
            codes.get(transfer.source_warehouse_id, "?"),
            codes.get(transfer.target_warehouse_id, "?"),
            str(transfer.status),
            as_utc(transfer.created_at),
            as_utc(transfer.closed_at) if transfer.closed_at else None,
            [
                TransferRowLine(
                    skus.get(row.product_id, "?"), row.quantity_sent, row.quantity_received, row.unexpected
                )
                for row in transfer.rows
            ],
        )
        for transfer in page.items
    ]
    return Page(lines, page.next_cursor, page.prev_cursor, page.size)
