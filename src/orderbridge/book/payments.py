"""Payments against sales orders and sales credits; they set the order's payment status (O4)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint, func, select, type_coerce
from sqlalchemy.orm import Mapped, Session, mapped_column

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
    """Record money received for an order; the same reference twice records it once."""
    existing = session.scalar(
        select(Payment).where(Payment.order_id == order.id, Payment.reference == reference)
    )
    if existing is not None:
        return existing
    if round_money(amount, order.currency) != amount:
        raise InvalidValueError(
            f"order {order.id}: payment {reference!r}: {amount} not rounded to {order.currency}"
        )
    payment = Payment(
        order_id=order.id,
        contact_id=order.contact_id,
        amount=amount,
        currency=order.currency,
        method=method,
        reference=reference,
        paid_at=paid_at,
    )
    session.add(payment)
    order.amount_paid += amount
    order.payment_status = payment_status(order.amount_paid, order.amount_owed)
    return payment


def payment_status(paid: Decimal, owed: Decimal) -> PaymentStatus:
    if paid <= 0 and owed > 0:
        return PaymentStatus.UNPAID
    if paid >= owed:
        return PaymentStatus.PAID
    return PaymentStatus.PART_PAID


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
    existing = session.scalar(
        select(Payment).where(Payment.credit_id == credit.id, Payment.reference == reference)
    )
    if existing is not None:
        return existing
    payment = Payment(
        credit_id=credit.id,
        contact_id=credit.contact_id,
        amount=amount,
        currency=credit.currency,
        method=method,
        reference=reference,
        paid_at=paid_at,
    )
    session.add(payment)
    session.flush()
    paid = session.scalar(
        select(type_coerce(func.sum(Payment.amount), Amount())).where(Payment.credit_id == credit.id)
    ) or Decimal(0)
    credit.payment_status = payment_status(Decimal(paid), credit.total_gross)
    return payment
