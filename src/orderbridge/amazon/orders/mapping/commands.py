"""What mapping reads besides the order (facts looked up in the book) and what it returns (MappedOrder)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from orderbridge.amazon.listings import SeenListing
from orderbridge.book.address import Address
from orderbridge.book.contacts import NewContact
from orderbridge.book.orders.commands import NewOrder


@dataclass(frozen=True)
class ListingFact:
    """A connected listing's product or bundle, as mapping needs it (O5, O7, O13, O17)."""

    product_id: int
    name: str
    is_bundle: bool = False
    tax_class: str | None = None
    sales_nominal_code: str | None = None


@dataclass(frozen=True)
class TaxChoice:
    """The tax code the tax rules pick (O13) and its rate (0.20 for 20 %)."""

    code: str
    rate: Decimal


@dataclass(frozen=True)
class ContactMatch:
    """An existing contact the buyer's e-mail key matched within the window (C4, C8)."""

    contact_id: int
    billing: Address = field(default_factory=Address)


@dataclass(frozen=True)
class OrderFacts:
    """What the book knows that an order needs: connected listings by seller SKU, tax codes by product
    tax class (None: shipping and unconnected rows), the matched contact and the buyer's e-mail key."""

    listings: Mapping[str, ListingFact] = field(default_factory=dict)
    tax: Mapping[str | None, TaxChoice] = field(default_factory=dict)
    contact: ContactMatch | None = None
    email_key: str | None = None


class AmazonState(StrEnum):
    PENDING = "pending"
    READY = "ready"
    CANCELLED = "cancelled"


class Outcome(StrEnum):
    BOOK = "book"  # book it, or update the booked order
    WAIT = "wait"  # O1: pending and pending download is off: nothing yet
    SKIP = "skip"  # O19: not a sale the book supports; recorded with the reason
    CANCEL = "cancel"  # O21/O22: cancelled at Amazon


@dataclass(frozen=True)
class FieldValue:
    """A sales-order custom field value (O12, O18, O20): the setting that chose the field, its code."""

    setting: str
    code: str
    value: str | bool


@dataclass(frozen=True)
class AlertSpec:
    """An alert to raise on the booked order; messages carry SKUs and ids, never buyer data."""

    kind: str
    message: str
    channel_wide: bool = False  # about the channel's settings: one warning on the channel, not the order


@dataclass(frozen=True)
class AmazonPackage:
    """A package Amazon reports for an FBM order (`packages[]`): shipped at Amazon or confirmed by us."""

    reference: str
    shipped_at: datetime | None
    carrier: str | None
    tracking_number: str | None
    items: Mapping[str, int] = field(default_factory=dict)  # orderItemId -> units; empty when not given


@dataclass(frozen=True)
class AtAmazon:
    """What Amazon reports it did to the order, whoever did it (O24): units shipped per order item, the
    packages, when the order was shipped in full and when it was cancelled (None while not)."""

    fulfilled: Mapping[str, int] = field(default_factory=dict)
    packages: tuple[AmazonPackage, ...] = ()
    shipped_at: datetime | None = None
    cancelled_at: datetime | None = None
    by_amazon: bool = False

    @property
    def anything(self) -> bool:
        return bool(self.shipped_at or self.cancelled_at or any(self.fulfilled.values()))


@dataclass(frozen=True)
class MappedOrder:
    """One Amazon order turned into book commands, plus the decisions the apply step carries out."""

    amazon_order_id: str
    channel_id: int
    last_updated: datetime
    state: AmazonState
    outcome: Outcome
    reason: str | None = None
    order: NewOrder | None = None
    new_contact: NewContact | None = None
    shipping_method: str | None = None
    field_values: tuple[FieldValue, ...] = ()
    alerts: tuple[AlertSpec, ...] = ()
    item_quantities: Mapping[str, int] = field(default_factory=dict)
    cancellation_requested: bool = False
    seen_listings: tuple[SeenListing, ...] = ()
    seller_fulfilled_prime: bool = False
    skip_shipment_confirmation: bool = False
    at_amazon: AtAmazon = field(default_factory=AtAmazon)
