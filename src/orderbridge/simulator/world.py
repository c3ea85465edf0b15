"""The sandbox world: seller accounts, listings, buyers, orders, FBA events and a time-ordered scheduler."""

from __future__ import annotations

import heapq
import random
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from orderbridge.simulator.clock import iso

Doc = dict[str, Any]


@dataclass
class SellerAccount:
    """A selling partner with the LWA credentials an app holds for it (SPAPI.md §2.1)."""

    seller_id: str
    name: str
    region: str
    marketplace_ids: list[str]
    client_id: str
    client_secret: str
    refresh_token: str


@dataclass
class Listing:
    """One SKU of a seller, offered in some marketplaces, fulfilled by Amazon or the merchant."""

    seller_id: str
    sku: str
    asin: str
    fnsku: str
    title: str
    prices: dict[str, Decimal]  # marketplace code -> unit price (net in NA, VAT-inclusive in EU)
    fulfilled_by: str = "MERCHANT"
    quantity: int = 0  # FBM quantity available (patchListingsItem / JSON_LISTINGS_FEED)


@dataclass
class Buyer:
    """A buyer; Amazon gives each buyer a relay e-mail per marketplace."""

    buyer_id: str
    name: str
    emails: dict[str, str]
    address: dict[str, str]
    company: str = ""
    vat_number: str = ""


@dataclass
class SimOrder:
    """An order: the canonical v2026 `Order` document plus the sandbox's own bookkeeping."""

    seller_id: str
    doc: Doc
    created_ts: float
    updated_ts: float
    visible_ts: float
    buyer_id: str = ""
    revision: int = 0
    cache: dict[int, bytes] = field(default_factory=dict)

    @property
    def order_id(self) -> str:
        return str(self.doc["orderId"])

    @property
    def status(self) -> str:
        return str(self.doc["fulfillment"]["fulfillmentStatus"])

    @property
    def fulfilled_by(self) -> str:
        return str(self.doc["fulfillment"].get("fulfilledBy", "MERCHANT"))

    @property
    def marketplace_id(self) -> str:
        return str(self.doc["salesChannel"].get("marketplaceId", ""))


@dataclass
class LedgerEvent:
    """One row of the inventory ledger (SPAPI.md §8.3)."""

    seller_id: str
    ts: float
    sku: str
    event_type: str
    reference_id: str
    quantity: int
    fulfillment_center: str
    disposition: str = "SELLABLE"
    reason: str = ""
    country: str = "US"
    # Lost / damaged rows: units Amazon has since resolved (reimbursed or found), shown in the report's
    # Reconciled / Unreconciled Quantity columns, which change after the row was first published.
    reconciled: int | None = None


@dataclass
class FbaEvent:
    """An FBA fact behind the returns / replacements / reimbursements reports (SPAPI.md §8.2, §8.4, §8.5)."""

    seller_id: str
    kind: str  # RETURN | REPLACEMENT | REIMBURSEMENT | MFN_RETURN
    ts: float
    sku: str
    order_id: str
    quantity: int
    fields: dict[str, str] = field(default_factory=dict)


@dataclass
class FinancialEvent:
    """One settlement amount component (SPAPI.md §8.1: amount-type / amount-description / amount)."""

    seller_id: str
    marketplace_id: str
    ts: float
    transaction_type: str
    order_id: str
    amount_type: str
    amount_description: str
    amount: Decimal
    sku: str = ""
    quantity: int | None = None
    order_item_code: str = ""
    merchant_order_id: str = ""
    adjustment_id: str = ""
    shipment_id: str = ""
    fulfillment_id: str = ""


@dataclass
class InboundItem:
    """One SKU line of an inbound shipment (SPAPI.md §9.1)."""

    sku: str
    fnsku: str
    quantity_shipped: int
    quantity_received: int = 0
    quantity_in_case: int = 0
    receive_target: int | None = None  # what the FC will end up receiving (over/short receipts)


@dataclass
class InboundShipment:
    """An FBA inbound shipment moving WORKING -> ... -> CLOSED."""

    seller_id: str
    shipment_id: str
    name: str
    marketplace_id: str
    destination: str
    status: str
    updated_ts: float
    items: list[InboundItem]
    ship_from: dict[str, str]


class TimeIndex:
    """Orders sorted by one timestamp, for cheap range queries with bisect."""

    def __init__(self) -> None:
        self.keys: list[tuple[float, str]] = []

    def add(self, ts: float, order_id: str) -> None:
        insort(self.keys, (ts, order_id))

    def remove(self, ts: float, order_id: str) -> None:
        i = bisect_left(self.keys, (ts, order_id))
        if i < len(self.keys) and self.keys[i] == (ts, order_id):
            del self.keys[i]

    def between(self, low: float, high: float) -> list[str]:
        i = bisect_left(self.keys, (low, ""))
        j = bisect_right(self.keys, (high, "\uffff"))
        return [order_id for _, order_id in self.keys[i:j]]


