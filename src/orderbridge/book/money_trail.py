"""The money trail of one order: order -> shipments -> settlement lines -> refunds and reimbursements.

One read-only view (the CLI's `orders trail` now, the web UI later) of where an order's money went:
what the buyer paid, which shipments released it, which settlements paid it (principal, fees, withheld
tax), what was refunded and credited, what the channel reimbursed, and why what reached the seller
differs from the order's total, each difference with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.book.credits import SalesCredit
from orderbridge.book.money import round_money
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.settlements import LineKind, lines_for_order, settlement_payments

ZERO = Decimal(0)


@dataclass(frozen=True)
class ShipmentStep:
    reference: str
    shipped_at: datetime
    units: int


@dataclass(frozen=True)
class SettlementLineStep:
    line: int
    kind: str
    transaction_type: str
    description: str
    sku: str | None
    quantity: int | None
    amount: Decimal
    nominal_code: str | None
    posted_at: datetime | None


@dataclass
class SettlementStep:
    """One settlement's lines for the order, summed by what they are."""

    reference: str
    deposit_date: datetime | None
    status: str
    sales: Decimal = ZERO  # principal, shipping, gift wrap, tax, promotions (Order rows)
    withheld_tax: Decimal = ZERO  # O16 (negative: kept by the marketplace)
    fees: Decimal = ZERO
    refunds: Decimal = ZERO  # refunded to the buyer, incl. withheld tax given back and fees returned
    reimbursements: Decimal = ZERO
    other: Decimal = ZERO
    lines: list[SettlementLineStep] = field(default_factory=list)

    @property
    def net(self) -> Decimal:
        return self.sales + self.withheld_tax + self.fees + self.refunds + self.reimbursements + self.other


@dataclass(frozen=True)
class CreditStep:
    reference: str
    reason: str | None
    created_at: datetime
    total_gross: Decimal
    payment_status: str


@dataclass(frozen=True)
class Variance:
    amount: Decimal
    reason: str


@dataclass
class OrderTrail:
    order_id: int
    reference: str
    currency: str
    placed_at: datetime
    fulfilment: str
    total_gross: Decimal
    withheld_tax: Decimal
    amount_owed: Decimal
    amount_paid: Decimal
    payment_status: str
    units_ordered: int
    units_shipped: int
    shipments: list[ShipmentStep] = field(default_factory=list)
    settlements: list[SettlementStep] = field(default_factory=list)
    credits: list[CreditStep] = field(default_factory=list)
    variances: list[Variance] = field(default_factory=list)
    withheld_tax_as_booked: Decimal | None = None  # O16/R2: before a settlement's figure replaced it
    withheld_tax_corrected_by: str | None = None

    @property
    def released(self) -> Decimal:
        """What the settlements released for the sale (sales and withheld tax of Order rows)."""
        return sum((s.sales + s.withheld_tax for s in self.settlements), ZERO)

    @property
    def received(self) -> Decimal:
        """What reached the seller in the end: every line of every settlement, fees and refunds included."""
        return sum((s.net for s in self.settlements), ZERO)


def order_trail(session: Session, order: SalesOrder) -> OrderTrail:
    """Everything money-related about one order, with each variance explained."""
    ordered = sum(row.quantity - row.cancelled_quantity for row in order.rows if row.product_id or row.sku)
    trail = OrderTrail(
        order_id=order.id,
        reference=order.external_ref,
        currency=order.currency,
        placed_at=order.placed_at,
        fulfilment=str(order.fulfilment),
        total_gross=order.total_gross,
        withheld_tax=order.withheld_tax,
        amount_owed=order.amount_owed,
        amount_paid=order.amount_paid,
        payment_status=str(order.payment_status),
        units_ordered=ordered,
        units_shipped=sum(row.shipped for row in order.rows),
        withheld_tax_as_booked=order.withheld_tax_as_booked,
        withheld_tax_corrected_by=order.withheld_tax_corrected_by,
    )
    for shipment in order.shipments:
        units = sum(row.quantity for row in shipment.rows)
        trail.shipments.append(ShipmentStep(shipment.reference, shipment.shipped_at, units))
    steps: dict[int, SettlementStep] = {}
    for line, settlement in lines_for_order(session, order.id):
        step = steps.get(settlement.id)
        if step is None:
            step = steps[settlement.id] = SettlementStep(
                settlement.reference, settlement.deposit_date, str(settlement.status)
            )
        _add(step, line.kind, line.transaction_type, line.amount)
        step.lines.append(
            SettlementLineStep(
                line.line,
                str(line.kind),
                line.transaction_type,
                line.description,
                line.sku,
                line.quantity,
                line.amount,
                line.nominal_code,
                line.posted_at,
            )
        )
    trail.settlements = list(steps.values())
    for credit in session.scalars(
        select(SalesCredit).where(SalesCredit.order_id == order.id).order_by(SalesCredit.id)
    ):
        trail.credits.append(
            CreditStep(
                credit.reference,
                credit.reason,
                credit.created_at,
                credit.total_gross,
                str(credit.payment_status),
            )
        )
    trail.variances = _explain(session, order, trail)
    return trail


