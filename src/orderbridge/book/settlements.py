"""Settlements: what a channel paid out for a period, line by line, reconciled to the deposit (R1, R2).

A settlement holds its deposit total and one line per amount the channel released or kept: sales
(principal, shipping, tax, promotions), refunds, fees by type with their nominal codes, withheld tax
(O16) and reimbursements. `settle()` reconciles it: the lines must add up to the deposit (else an alert
names the difference), each order it pays is marked paid with the amount released (O4), and lines whose
order the book does not have are kept and listed, never dropped. Everything here is idempotent: settling
the same settlement again changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    UniqueConstraint,
    and_,
    case,
    func,
    select,
    type_coerce,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.book.alerts import Subject, clear_alert, open_alerts, raise_alert
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.money import minor_unit, round_money
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.payments import Payment, pay_order, payment_status
from orderbridge.book.types import Amount, UtcDateTime
from orderbridge.db import Base, BigId

PAYMENT_METHOD = "channel settlement"
UNBALANCED = "settlement_unbalanced"
UNKNOWN_ORDERS = "settlement_unknown_orders"


class SettlementStatus(StrEnum):
    OPEN = "open"  # lines are still being booked
    RECONCILED = "reconciled"  # the lines add up to the deposit
    UNBALANCED = "unbalanced"  # they do not; an alert names the difference


class LineKind(StrEnum):
    SALE = "sale"  # principal, shipping, gift wrap, tax and promotions of shipped units
    REFUND = "refund"  # the same, given back to the buyer
    FEE = "fee"  # commission, fulfilment fees, subscription, storage... (by type, to a nominal code)
    WITHHELD_TAX = "withheld_tax"  # O16: tax the marketplace collected and keeps
    REIMBURSEMENT = "reimbursement"  # the channel pays for units it lost or damaged
    OTHER = "other"  # anything else (reserve, transfers); counts toward the total


class Settlement(Base):
    __tablename__ = "settlements"
    __table_args__ = (UniqueConstraint("reference"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str] = mapped_column(String(60))
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channels.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[datetime | None] = mapped_column(UtcDateTime())
    period_end: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deposit_date: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deposit_total: Mapped[Decimal] = mapped_column(Amount())
    lines_total: Mapped[Decimal] = mapped_column(Amount(), default=Decimal(0))
    status: Mapped[SettlementStatus] = mapped_column(String(20), default=SettlementStatus.OPEN)
    source: Mapped[str] = mapped_column(String(200))  # e.g. "amazon report 123456 (account 1)"
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reconciled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    @property
    def difference(self) -> Decimal:
        """Deposit less the lines: zero when the settlement reconciles."""
        return self.deposit_total - self.lines_total


class SettlementLine(Base):
    """One amount of a settlement, with the order (when the book has it) and where it came from."""

    __tablename__ = "settlement_lines"
    __table_args__ = (
        UniqueConstraint("settlement_id", "line"),
        Index("ix_settlement_lines_order_id", "order_id"),
        Index("ix_settlement_lines_order_ref", "order_ref"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    settlement_id: Mapped[int] = mapped_column(ForeignKey("settlements.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)  # the line of the settlement file
    kind: Mapped[LineKind] = mapped_column(String(20))
    transaction_type: Mapped[str] = mapped_column(String(60))
    amount_type: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(120))
    amount: Mapped[Decimal] = mapped_column(Amount())
    order_ref: Mapped[str | None] = mapped_column(String(60))  # the channel's order id
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id"))
    shipment_ref: Mapped[str | None] = mapped_column(String(60))
    adjustment_ref: Mapped[str | None] = mapped_column(String(60))
    sku: Mapped[str | None] = mapped_column(String(100))
    quantity: Mapped[int | None] = mapped_column(Integer)
    nominal_code: Mapped[str | None] = mapped_column(String(20))
    posted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


@dataclass(frozen=True)
class NewSettlement:
    reference: str
    currency: str
    deposit_total: Decimal
    period_start: datetime | None
    period_end: datetime | None
    deposit_date: datetime | None
    source: str
    channel_id: int | None = None


def open_settlement(session: Session, new: NewSettlement, *, now: datetime) -> Settlement:
    """The settlement with this reference, created on first sight (the same one again: unchanged)."""
    settlement = session.scalar(select(Settlement).where(Settlement.reference == new.reference))
    if settlement is None:
        settlement = Settlement(
            reference=new.reference,
            currency=new.currency,
            deposit_total=new.deposit_total,
            period_start=new.period_start,
            period_end=new.period_end,
            deposit_date=new.deposit_date,
            source=new.source[:200],
            channel_id=new.channel_id,
            created_at=now,
        )
        session.add(settlement)
        session.flush()
    elif settlement.channel_id is None and new.channel_id is not None:
        settlement.channel_id = new.channel_id
    return settlement


def settlement_by_reference(session: Session, reference: str) -> Settlement | None:
    return session.scalar(select(Settlement).where(Settlement.reference == reference))


REFS_PER_QUERY = 5000


def order_ids_by_ref(session: Session, refs: Sequence[str]) -> dict[str, int]:
    """Book order ids of channel order ids (Amazon order ids are unique across marketplaces)."""
    found: dict[str, int] = {}
    unique = sorted(set(refs))
    connection = session.connection()
    head = (
        f"SELECT o.external_ref, o.id FROM {SalesOrder.__tablename__} o JOIN {Channel.__tablename__} c "
        f"ON c.id = o.channel_id WHERE c.kind = '{ChannelKind.AMAZON.value}' AND o.external_ref "
    )
    if connection.dialect.paramstyle != "qmark":  # PostgreSQL: one array parameter, one statement
        found.update(
            (ref, order_id) for ref, order_id in connection.exec_driver_sql(head + "= ANY(%s)", (unique,))
        )
        return found
    # Plain SQL: compiling the ORM's expanding IN per chunk costs more than the lookup (bulk imports).
    for start in range(0, len(unique), REFS_PER_QUERY):
        chunk = unique[start : start + REFS_PER_QUERY]
        sql = head + f"IN ({', '.join(['?'] * len(chunk))})"
        found.update((ref, order_id) for ref, order_id in connection.exec_driver_sql(sql, tuple(chunk)))
    return found


@dataclass(frozen=True)
class Reconciliation:
    settlement_id: int
    reference: str
    deposit_total: Decimal
    lines_total: Decimal
    difference: Decimal
    orders_paid: int
    unknown_count: int  # distinct orders the book does not have
    unknown_sample: list[str]  # the first few of them (`unknown_orders()` lists all)

    @property
    def balanced(self) -> bool:
        return self.difference == 0


def settle(session: Session, settlement: Settlement, *, now: datetime) -> Reconciliation:
    """Reconcile to the deposit, mark each order paid with what was released for it, list unknown
    orders. Idempotent: payments are keyed by the settlement's reference per order."""
    _link_orders(session, settlement)
    total = session.scalar(
        select(type_coerce(func.coalesce(func.sum(SettlementLine.amount), 0), Amount())).where(
            SettlementLine.settlement_id == settlement.id
        )
    )
    settlement.lines_total = Decimal(total or 0)
    paid = _pay_orders(session, settlement, now=now)
    unknown, sample = (
        unknown_order_count(session, settlement.id),
        unknown_orders(session, settlement.id, limit=10),
    )
    where = f"settlement {settlement.reference}"

    def money(amount: Decimal) -> Decimal:
        return round_money(amount, settlement.currency)

    if settlement.difference != 0:
        settlement.status = SettlementStatus.UNBALANCED
        raise_alert(
            session,
            Subject.SETTLEMENT,
            settlement.id,
            UNBALANCED,
            f"{where}: deposit {money(settlement.deposit_total)} {settlement.currency} but its lines add "
            f"up to {money(settlement.lines_total)}: difference {money(settlement.difference)} "
            f"{settlement.currency}",
            now=now,
        )
    else:
        settlement.status = SettlementStatus.RECONCILED
        settlement.reconciled_at = settlement.reconciled_at or now
    if not unknown:
        for alert in open_alerts(session, Subject.SETTLEMENT, settlement.id):
            if alert.kind == UNKNOWN_ORDERS:
                clear_alert(alert, by="settlement", now=now)  # every order it named is in the book now
    if unknown:
        shown = ", ".join(sample) + (f" and {unknown - len(sample)} more" if unknown > len(sample) else "")
        raise_alert(
            session,
            Subject.SETTLEMENT,
            settlement.id,
            UNKNOWN_ORDERS,
            f"{where}: {unknown} orders are not in the book: {shown}",
            now=now,
        )
    return Reconciliation(
        settlement.id,
        settlement.reference,
        settlement.deposit_total,
        settlement.lines_total,
        settlement.difference,
        paid,
        unknown,
        sample,
    )


