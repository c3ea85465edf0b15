"""What a caller asks the book to book: a new order and its rows, as plain values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from orderbridge.book.address import Address
from orderbridge.book.orders.model import Fulfilment, RowKind


@dataclass(frozen=True)
class NewRow:
    """A row as the channel sent it. `net` and `tax` are row totals, already in the order's currency."""

    kind: RowKind
    name: str
    quantity: int
    net: Decimal
    tax: Decimal = Decimal(0)
    sku: str | None = None
    product_id: int | None = None
    tax_code: str | None = None
    nominal_code: str | None = None
    external_ref: str | None = None


@dataclass(frozen=True)
class NewOrder:
    channel_id: int
    external_ref: str
    contact_id: int
    status_id: int
    currency: str
    placed_at: datetime
    rows: tuple[NewRow, ...]
    billing: Address = field(default_factory=Address)
    delivery: Address = field(default_factory=Address)
    fulfilment: Fulfilment = Fulfilment.SELLER
    warehouse_id: int | None = None
    shipping_method_id: int | None = None
    price_list_id: int | None = None
    withheld_tax: Decimal = Decimal(0)
    notes: tuple[str, ...] = ()
    note_source: str = "channel"
    channel_programs: str | None = None
    confirm_shipments: bool = True
    ship_by: datetime | None = None
    deliver_by: datetime | None = None
