"""The FBA inventory ledger's rows (GET_LEDGER_DETAIL_VIEW_DATA, SPAPI.md §8.3) as read from the file.

A row's identity leaves out the Reconciled / Unreconciled columns, which Amazon changes later (a lost
unit found or reimbursed), and starts with the row's date and time so that a file's rows sit side by
side in the entries' identity index. Rows identical in every column are distinct events (F10: two units
left): the second and later twins of a file carry their occurrence (`twin_identity`), so the same rows
downloaded again map to the same identities.
"""

from __future__ import annotations

import hashlib
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from datetime import datetime

from orderbridge.amazon.reports.rows import ReportRow, RowError, whole_number
from orderbridge.book.inventory import MovementReason

LEDGER = "GET_LEDGER_DETAIL_VIEW_DATA"
REPLACEMENTS = "GET_FBA_FULFILLMENT_CUSTOMER_SHIPMENT_REPLACEMENT_DATA"

# SPAPI.md §8.3, "Adjustment reason codes" (Seller Central help G4FKT5KQWFFJ7LDN).
LOST_CODES = frozenset({"M", "5"})
DAMAGED_CODES = frozenset({"6", "7", "E", "H", "K", "U"})
ADJUSTMENT_REASONS: dict[str, MovementReason] = {
    **dict.fromkeys(LOST_CODES, MovementReason.LOST),
    **dict.fromkeys(DAMAGED_CODES, MovementReason.DAMAGED),
    **dict.fromkeys(("D", "G"), MovementReason.DISPOSED),
    **dict.fromkeys(("F", "N"), MovementReason.FOUND),
    **dict.fromkeys(("O", "3", "4", "P", "Q"), MovementReason.CORRECTION),
}
EVENT_TYPES = frozenset(
    {"Shipments", "Receipts", "CustomerReturns", "Adjustments", "WhseTransfers", "VendorReturns"}
)
MOVED_ELSEWHERE = frozenset({"Receipts", "CustomerReturns"})  # by inbound (F4) and returns (F8)
IDENTITY_TIME = 40  # characters of a row's date and time kept at the front of its identity


@dataclass(slots=True)
class LedgerRow:
    """One ledger row, parsed. `identity` leaves out the reconciliation columns."""

    identity: str
    happened_at: datetime
    sku: str
    fnsku: str
    event_type: str
    reference_id: str
    quantity: int
    fulfillment_center: str
    disposition: str
    reason: str
    country: str
    reconciled: int
    unreconciled: int

    @property
    def sellable(self) -> bool:
        return self.disposition.lower() == "sellable"

    @property
    def claimable(self) -> bool:
        """Lost or damaged at Amazon: units Amazon owes the seller for (claims)."""
        return (
            self.event_type == "Adjustments"
            and self.reason in LOST_CODES | DAMAGED_CODES
            and self.quantity < 0
        )

    def movement_reason(self) -> MovementReason | None:
        """How this row changes the FBA warehouse's sellable stock (None: it does not)."""
        if not self.sellable or self.quantity == 0 or self.event_type in MOVED_ELSEWHERE:
            return None
        if self.event_type == "Adjustments":
            return ADJUSTMENT_REASONS[self.reason]
        if self.event_type == "WhseTransfers":
            return MovementReason.TRANSFER_IN if self.quantity > 0 else MovementReason.TRANSFER_OUT
        if self.event_type == "VendorReturns":
            return MovementReason.REMOVAL
        return MovementReason.SHIPMENT


# What a ledger row is read as, in one step (ReportRow.pick); the first nine make its identity.
LEDGER_COLUMNS = (
    "Date and Time",
    "Date",
    "FNSKU",
    "MSKU",
    "Event Type",
    "Reference ID",
    "Fulfillment Center",
    "Disposition",
    "Reason",
    "Quantity",
    "Country",
    "Reconciled Quantity",
    "Unreconciled Quantity",
)


def row_identity(values: tuple[str, ...]) -> str:
    """The row's date and time as written, then a digest of its identifying columns. The date leads so
    that a file's rows (in date order) go into the identity index side by side: a bare digest put each
    row on a random page of an index of millions, and every batch rewrote thousands of its pages. With
    the time in front, the digest only tells apart rows of the same second: 96 bits is plenty."""
    at, day, fnsku, sku, event_type, reference, centre, disposition, reason, quantity = values[:10]
    when = (at or day).replace("|", "/")  # "|" separates the parts of a row key
    parts = (when, fnsku, sku, event_type, reference, centre, disposition, reason, quantity)
    digest = hashlib.sha1("|".join(parts).encode("utf-8"), usedforsecurity=False).digest()
    return f"{when[:IDENTITY_TIME]}|{urlsafe_b64encode(digest[:12]).decode('ascii')}"


def twin_identity(key: str, occurrence: int) -> str:
    """The row key of the `occurrence`-th of rows identical in every column (F10: each is an event):
    the identity gets `.n` after its digest; an adjustment's reconciliation columns stay after it."""
    identity, reconciliation = key_identity(key)
    twin = f"{identity}.{occurrence}"
    return twin if reconciliation is None else f"{twin}|{reconciliation[0]}|{reconciliation[1]}"


def key_identity(key: str) -> tuple[str, tuple[str, str] | None]:
    """A row key's entry identity and, for an adjustment, the reconciliation columns it carries."""
    if key.count("|") < 3:  # not an adjustment's: the key is the identity
        return key, None
    when, digest, reconciled, unreconciled = key.split("|", 3)
    return f"{when}|{digest}", (reconciled, unreconciled)


def parse_ledger_row(row: ReportRow, identity: str | None = None) -> LedgerRow:
    """A ledger row, or RowError naming the column and value that is wrong."""
    values = row.pick(LEDGER_COLUMNS)
    (
        _at,
        _day,
        fnsku,
        sku,
        event_type,
        reference,
        centre,
        disposition,
        reason,
        quantity,
        country,
        reconciled,
        unreconciled,
    ) = values
    if not event_type:
        raise RowError("Event Type is empty")
    if event_type not in EVENT_TYPES:
        raise RowError(
            f"Event Type: unknown event type {event_type!r} (expected one of {sorted(EVENT_TYPES)})"
        )
    if event_type == "Adjustments" and reason not in ADJUSTMENT_REASONS:
        raise RowError(f"Reason: unknown adjustment reason code {reason!r} (SPAPI.md §8.3)")
    happened_at = row.moment("Date and Time", "Date")
    if not sku:
        raise RowError("MSKU is empty")
    whole = whole_number("Quantity", quantity)
    for name, value in (("Fulfillment Center", centre), ("Disposition", disposition), ("Country", country)):
        if not value:
            raise RowError(f"{name} is empty")
    return LedgerRow(
        identity=row_identity(values) if identity is None else identity,
        happened_at=happened_at,
        sku=sku,
        fnsku=fnsku,
        event_type=event_type,
        reference_id=reference,
        quantity=whole,
        fulfillment_center=centre,
        disposition=disposition,
        reason=reason,
        country=country.upper(),
        reconciled=whole_number("Reconciled Quantity", reconciled, 0),
        unreconciled=whole_number("Unreconciled Quantity", unreconciled, 0),
    )
