"""Sales credits: goods or money given back against an order (F1), items back to stock or not (F2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from orderbridge.book.catalog import Product
from orderbridge.book.errors import InvalidValueError
from orderbridge.book.inventory import MovementReason, Warehouse, move_stock
from orderbridge.book.money import round_money
from orderbridge.book.orders.model import OrderRow, PaymentStatus, SalesOrder
from orderbridge.book.types import Amount, UtcDateTime
from orderbridge.db import Base, BigId


class SalesCredit(Base):
    __tablename__ = "sales_credits"
    __table_args__ = (UniqueConstraint("order_id", "reference"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    reference: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    restock: Mapped[bool] = mapped_column(Boolean)
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    total_net: Mapped[Decimal] = mapped_column(Amount())
    total_tax: Mapped[Decimal] = mapped_column(Amount())
    payment_status: Mapped[PaymentStatus] = mapped_column(String(20), default=PaymentStatus.UNPAID)

    rows: Mapped[list[CreditRow]] = relationship(order_by="CreditRow.id", cascade="all, delete-orphan")

    @property
    def total_gross(self) -> Decimal:
        return self.total_net + self.total_tax


class CreditRow(Base):
    __tablename__ = "credit_rows"
    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    credit_id: Mapped[int] = mapped_column(ForeignKey("sales_credits.id", ondelete="CASCADE"), index=True)
    order_row_id: Mapped[int | None] = mapped_column(ForeignKey("order_rows.id"))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str | None] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column(Integer)
    net: Mapped[Decimal] = mapped_column(Amount())
    tax: Mapped[Decimal] = mapped_column(Amount())


@dataclass(frozen=True)
class NewCreditRow:
    """Credit `quantity` of an order row (or a money-only row when order_row_id is None)."""

    name: str
    quantity: int
    net: Decimal
    tax: Decimal = Decimal(0)
    order_row_id: int | None = None


def credit_order(
    session: Session,
    order: SalesOrder,
    rows: list[NewCreditRow],
    *,
    reference: str,
    now: datetime,
    restock: bool,
    warehouse: Warehouse | None = None,
    reason: str | None = None,
) -> SalesCredit:
    """Raise a credit against an order; the same reference twice books it once.

    With `restock`, credited product units go back on hand in `warehouse` (F2), each movement
    referenced to this credit row.
    """
    existing = session.scalar(
        select(SalesCredit).where(SalesCredit.order_id == order.id, SalesCredit.reference == reference)
    )
    if existing is not None:
        return existing
    if restock and warehouse is None:
        raise InvalidValueError(f"order {order.id}: credit {reference!r}: restock needs a warehouse")
    credit = SalesCredit(
        order_id=order.id,
        contact_id=order.contact_id,
        reference=reference,
        reason=reason,
        currency=order.currency,
        restock=restock,
        warehouse_id=warehouse.id if warehouse else None,
        created_at=now,
        total_net=Decimal(0),
        total_tax=Decimal(0),
        payment_status=PaymentStatus.UNPAID,
    )
    session.add(credit)
    for number, spec in enumerate(rows, start=1):
        credit.rows.append(
            _credit_row(session, order, spec, where=f"order {order.id}: credit {reference!r}: row {number}")
        )
    credit.total_net = sum((row.net for row in credit.rows), Decimal(0))
    credit.total_tax = sum((row.tax for row in credit.rows), Decimal(0))
    session.flush()
    if restock and warehouse is not None:
        _restock(session, credit, warehouse, now=now)
    return credit


def _credit_row(session: Session, order: SalesOrder, spec: NewCreditRow, *, where: str) -> CreditRow:
    for label, amount in (("net", spec.net), ("tax", spec.tax)):
        if round_money(amount, order.currency) != amount:
            raise InvalidValueError(f"{where}: {label} {amount} is not rounded to {order.currency}")
    if spec.quantity < 0:
        raise InvalidValueError(f"{where}: quantity {spec.quantity} is negative")
    row = CreditRow(name=spec.name, quantity=spec.quantity, net=spec.net, tax=spec.tax)
    if spec.order_row_id is None:
        return row
    order_row = session.get(OrderRow, spec.order_row_id)
    if order_row is None or order_row.order_id != order.id:
        raise InvalidValueError(f"{where}: order row {spec.order_row_id} is not on this order")
    credited = session.scalar(
        select(func.coalesce(func.sum(CreditRow.quantity), 0)).where(CreditRow.order_row_id == order_row.id)
    )
    if int(credited or 0) + spec.quantity > order_row.quantity:
        raise InvalidValueError(
            f"{where}: crediting {spec.quantity} more of {order_row.sku or order_row.name!r} "
            f"exceeds the {order_row.quantity} ordered ({credited} credited already)"
        )
    row.order_row_id, row.product_id, row.sku = order_row.id, order_row.product_id, order_row.sku
    return row


def _restock(session: Session, credit: SalesCredit, warehouse: Warehouse, *, now: datetime) -> None:
    for row in credit.rows:
        product = session.get(Product, row.product_id) if row.product_id is not None else None
        if product is None or not product.stock_tracked or row.quantity == 0:
            continue
        move_stock(
            session,
            product,
            warehouse,
            row.quantity,
            reason=MovementReason.RETURN,
            reference=f"credit:{credit.id}:row:{row.id}",
            now=now,
        )