def settle_waiting(session: Session, *, now: datetime) -> int:
    """Settle again every settlement that names orders the book lacked, now that some may have
    arrived (an order booked after its settlement is paid then). Returns how many arrived."""
    waiting = session.scalars(
        select(Settlement).where(
            Settlement.id.in_(
                select(SettlementLine.settlement_id)
                .where(SettlementLine.order_id.is_(None), SettlementLine.order_ref.is_not(None))
                .distinct()
            )
        )
    )
    arrived = 0
    for settlement in list(waiting):
        before = unknown_order_count(session, settlement.id)
        arrived += before - settle(session, settlement, now=now).unknown_count
    return arrived


def _link_orders(session: Session, settlement: Settlement) -> None:
    """Lines booked before their order reached the book get its id now: one set-based UPDATE, so a
    settlement of a million lines whose orders are all unknown costs no memory here."""
    order = (
        select(func.min(SalesOrder.id))
        .join(Channel, Channel.id == SalesOrder.channel_id)
        .where(SalesOrder.external_ref == SettlementLine.order_ref, Channel.kind == ChannelKind.AMAZON)
        .scalar_subquery()
    )
    session.execute(
        update(SettlementLine)
        .where(
            SettlementLine.settlement_id == settlement.id,
            SettlementLine.order_id.is_(None),
            SettlementLine.order_ref.is_not(None),
            order.is_not(None),
        )
        .values(order_id=order)
        .execution_options(synchronize_session=False)
    )


