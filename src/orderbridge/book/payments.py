"""Payments against sales orders and sales credits; they set the order's payment status (O4)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, func, select, type_coerce
from sqlalchemy.orm import InstrumentedAttribute, Mapped, Session, mapped_column

from orderbridge.book.credits import SalesCredit
from orderbridge.book.errors import InvalidValueError
from orderbridge.book.money import round_money
from orderbridge.book.orders.model import PaymentStatus, SalesOrder
from orderbridge.book.types import Amount, UtcDateTime
from orderbridge.db import Base, BigId


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("order_id", "reference"),
        UniqueConstraint("credit_id", "reference"),
        CheckConstraint("(order_id IS NULL) <> (credit_id IS NULL)", name="one_target"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("sales_orders.id"), index=True)
    credit_id: Mapped[int | None] = mapped_column(ForeignKey("sales_credits.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Amount())
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[str] = mapped_column(String(60))
    reference: Mapped[str] = mapped_column(String(200))
    paid_at: Mapped[datetime] = mapped_column(UtcDateTime())


def pay_order(
    session: Session,
    order: SalesOrder,
    amount: Decimal,
    *,
    method: str,
    reference: str,
    paid_at: datetime,
) -> Payment:
    """Record money received for an order (O4); the same reference twice records it once."""
    payment, created = _record(
        session,
        Payment.order_id,
        order.id,
        contact_id=order.contact_id,
        currency=order.currency,
        amount=amount,
        method=method,
        reference=reference,
        paid_at=paid_at,
    )
    if created:
        order.amount_paid += amount
        order.payment_status = payment_status(order.amount_paid, order.amount_owed)
    return payment


def refund_credit(
    session: Session,
    credit: SalesCredit,
    amount: Decimal,
    *,
    method: str,
    reference: str,
    paid_at: datetime,
) -> Payment:
    """Record money paid back for a credit; the same reference twice records it once."""
    payment, created = _record(
        session,
        Payment.credit_id,
        credit.id,
        contact_id=credit.contact_id,
        currency=credit.currency,
        amount=amount,
        method=method,
        reference=reference,
        paid_at=paid_at,
    )
    if created:
        session.flush()
        paid = session.scalar(
            select(type_coerce(func.sum(Payment.amount), Amount())).where(Payment.credit_id == credit.id)
        )
        credit.payment_status = payment_status(Decimal(paid or 0), credit.total_gross)
    return payment


def _record(
    session: Session,
    target: InstrumentedAttribute[int | None],
    target_id: int,
    *,
    contact_id: int,
    currency: str,
    amount: Decimal,
    method: str,
    reference: str,
    paid_at: datetime,
) -> tuple[Payment, bool]:
    existing = session.scalar(select(Payment).where(target == target_id, Payment.reference == reference))
    if existing is not None:
        return existing, False
    if round_money(amount, currency) != amount:
        raise InvalidValueError(
            f"{target.key} {target_id}: payment {reference!r}: {amount} not rounded to {currency}"
        )
    payment = Payment(
        contact_id=contact_id,
        amount=amount,
        currency=currency,
        method=method,
        reference=reference,
        paid_at=paid_at,
    )
    setattr(payment, target.key, target_id)
    session.add(payment)
    return payment, True


def payment_status(paid: Decimal, owed: Decimal) -> PaymentStatus:
    if paid <= 0 and owed > 0:
        return PaymentStatus.UNPAID
    if paid >= owed:
        return PaymentStatus.PAID
    return PaymentStatus.PART_PAID
