"""The FBA tables the flows share, and the opening's cutoff that all of them respect.

Ledger entries (the per-centre sub-ledger), replacements, opening counts and inbound shipments are read
by more than one flow: the ledger books entries, the opening counts against them, inbound and returns
ask what the opening already holds, claims read lost and damaged entries. Their models live here, with
the two look-ups of the opening in force, so those flows import this module and never each other.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Table, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.amazon.api.inbound_types import ABANDONED
from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId

# LedgerEntry.movement of a row the opening count already holds
BEFORE_OPENING = "before_opening"


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
    identity: Mapped[str] = mapped_column(String(80))  # date and time as written | digest [.twin]
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


class FbaOpening(Base):
    """One opening count taken for an account: when it counts from, and from which report(s)."""

    __tablename__ = "fba_openings"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("amazon_seller_accounts.id", ondelete="CASCADE"), index=True
    )
    cutoff: Mapped[datetime] = mapped_column(UtcDateTime())  # rows dated before it are in the count
    reports: Mapped[str] = mapped_column(String(500))  # the summary reports' ids, comma-separated
    units: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime] = mapped_column(UtcDateTime())


def current_opening(session: Session, account_id: int) -> FbaOpening | None:
    """The opening in force for an account (the latest cutoff), or None."""
    return session.scalar(
        select(FbaOpening)
        .where(FbaOpening.account_id == account_id)
        .order_by(FbaOpening.cutoff.desc(), FbaOpening.id.desc())
        .limit(1)
    )


def opening_cutoff(session: Session, account_id: int) -> datetime | None:
    opening = current_opening(session, account_id)
    return opening.cutoff if opening is not None else None


class InboundShipmentRecord(Base):
    """An inbound shipment as last seen at Amazon, and the transfer it became (once it left WORKING)."""

    __tablename__ = "amazon_inbound_shipments"
    __table_args__ = (UniqueConstraint("account_id", "shipment_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("amazon_seller_accounts.id", ondelete="CASCADE"))
    marketplace_id: Mapped[str] = mapped_column(String(20))
    shipment_id: Mapped[str] = mapped_column(String(40))
    name: Mapped[str | None] = mapped_column(String(200))
    destination: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    transfer_id: Mapped[int | None] = mapped_column(ForeignKey("warehouse_transfers.id"))
    problem: Mapped[str | None] = mapped_column(String(1000))
    first_seen_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    @property
    def is_open(self) -> bool:
        return self.status not in ABANDONED and self.status != "CLOSED"


class InboundPoll(Base):
    """How far getShipments has been read for one account and marketplace."""

    __tablename__ = "amazon_inbound_polls"
    account_id: Mapped[int] = mapped_column(
        ForeignKey("amazon_seller_accounts.id", ondelete="CASCADE"), primary_key=True
    )
    marketplace_id: Mapped[str] = mapped_column(String(20), primary_key=True)
    polled_until: Mapped[datetime] = mapped_column(UtcDateTime())
