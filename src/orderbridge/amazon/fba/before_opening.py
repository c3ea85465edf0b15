"""What the FBA opening count already holds: units received before its cutoff, and when inbound may run.

Everything Amazon counted at the opening's cutoff is in the opening balance. An inbound shipment's units
the ledger dates before the cutoff must not be released into the FBA warehouse again, and inbound
shipments wait until the opening and the ledger up to its cutoff are booked, since only the ledger's
Receipts tell a shipment Amazon received before the count from a new one.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from orderbridge.amazon.fba.ledger_rows import LEDGER
from orderbridge.amazon.fba.records import InboundShipmentRecord, LedgerEntry, current_opening, opening_cutoff
from orderbridge.amazon.reports.inbox import latest_window_end
from orderbridge.book.catalog import Product
from orderbridge.book.inventory import MovementReason, StockMovement, Warehouse, move_stock
from orderbridge.book.transfers import WarehouseTransfer
from orderbridge.clock import as_utc

JUST_BEFORE = timedelta(microseconds=1)  # an opening's movements are dated just before its cutoff


def received_before_opening(session: Session, account_id: int, shipment_id: str) -> dict[str, int]:
    """SKU -> units the ledger shows an inbound shipment delivered before the opening's cutoff."""
    cutoff = opening_cutoff(session, account_id)
    if cutoff is None:
        return {}
    query = (
        select(LedgerEntry.sku, func.sum(LedgerEntry.quantity))
        .where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.event_type == "Receipts",
            LedgerEntry.reference_id == shipment_id,
            LedgerEntry.happened_at < cutoff,
        )
        .group_by(LedgerEntry.sku)
    )
    return {sku: int(total) for sku, total in session.execute(query) if total}


def settle_opening_receipts(
    session: Session, account_id: int, shipment_ids: Iterable[str] | None = None
) -> int:
    """Units Amazon received before the cutoff are in the opening count: take them back out of what the
    shipment's transfer released into the FBA warehouse after the cutoff. Idempotent; returns units moved."""
    opening = current_opening(session, account_id)
    if opening is None:
        return 0
    cutoff = opening.cutoff
    query = (
        select(LedgerEntry.reference_id, LedgerEntry.product_id, func.sum(LedgerEntry.quantity))
        .where(
            LedgerEntry.account_id == account_id,
            LedgerEntry.event_type == "Receipts",
            LedgerEntry.happened_at < cutoff,
            LedgerEntry.product_id.is_not(None),
        )
        .group_by(LedgerEntry.reference_id, LedgerEntry.product_id)
    )
    if shipment_ids is not None:
        query = query.where(LedgerEntry.reference_id.in_(list(shipment_ids)))
    moved = 0
    for shipment_id, product_id, pre in session.execute(query):
        found = session.execute(
            select(WarehouseTransfer)
            .join(InboundShipmentRecord, InboundShipmentRecord.transfer_id == WarehouseTransfer.id)
            .where(
                InboundShipmentRecord.account_id == account_id,
                InboundShipmentRecord.shipment_id == shipment_id,
            )
        ).scalar_one_or_none()
        if found is None or not pre:
            continue
        released = f"transfer:{found.reference}:receipt:%"
        early, total = session.execute(
            select(
                func.coalesce(
                    func.sum(case((StockMovement.moved_at < cutoff, StockMovement.quantity), else_=0)), 0
                ),
                func.coalesce(func.sum(StockMovement.quantity), 0),
            ).where(
                StockMovement.product_id == product_id,
                StockMovement.warehouse_id == found.target_warehouse_id,
                StockMovement.reference.like(released),
            )
        ).one()
        before, after = int(early), int(total) - int(early)
        target = -max(0, min(after, int(pre) - before))
        # Per opening: an older opening's corrections are dated before this cutoff, inside this count.
        prefix = f"fba-opening-receipts:{opening.id}:{shipment_id}:"
        booked = session.scalar(
            select(func.coalesce(func.sum(StockMovement.quantity), 0)).where(
                StockMovement.product_id == product_id,
                StockMovement.warehouse_id == found.target_warehouse_id,
                StockMovement.reference.like(prefix + "%"),
            )
        )
        change = target - int(booked or 0)
        product = session.get(Product, product_id)
        warehouse = session.get(Warehouse, found.target_warehouse_id)
        if change and product is not None and warehouse is not None:
            move_stock(
                session, product, warehouse, change, reason=MovementReason.OPENING,
                reference=f"{prefix}{target}", now=cutoff - JUST_BEFORE,
                note=f"inbound {shipment_id}: units received before the opening count are in it",
            )  # fmt: skip
            moved += change
    return moved


def needs_opening(session: Session, account_id: int) -> bool:
    """An account's first FBA sync: no opening taken and no ledger row booked yet."""
    if current_opening(session, account_id) is not None:
        return False
    return session.scalar(select(LedgerEntry.id).where(LedgerEntry.account_id == account_id).limit(1)) is None


def inbound_waits(session: Session, account_id: int) -> str | None:
    """Why the account's inbound shipments must not be applied yet (None: they may).

    A shipment Amazon received before the opening's cutoff is inside Amazon's count: only the ledger's
    Receipts rows dated before the cutoff tell so (`received_before_opening`). Polled before those rows
    are booked -- on a seller's first day, the inbound poll would otherwise run before the first
    ledger sync -- every shipment of the last 90 days would become a transfer out of the seller's
    warehouse and mail its receiving notices again. So inbound waits until the opening is taken and
    the ledger booked up to its cutoff (an account whose ledger is booked from its start, with no
    opening, holds its whole history and need not wait)."""
    opening = current_opening(session, account_id)
    if opening is None:
        if session.scalar(select(LedgerEntry.id).where(LedgerEntry.account_id == account_id).limit(1)):
            return None
        return "waits for the FBA opening balance, which the first inventory ledger sync takes"
    cutoff = as_utc(opening.cutoff)
    booked_to = latest_window_end(session, account_id, LEDGER)
    if booked_to is not None and as_utc(booked_to) >= cutoff:
        return None
    after = select(LedgerEntry.id).where(
        LedgerEntry.account_id == account_id, LedgerEntry.happened_at >= cutoff
    )  # a seller's own ledger file that reaches past the cutoff
    if session.scalar(after.limit(1)) is not None:
        return None
    return f"waits for the inventory ledger to be booked up to the FBA opening's cutoff ({cutoff:%Y-%m-%d})"