PAY_PAGE = 1000


def _pay_orders(session: Session, settlement: Settlement, *, now: datetime) -> int:
    """O4/R2: per order, the sale and withheld-tax lines are what the buyer paid that reached the
    seller's side; that amount pays the order. Fees are costs, not less payment. Orders are summed in
    SQL and taken a page at a time (flushed after each), so memory does not grow with the settlement."""
    withheld = case((SettlementLine.kind == LineKind.WITHHELD_TAX, SettlementLine.amount), else_=0)
    released = (
        select(
            SettlementLine.order_id,
            type_coerce(func.sum(SettlementLine.amount), Amount()),
            type_coerce(func.sum(withheld), Amount()),
        )
        .where(
            SettlementLine.settlement_id == settlement.id,
            SettlementLine.order_id.is_not(None),
            SettlementLine.kind.in_([LineKind.SALE, LineKind.WITHHELD_TAX]),
            SettlementLine.transaction_type == "Order",
        )
        .group_by(SettlementLine.order_id)
        .order_by(SettlementLine.order_id)
        .limit(PAY_PAGE)
    )
    reference = f"settlement {settlement.reference}"
    paid = 0
    paid_at = settlement.deposit_date or now
    last: int = 0
    while page := session.execute(released.where(SettlementLine.order_id > last)).all():
        last = int(page[-1][0] or 0)
        done = set(
            session.scalars(
                select(Payment.order_id).where(
                    Payment.reference == reference, Payment.order_id.in_([row[0] for row in page])
                )
            )
        )
        settled = _settled_so_far(session, [int(row[0]) for row in page if row[0] and row[2]])
        for order_id, amount, kept_amount in page:
            if amount is None or Decimal(amount) == 0:
                continue
            order = session.get(SalesOrder, order_id)
            if order is None:
                continue
            if kept_amount and order.id in settled:
                _withheld_stands(order, *settled[order.id], reference=reference)
            if order_id in done:  # paid by an earlier run: nothing changes (idempotent)
                paid += 1
                continue
            pay_order(
                session,
                order,
                Decimal(amount),
                method=PAYMENT_METHOD,
                reference=reference,
                paid_at=paid_at,
            )
            paid += 1
        session.flush()
    return paid


