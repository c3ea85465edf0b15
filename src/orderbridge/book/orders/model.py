"""The sales order model: orders, their rows, statuses, shipping methods, notes and shipments."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from orderbridge.book.address import (
    Address,
    BillingAddressColumns,
    DeliveryAddressColumns,
    read_address,
)
from orderbridge.book.contacts import Contact
from orderbridge.book.pii import PIIRecordColumns, pii_column
from orderbridge.book.types import Amount, UtcDateTime
from orderbridge.db import Base, BigId


class RowKind(StrEnum):
    PRODUCT = "product"
    BUNDLE = "bundle"
    FREE_TEXT = "free_text"
    SHIPPING = "shipping"
    GIFT_WRAP = "gift_wrap"
    COD_FEE = "cod_fee"  # the cash-on-delivery charge the buyer paid
    DELIVERY_TIP = "delivery_tip"  # a tip for the delivery, charged apart from the goods


class PaymentStatus(StrEnum):
    UNPAID = "unpaid"
    PART_PAID = "part_paid"
    PAID = "paid"


class Fulfilment(StrEnum):
    """Who ships: the seller (FBM, SFP) or the channel itself (FBA, never shipped by the seller)."""

    SELLER = "seller"
    CHANNEL = "channel"


class OrderStatus(Base):
    """One status of the seller's configurable list; exactly the `is_cancelled` ones mean Cancelled."""

    __tablename__ = "order_statuses"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(60), unique=True)
    is_cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)


class ShippingMethod(Base):
    """O8: a shipping method named as the channel names it, with the carrier sent on shipment."""

    __tablename__ = "shipping_methods"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    carrier: Mapped[str | None] = mapped_column(String(100))