@dataclass(order=True)
class Scheduled:
    """A future world event, ordered by time then insertion."""

    ts: float
    seq: int
    kind: str = field(compare=False)
    key: str = field(compare=False)
    data: dict[str, Any] = field(compare=False, default_factory=dict)


Handler = Callable[["World", Scheduled], None]


@dataclass
class Trickle:
    """New orders placed while the sandbox runs: about `orders_per_day` a virtual day, with the generator's
    mix; `placed` counts them (each order's random source is derived from the seed and that count, so a
    resumed world carries on the same stream) and `next_ts` is when the next one comes."""

    orders_per_day: float
    mix: dict[str, float]
    seed: int = 7
    placed: int = 0
    next_ts: float | None = None


class World:
    """Everything the sandbox knows; all changes happen at the world's current virtual time."""

    def __init__(self, *, now: float, seed: int = 0) -> None:
        self.now = now
        self.rng = random.Random(seed)
        self.accounts: dict[str, SellerAccount] = {}
        self.listings: dict[tuple[str, str], Listing] = {}
        self.buyers: dict[str, Buyer] = {}
        self.orders: dict[str, SimOrder] = {}
        self.created_index: dict[str, TimeIndex] = {}
        self.updated_index: dict[str, TimeIndex] = {}
        self.ledger: list[LedgerEvent] = []
        self.fba_events: list[FbaEvent] = []
        self.financial_events: list[FinancialEvent] = []
        self.inbound: dict[str, InboundShipment] = {}
        self.stock: dict[tuple[str, str, str], int] = {}  # (seller, sku, fc) -> sellable FBA units
        self.unit_ledger_rows: set[str] = set()  # FBA orders whose shipment is one ledger row per unit
        self.handlers: dict[str, Handler] = {}
        self.trickle: Trickle | None = None
        self.settlement_days = 14.0  # Amazon's standard settlement period
        self.listeners: list[Callable[[World], None]] = []
        self._queue: list[Scheduled] = []
        self._seq = 0

    # -- accounts and catalogue -------------------------------------------------------------
    def add_account(self, account: SellerAccount) -> None:
        self.accounts[account.seller_id] = account
        self.created_index.setdefault(account.seller_id, TimeIndex())
        self.updated_index.setdefault(account.seller_id, TimeIndex())

    def account_by_refresh_token(self, refresh_token: str) -> SellerAccount | None:
        return next((a for a in self.accounts.values() if a.refresh_token == refresh_token), None)

    def add_listing(self, listing: Listing) -> None:
        self.listings[(listing.seller_id, listing.sku)] = listing

    def listing(self, seller_id: str, sku: str) -> Listing | None:
        return self.listings.get((seller_id, sku))

    def record_ledger(self, event: LedgerEvent) -> None:
        """Append a ledger row and keep the sellable stock per fulfilment centre in step."""
        self.ledger.append(event)
        if event.disposition == "SELLABLE":
            key = (event.seller_id, event.sku, event.fulfillment_center)
            self.stock[key] = self.stock.get(key, 0) + event.quantity

    # -- orders -----------------------------------------------------------------------------
    def add_order(self, order: SimOrder) -> None:
        if order.order_id in self.orders:
            raise ValueError(f"order {order.order_id} exists already")
        self.orders[order.order_id] = order
        self.created_index[order.seller_id].add(order.created_ts, order.order_id)
        self.updated_index[order.seller_id].add(order.updated_ts, order.order_id)

    def touch(self, order: SimOrder, ts: float | None = None) -> None:
        """Record a change to an order: new lastUpdatedTime, new revision, serialisation cache dropped."""
        moment = self.now if ts is None else ts
        index = self.updated_index[order.seller_id]
        index.remove(order.updated_ts, order.order_id)
        order.updated_ts = max(order.updated_ts, moment)
        order.doc["lastUpdatedTime"] = iso(order.updated_ts)
        index.add(order.updated_ts, order.order_id)
        order.revision += 1
        order.cache.clear()

    # -- scheduler --------------------------------------------------------------------------
    def schedule(self, ts: float, kind: str, key: str, **data: Any) -> None:
        self._seq += 1
        heapq.heappush(self._queue, Scheduled(ts, self._seq, kind, key, data))

    def pending(self, kinds: frozenset[str]) -> list[Scheduled]:
        """The scheduled events of the given kinds, in time order (what a world file keeps)."""
        return sorted(event for event in self._queue if event.kind in kinds)

    def next_due(self) -> float | None:
        """When the earliest scheduled event is due (None when nothing is scheduled)."""
        return self._queue[0].ts if self._queue else None

    def catch_up(self, moment: float) -> None:
        """Run every scheduled event due up to `moment`, in time order, then move `now` there."""
        while self._queue and self._queue[0].ts <= moment:
            event = heapq.heappop(self._queue)
            self.now = max(self.now, event.ts)
            handler = self.handlers.get(event.kind)
            if handler is not None:
                handler(self, event)
        self.now = max(self.now, moment)
        for listener in self.listeners:
            listener(self)