def _add(step: SettlementStep, kind: LineKind, transaction_type: str, amount: Decimal) -> None:
    refund = transaction_type.lower() == "refund"
    if refund and kind in (LineKind.REFUND, LineKind.WITHHELD_TAX, LineKind.FEE):
        step.refunds += amount
    elif kind == LineKind.SALE:
        step.sales += amount
    elif kind == LineKind.WITHHELD_TAX:
        step.withheld_tax += amount
    elif kind == LineKind.FEE:
        step.fees += amount
    elif kind == LineKind.REIMBURSEMENT:
        step.reimbursements += amount
    else:
        step.other += amount


def _explain(session: Session, order: SalesOrder, trail: OrderTrail) -> list[Variance]:
    """Why the settlements' money differs from what the order is owed, one reason per difference."""
    out: list[Variance] = []
    currency = order.currency
    gap = round_money(trail.amount_owed - trail.released, currency)
    if not trail.settlements:
        if trail.amount_owed:
            out.append(
                Variance(trail.amount_owed, "not in a settlement yet (Amazon pays out about every 14 days)")
            )
        return out
    if gap and trail.units_shipped < trail.units_ordered:
        out.append(
            Variance(
                gap,
                f"{trail.units_ordered - trail.units_shipped} of {trail.units_ordered} units not shipped "
                "yet: they are paid in the settlement after they ship",
            )
        )
    elif gap and abs(gap) <= Decimal("0.01") * max(len(order.rows), 1):
        out.append(Variance(gap, "rounding: Amazon splits amounts per unit and rounds each"))
    elif gap:
        out.append(
            Variance(
                gap,
                "the settlements released a different amount than the order's total "
                "(a price or promotion changed after the order was booked)",
            )
        )
    if trail.withheld_tax_as_booked is not None:
        out.append(
            Variance(
                trail.withheld_tax_as_booked - trail.withheld_tax,
                f"withheld tax corrected by {trail.withheld_tax_corrected_by}: the order gave "
                f"{trail.withheld_tax_as_booked}, Amazon withheld {trail.withheld_tax} "
                "(Amazon's figure stands)",
            )
        )
    fees = sum((s.fees for s in trail.settlements), ZERO)
    if fees:
        out.append(Variance(fees, "channel fees (commission, fulfilment): a cost, not less payment"))
    refunds = sum((s.refunds for s in trail.settlements), ZERO)
    if refunds:
        credited = sum((c.total_gross for c in trail.credits), ZERO)
        note = f"; sales credits total {credited}" if trail.credits else "; no sales credit booked yet"
        out.append(Variance(refunds, "refunded to the buyer (net of fees Amazon returned)" + note))
    reimbursed = sum((s.reimbursements for s in trail.settlements), ZERO)
    if reimbursed:
        out.append(Variance(reimbursed, "reimbursed by Amazon for lost or damaged units"))
    paid = sum((p.amount for p in settlement_payments(session, order.id)), ZERO)
    if paid != trail.released:
        out.append(Variance(trail.released - paid, "released by a settlement not reconciled yet"))
    return out