class SalesOrder(PIIRecordColumns, BillingAddressColumns, DeliveryAddressColumns, Base):
    __tablename__ = "sales_orders"
    # The order list pages by (placed_at, id) under each filter, the search finds a channel's order id,
    # the chart counts per day and channel, and the dashboard counts orders past retention: each reads
    # one index range, so the pages stay fast with a million orders.
    __table_args__ = (
        UniqueConstraint("channel_id", "external_ref"),
        Index("ix_sales_orders_placed", "placed_at", "id"),
        Index("ix_sales_orders_channel_placed", "channel_id", "placed_at", "id"),
        Index("ix_sales_orders_status_placed", "status_id", "placed_at", "id"),
        Index("ix_sales_orders_fulfilment_placed", "fulfilment", "placed_at", "id"),
        Index("ix_sales_orders_placed_channel", "placed_at", "channel_id"),
        Index("ix_sales_orders_external_ref", "external_ref"),
        Index("ix_sales_orders_live_shipped", "pii_redacted_at", "shipped_at"),
        Index("ix_sales_orders_live_cancelled", "pii_redacted_at", "cancelled_at"),
        Index("ix_sales_orders_live_channel_shipped", "pii_redacted_at", "channel_shipped_at"),
        Index("ix_sales_orders_live_channel_cancelled", "pii_redacted_at", "channel_cancelled_at"),
        # The late and due-today lists: unshipped orders by ship-by date, one range scan.
        Index("ix_sales_orders_unshipped_ship_by", "shipped_at", "ship_by", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    external_ref: Mapped[str] = mapped_column(String(60))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    status_id: Mapped[int] = mapped_column(ForeignKey("order_statuses.id"))
    payment_status: Mapped[PaymentStatus] = mapped_column(String(20), default=PaymentStatus.UNPAID)
    fulfilment: Mapped[Fulfilment] = mapped_column(String(20), default=Fulfilment.SELLER)
    currency: Mapped[str] = mapped_column(String(3))
    price_list_id: Mapped[int | None] = mapped_column(ForeignKey("price_lists.id"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    shipping_method_id: Mapped[int | None] = mapped_column(ForeignKey("shipping_methods.id"))
    placed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # What the channel reports it did outside the book (O24): the order shipped in full, or cancelled
    # after the book took it (the book order is left as it is, O22). The retention clock starts at the
    # first of these and the book's own shipment or cancellation (P1).
    channel_shipped_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    channel_cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The channel's programs for the order (Amazon: PRIME, AMAZON_EASY_SHIP, PREMIUM, ...), space-separated.
    channel_programs: Mapped[str | None] = mapped_column(String(300))
    # False when the channel learns of shipments by itself (Amazon collects Easy Ship orders; another
    # system confirms Seller Fulfilled Prime ones): shipping in the book then sends no confirmation.
    confirm_shipments: Mapped[bool] = mapped_column(Boolean, default=True)
    # The channel's promise to the buyer: ship by (latest ship date), deliver by (latest delivery date).
    ship_by: Mapped[datetime | None] = mapped_column(UtcDateTime())
    deliver_by: Mapped[datetime | None] = mapped_column(UtcDateTime())
    total_net: Mapped[Decimal] = mapped_column(Amount(), default=Decimal(0))
    total_tax: Mapped[Decimal] = mapped_column(Amount(), default=Decimal(0))
    total_gross: Mapped[Decimal] = mapped_column(Amount(), default=Decimal(0))
    withheld_tax: Mapped[Decimal] = mapped_column(Amount(), default=Decimal(0))
    # O16/R2: the withheld tax the order itself gave, kept when a settlement withheld another amount (the
    # settlement's figure then stands in `withheld_tax`); None while no settlement corrected it.
    withheld_tax_as_booked: Mapped[Decimal | None] = mapped_column(Amount())
    withheld_tax_corrected_by: Mapped[str | None] = mapped_column(String(100))
    amount_paid: Mapped[Decimal] = mapped_column(Amount(), default=Decimal(0))

    rows: Mapped[list[OrderRow]] = relationship(
        back_populates="order", order_by="OrderRow.position", cascade="all, delete-orphan"
    )
    status: Mapped[OrderStatus] = relationship(lazy="joined")
    contact: Mapped[Contact] = relationship()
    shipping_method: Mapped[ShippingMethod | None] = relationship(lazy="joined")
    notes: Mapped[list[OrderNote]] = relationship(order_by="OrderNote.id", cascade="all, delete-orphan")
    shipments: Mapped[list[Shipment]] = relationship(order_by="Shipment.id", cascade="all, delete-orphan")

    @property
    def billing_address(self) -> Address:
        return read_address(self, "billing")

    @property
    def delivery_address(self) -> Address:
        return read_address(self, "delivery")

    @property
    def is_cancelled(self) -> bool:
        return self.status.is_cancelled

    @property
    def amount_owed(self) -> Decimal:
        """O16: what the channel owes the seller: the gross less tax the marketplace withheld."""
        return self.total_gross - self.withheld_tax


class OrderRow(Base):
    __tablename__ = "order_rows"
    __table_args__ = (
        UniqueConstraint("order_id", "position"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("allocated >= 0 AND shipped >= 0", name="counts_not_negative"),
        CheckConstraint("allocated + shipped <= quantity", name="allocated_and_shipped_within_quantity"),
        CheckConstraint(
            "kind IN ('product') OR (allocated = 0 AND shipped = 0)", name="only_products_allocate_or_ship"
        ),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[RowKind] = mapped_column(String(20))
    parent_row_id: Mapped[int | None] = mapped_column(ForeignKey("order_rows.id"))
    external_ref: Mapped[str | None] = mapped_column(String(60))
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str | None] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column(Integer)
    cancelled_quantity: Mapped[int] = mapped_column(Integer, default=0)
    net: Mapped[Decimal] = mapped_column(Amount())
    tax: Mapped[Decimal] = mapped_column(Amount())
    tax_code: Mapped[str | None] = mapped_column(ForeignKey("tax_codes.code"))
    nominal_code: Mapped[str | None] = mapped_column(ForeignKey("nominal_codes.code"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    allocated: Mapped[int] = mapped_column(Integer, default=0)
    shipped: Mapped[int] = mapped_column(Integer, default=0)

    order: Mapped[SalesOrder] = relationship(back_populates="rows")
    parent: Mapped[OrderRow | None] = relationship(remote_side=[id])

    @property
    def gross(self) -> Decimal:
        return self.net + self.tax

    @property
    def unit_net(self) -> Decimal:
        return self.net / self.quantity if self.quantity else Decimal(0)


class OrderNote(PIIRecordColumns, Base):
    __tablename__ = "order_notes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id", ondelete="CASCADE"), index=True)
    body: Mapped[str | None] = pii_column()
    source: Mapped[str] = mapped_column(String(40))
    added_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Shipment(Base):
    __tablename__ = "shipments"
    __table_args__ = (UniqueConstraint("order_id", "reference"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("sales_orders.id", ondelete="CASCADE"), index=True)
    reference: Mapped[str] = mapped_column(String(100))
    shipped_at: Mapped[datetime] = mapped_column(UtcDateTime())
    carrier: Mapped[str | None] = mapped_column(String(100))
    tracking_number: Mapped[str | None] = mapped_column(String(100))
    shipping_method_id: Mapped[int | None] = mapped_column(ForeignKey("shipping_methods.id"))
    # Shipped outside the book and reported by the channel (O24): recorded, never confirmed back to it.
    made_at_channel: Mapped[bool] = mapped_column(Boolean, default=False)
    # Raised by each correction of carrier or tracking: the outbox resends the confirmation per revision.
    revision: Mapped[int] = mapped_column(Integer, default=0)

    rows: Mapped[list[ShipmentRow]] = relationship(cascade="all, delete-orphan", lazy="selectin")


class ShipmentRow(Base):
    __tablename__ = "shipment_rows"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id", ondelete="CASCADE"), primary_key=True)
    row_id: Mapped[int] = mapped_column(ForeignKey("order_rows.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)
