"""FBA reimbursements (GET_FBA_REIMBURSEMENTS_DATA, SPAPI.md §8.5) and the claims list built on them.

A claim is a lost or damaged ledger row (codes M, 5, 6, 7, E, H, K, U) whose units Amazon has neither
reconciled (the ledger's Unreconciled Quantity) nor reimbursed (the reimbursements report, matched to
the SKU's oldest losses first). Amazon takes manual claims for units lost or damaged in a fulfilment
centre up to 60 days after the loss was reported (FBA reimbursement policy, in force since 2024-10-23).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.amazon.fba.ledger_rows import DAMAGED_CODES, LOST_CODES
from orderbridge.amazon.fba.records import LedgerEntry
from orderbridge.amazon.reports.handlers import (
    ParsedRow,
    ReportContext,
    ReportHandler,
    WindowPolicy,
    register_report_handler,
)
from orderbridge.amazon.reports.rows import ReportRow, RowError
from orderbridge.book.types import Amount, UtcDateTime
from orderbridge.db import Base, BigId

REIMBURSEMENTS = "GET_FBA_REIMBURSEMENTS_DATA"
CLAIM_WINDOW = timedelta(days=60)
# Reimbursement reasons that pay for units lost or damaged in a fulfilment centre (SPAPI.md §8.5).
WAREHOUSE_REASONS = frozenset({"Lost_Warehouse", "Damaged_Warehouse"})


class Reimbursement(Base):
    __tablename__ = "fba_reimbursements"
    __table_args__ = (UniqueConstraint("account_id", "reimbursement_id", "sku"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("amazon_seller_accounts.id", ondelete="CASCADE"))
    reimbursement_id: Mapped[str] = mapped_column(String(40))
    approved_at: Mapped[datetime] = mapped_column(UtcDateTime())
    sku: Mapped[str] = mapped_column(String(100), index=True)
    reason: Mapped[str] = mapped_column(String(60))
    order_id: Mapped[str | None] = mapped_column(String(40))
    case_id: Mapped[str | None] = mapped_column(String(40))
    currency: Mapped[str] = mapped_column(String(3))
    amount_per_unit: Mapped[Decimal] = mapped_column(Amount())
    amount_total: Mapped[Decimal] = mapped_column(Amount())
    quantity_cash: Mapped[int] = mapped_column(Integer)
    quantity_inventory: Mapped[int] = mapped_column(Integer)


@dataclass(frozen=True)
class Claim:
    """Lost or damaged units Amazon still owes for, and until when a claim can be filed."""

    sku: str
    fulfillment_center: str
    happened_at: datetime
    kind: str  # lost | damaged
    reference_id: str
    units: int
    unreconciled: int
    reimbursed: int
    open_units: int
    window_closes: datetime

    def expired(self, now: datetime) -> bool:
        return now > self.window_closes


def claims(
    session: Session,
    *,
    account_id: int | None = None,
    window: timedelta = CLAIM_WINDOW,
    include_settled: bool = False,
) -> list[Claim]:
    """Lost / damaged rows with units still open (all with `include_settled`), soonest deadline first."""
    query = select(LedgerEntry).where(
        LedgerEntry.event_type == "Adjustments",
        LedgerEntry.reason.in_(LOST_CODES | DAMAGED_CODES),
        LedgerEntry.quantity < 0,
    )
    r = Reimbursement
    paid = select(r.account_id, r.sku, r.quantity_cash, r.quantity_inventory).where(
        r.reason.in_(WAREHOUSE_REASONS)
    )
    if account_id is not None:
        query = query.where(LedgerEntry.account_id == account_id)
        paid = paid.where(Reimbursement.account_id == account_id)
    reimbursed: dict[tuple[int, str], int] = {}
    for account, sku, cash, inventory in session.execute(paid):
        reimbursed[(account, sku)] = reimbursed.get((account, sku), 0) + cash + inventory
    found = []
    for entry in session.scalars(query.order_by(LedgerEntry.happened_at, LedgerEntry.id)):
        units = -entry.quantity
        key = (entry.account_id, entry.sku)
        covered = min(reimbursed.get(key, 0), units)  # the SKU's oldest losses are paid first
        reimbursed[key] = reimbursed.get(key, 0) - covered
        open_units = max(min(entry.unreconciled, units - covered), 0)
        if open_units or include_settled:
            found.append(
                Claim(
                    sku=entry.sku, fulfillment_center=entry.fulfillment_center, happened_at=entry.happened_at,
                    kind="lost" if entry.reason in LOST_CODES else "damaged", reference_id=entry.reference_id,
                    units=units, unreconciled=entry.unreconciled, reimbursed=covered, open_units=open_units,
                    window_closes=entry.happened_at + window,
                )
            )  # fmt: skip
    return sorted(found, key=lambda claim: (claim.window_closes, claim.sku))


def book_reimbursements(session: Session, account_id: int, rows: Sequence[Mapping[str, Any]]) -> None:
    for row in rows:
        exists = session.scalar(
            select(Reimbursement.id).where(
                Reimbursement.account_id == account_id,
                Reimbursement.reimbursement_id == row["reimbursement_id"],
                Reimbursement.sku == row["sku"],
            )
        )
        if exists is None:
            session.add(Reimbursement(account_id=account_id, **row))


class ReimbursementsHandler(ReportHandler):
    report_type = REIMBURSEMENTS
    required = ("approval-date", "reimbursement-id", "reason", "sku", "quantity-reimbursed-total")
    policy = WindowPolicy(
        every=timedelta(hours=12), first_lookback=timedelta(days=60), max_span=timedelta(days=31)
    )

    def row_key(self, row: ReportRow, context: ReportContext) -> str:
        return f"{row['reimbursement-id']}|{row['sku']}"

    def parse(self, row: ReportRow, context: ReportContext) -> dict[str, Any]:
        cash = row.integer("quantity-reimbursed-cash", default=0)
        inventory = row.integer("quantity-reimbursed-inventory", default=0)
        if cash < 0 or inventory < 0:
            raise RowError(f"quantity-reimbursed-cash/-inventory: {cash}/{inventory} is negative")
        return {
            "reimbursement_id": row.required("reimbursement-id"),
            "approved_at": row.moment("approval-date"),
            "sku": row.required("sku"),
            "reason": row.required("reason"),
            "order_id": row["amazon-order-id"] or None,
            "case_id": row["case-id"] or None,
            "currency": row["currency-unit"] or "",
            "amount_per_unit": row.decimal("amount-per-unit", default=Decimal(0)),
            "amount_total": row.decimal("amount-total", default=Decimal(0)),
            "quantity_cash": cash,
            "quantity_inventory": inventory,
        }

    def book(self, session: Session, context: ReportContext, rows: Sequence[ParsedRow]) -> Mapping[int, str]:
        book_reimbursements(session, context.account_id, [parsed.value for parsed in rows])
        return {}


register_report_handler(ReimbursementsHandler())