def _settled_so_far(session: Session, order_ids: list[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """Per order, what every settlement so far released for the sale and withheld (both positive)."""
    if not order_ids:
        return {}
    withheld = case((SettlementLine.kind == LineKind.WITHHELD_TAX, SettlementLine.amount), else_=0)
    sold = case((SettlementLine.kind == LineKind.SALE, SettlementLine.amount), else_=0)
    totals = session.execute(
        select(
            SettlementLine.order_id,
            type_coerce(func.sum(sold), Amount()),
            type_coerce(func.sum(withheld), Amount()),
        )
        .where(
            SettlementLine.order_id.in_(order_ids),
            SettlementLine.kind.in_([LineKind.SALE, LineKind.WITHHELD_TAX]),
            SettlementLine.transaction_type == "Order",
        )
        .group_by(SettlementLine.order_id)
    )
    return {
        int(order_id): (Decimal(sale or 0), -Decimal(kept or 0))
        for order_id, sale, kept in totals
        if order_id
    }


def _withheld_stands(order: SalesOrder, sold: Decimal, kept: Decimal, *, reference: str) -> None:
    """O16/R2: the tax the settlements withheld stands over the one booked from the order. Once they
    released the whole sale their total stands; before that (part of the order not yet shipped) only a
    larger figure does. The booked figure and the correcting settlement are kept for the money trail."""
    whole = sold + minor_unit(order.currency) * 10 >= order.total_gross  # Amazon rounds per unit
    target = kept if whole else max(order.withheld_tax, kept)
    if target == order.withheld_tax:
        return
    if order.withheld_tax_as_booked is None:
        order.withheld_tax_as_booked = order.withheld_tax
    order.withheld_tax = target
    order.withheld_tax_corrected_by = reference
    order.payment_status = payment_status(order.amount_paid, order.amount_owed)


def unknown_refs(settlement_id: int) -> Select[str | None]:
    """The query of the order ids a settlement names that the book does not have (with repeats)."""
    return _unknown_refs(settlement_id)


def _unknown_refs(settlement_id: int) -> Select[str | None]:
    return select(SettlementLine.order_ref).where(
        SettlementLine.settlement_id == settlement_id,
        SettlementLine.order_id.is_(None),
        SettlementLine.order_ref.is_not(None),
        SettlementLine.order_ref != "",
    )


def unknown_orders(session: Session, settlement_id: int, *, limit: int | None = None) -> list[str]:
    """Order ids a settlement names that the book does not have (listed, never dropped), in order;
    the first `limit` of them when given."""
    query = _unknown_refs(settlement_id).distinct().order_by(SettlementLine.order_ref).limit(limit)
    return [ref for ref in session.scalars(query) if ref]


def unknown_order_count(session: Session, settlement_id: int) -> int:
    """How many distinct orders a settlement names that the book does not have (counted in SQL)."""
    counted = select(func.count()).select_from(_unknown_refs(settlement_id).distinct().subquery())
    return int(session.scalar(counted) or 0)


@dataclass(frozen=True)
class KindTotal:
    kind: LineKind
    description: str
    nominal_code: str | None
    amount: Decimal
    lines: int


def totals_by_kind(session: Session, settlement_id: int) -> list[KindTotal]:
    """The settlement summed by kind and description (fees by type with their nominal codes)."""
    query = (
        select(
            SettlementLine.kind,
            SettlementLine.description,
            SettlementLine.nominal_code,
            type_coerce(func.sum(SettlementLine.amount), Amount()),
            func.count(),
        )
        .where(SettlementLine.settlement_id == settlement_id)
        .group_by(SettlementLine.kind, SettlementLine.description, SettlementLine.nominal_code)
        .order_by(SettlementLine.kind, SettlementLine.description)
    )
    return [
        KindTotal(LineKind(kind), description, code, Decimal(amount or 0), int(n))
        for kind, description, code, amount, n in session.execute(query)
    ]


@dataclass
class RefundAmount:
    """What a settlement refunded for one SKU of one order: for sales credits (F1)."""

    order_id: int | None
    order_ref: str
    sku: str
    settlement_ref: str
    posted_at: datetime | None
    quantity: int = 0
    refunded: Decimal = Decimal(0)  # given back to the buyer: principal, shipping, tax, promotions (positive)
    withheld_tax: Decimal = Decimal(0)  # O16: the part of it the marketplace itself returns (positive)
    fees: Decimal = Decimal(0)  # fees given back (positive) or charged for the refund (negative)

    @property
    def seller_pays(self) -> Decimal:
        """What the refund costs the seller before fees: refunded less the tax the marketplace returns."""
        return self.refunded - self.withheld_tax


def refunds_for_order(
    session: Session, *, order_id: int | None = None, order_ref: str | None = None
) -> list[RefundAmount]:
    """Refund money per (settlement, SKU) of one order, by book order id or channel order id."""
    if (order_id is None) == (order_ref is None):
        raise ValueError("refunds_for_order needs exactly one of order_id and order_ref")
    where = (
        SettlementLine.order_id == order_id if order_id is not None else SettlementLine.order_ref == order_ref
    )
    query = (
        select(SettlementLine, Settlement.reference)
        .join(Settlement, Settlement.id == SettlementLine.settlement_id)
        .where(where, SettlementLine.transaction_type == "Refund")
        .order_by(SettlementLine.settlement_id, SettlementLine.line)
    )
    grouped: dict[tuple[str, str], RefundAmount] = {}
    for line, reference in session.execute(query).all():
        sku = line.sku or ""
        entry = grouped.get((reference, sku))
        if entry is None:
            entry = grouped[(reference, sku)] = RefundAmount(
                line.order_id, line.order_ref or "", sku, reference, line.posted_at
            )
        if line.kind == LineKind.REFUND:
            entry.refunded -= line.amount
            if line.amount_type == "ItemPrice" and line.description == "Principal":
                entry.quantity = max(entry.quantity, line.quantity or 0)
        elif line.kind == LineKind.WITHHELD_TAX:
            entry.withheld_tax += line.amount
        elif line.kind == LineKind.FEE:
            entry.fees += line.amount
    return list(grouped.values())


def lines_for_order(session: Session, order_id: int) -> list[tuple[SettlementLine, Settlement]]:
    """Every settlement line of a book order, oldest first (the money trail)."""
    query = (
        select(SettlementLine, Settlement)
        .join(Settlement, Settlement.id == SettlementLine.settlement_id)
        .where(SettlementLine.order_id == order_id)
        .order_by(Settlement.period_end, SettlementLine.line)
    )
    return [(line, settlement) for line, settlement in session.execute(query).all()]


def settlement_payments(session: Session, order_id: int) -> list[Payment]:
    """Payments a settlement made on this order (method `channel settlement`)."""
    return list(
        session.scalars(
            select(Payment).where(and_(Payment.order_id == order_id, Payment.method == PAYMENT_METHOD))
        )
    )
