"""Small builders for book tests: a seller's book with a channel, a warehouse, products and a contact."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from orderbridge.book.address import Address
from orderbridge.book.catalog import Product, define_bundle, save_product
from orderbridge.book.channels import Channel, ChannelKind, save_channel
from orderbridge.book.contacts import Contact, NewContact, create_contact
from orderbridge.book.inventory import MovementReason, Warehouse, WarehouseKind, add_warehouse, move_stock
from orderbridge.book.orders.booking import book_order
from orderbridge.book.orders.commands import NewOrder, NewRow
from orderbridge.book.orders.model import RowKind, SalesOrder
from orderbridge.book.orders.statuses import ensure_default_statuses, status_by_name
from orderbridge.book.tax import add_nominal_code, add_tax_code

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


@dataclass
class Book:
    session: Session
    channel: Channel
    warehouse: Warehouse
    fba: Warehouse
    contact: Contact
    products: dict[str, Product]

    def product(self, sku: str) -> Product:
        return self.products[sku]

    def receive(self, sku: str, quantity: int, *, warehouse: Warehouse | None = None, ref: str = "") -> None:
        move_stock(
            self.session,
            self.products[sku],
            warehouse or self.warehouse,
            quantity,
            reason=MovementReason.RECEIPT,
            reference=ref or f"receipt:{sku}:{quantity}:{len(self.session.new)}",
            now=NOW,
        )
        self.session.flush()

    def new_order(self, ref: str, rows: tuple[NewRow, ...]) -> NewOrder:
        """An order of these rows as a channel sends it, in the "New order" status."""
        return NewOrder(
            channel_id=self.channel.id,
            external_ref=ref,
            contact_id=self.contact.id,
            status_id=status_by_name(self.session, "New order").id,
            currency="GBP",
            placed_at=NOW,
            rows=rows,
        )

    def order(
        self,
        ref: str,
        lines: list[tuple[str, int]],
        *,
        price: Decimal = Decimal("10.00"),
        shipping: Decimal | None = None,
        currency: str = "GBP",
    ) -> SalesOrder:
        rows = [
            NewRow(
                kind=RowKind.PRODUCT if sku in self.products else RowKind.FREE_TEXT,
                name=f"Item {sku}",
                sku=sku,
                product_id=self.products[sku].id if sku in self.products else None,
                quantity=quantity,
                net=price * quantity,
                tax=(price * quantity * Decimal("0.2")).quantize(Decimal("0.01")),
                tax_code="T20",
            )
            for sku, quantity in lines
        ]
        if shipping is not None:
            rows.append(NewRow(kind=RowKind.SHIPPING, name="Standard", quantity=1, net=shipping))
        order = book_order(
            self.session,
            NewOrder(
                channel_id=self.channel.id,
                external_ref=ref,
                contact_id=self.contact.id,
                status_id=status_by_name(self.session, "New order").id,
                currency=currency,
                placed_at=NOW,
                rows=tuple(rows),
                warehouse_id=self.warehouse.id,
                delivery=Address(name="Ann Buyer", line1="1 High St", postcode="SW1A 1AA", country="GB"),
            ),
            now=NOW,
        )
        self.session.flush()
        return order


def make_book(session: Session, skus: tuple[str, ...] = ("A", "B", "C")) -> Book:
    ensure_default_statuses(session)
    add_tax_code(session, "T20", "Standard 20%", Decimal("0.20"))
    add_nominal_code(session, "4000", "Sales")
    channel = save_channel(session, "amazon-uk", "Amazon UK", ChannelKind.AMAZON, "A1F83G8C2ARO7P")
    warehouse = add_warehouse(session, "MAIN", "Main warehouse")
    fba = add_warehouse(session, "FBA-EU", "Amazon FBA Europe", WarehouseKind.FBA, region="EU")
    products = {sku: save_product(session, sku, f"Product {sku}", sales_nominal_code="4000") for sku in skus}
    session.flush()
    contact = create_contact(session, NewContact(first_name="Ann", last_name="Buyer"), now=NOW)
    session.flush()
    return Book(session, channel, warehouse, fba, contact, products)


def make_bundle(book: Book, sku: str, parts: dict[str, int]) -> Product:
    bundle = save_product(book.session, sku, f"Bundle {sku}")
    book.session.flush()
    define_bundle(book.session, bundle, {book.products[part]: quantity for part, quantity in parts.items()})
    book.session.flush()
    book.products[sku] = bundle
    return bundle
