"""The report handlers of the FBA ledger and of replacements: row keys, parsing, booking in batches.

`ledger_booking.py` says how each row moves stock; these handlers give it the rows of a report batch,
look up the batch's known entries once, and let a re-downloaded adjustment whose reconciliation changed
reach the booking (which updates its entry and moves nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from orderbridge.amazon.fba.ledger_booking import book_ledger_rows, book_replacements, known_entries
from orderbridge.amazon.fba.ledger_rows import (
    LEDGER,
    LEDGER_COLUMNS,
    REPLACEMENTS,
    LedgerRow,
    key_identity,
    parse_ledger_row,
    row_identity,
    twin_identity,
)
from orderbridge.amazon.reports.handlers import (
    ParsedRow,
    ReportContext,
    ReportHandler,
    WindowPolicy,
    register_report_handler,
)
from orderbridge.amazon.reports.rows import ReportRow, RowError, whole_number


class LedgerHandler(ReportHandler):
    report_type = LEDGER
    required = ("Date", "MSKU", "Event Type", "Quantity", "Fulfillment Center", "Disposition", "Country")
    # Near-real-time FBA report: regenerated at most every 30 minutes (SPAPI.md §7). The first window
    # reaches as far back as the inbound poll's (90 days), so every shipment it sees has its receipts
    # here: those before the opening balance are in Amazon's count (opening.py).
    policy = WindowPolicy(
        every=timedelta(hours=1), first_lookback=timedelta(days=90), max_span=timedelta(days=31)
    )
    looked_up = ("fba_ledger_entries",)
    keeps_booked_rows = True  # each entry holds its identity, report and line

    def row_key(self, row: ReportRow, context: ReportContext) -> str:
        # An adjustment's key carries the reconciliation columns, so a re-download in which Amazon
        # reconciled a row reaches `book`, which updates the entry and moves nothing.
        values = row.pick(LEDGER_COLUMNS)
        key = row_identity(values)
        if values[4] == "Adjustments":
            key += f"|{values[11]}|{values[12]}"
        return key

    def twin_basis(self, key: str) -> str:
        return key_identity(key)[0]  # twins are counted without the reconciliation columns

    def twin_key(self, key: str, occurrence: int) -> str:
        return twin_identity(key, occurrence)

    def booked_keys(self, session: Session, context: ReportContext, keys: Sequence[str]) -> set[str]:
        wanted = {key: key_identity(key) for key in keys}
        entries = known_entries(
            session, context.account_id, list({identity for identity, _ in wanted.values()})
        )
        context.scratch[KNOWN_ENTRIES] = entries  # `book` of this batch reuses the look-up
        booked = set()
        for key, (identity, reconciliation) in wanted.items():
            entry = entries.get(identity)
            if entry is not None and (reconciliation is None or _same(reconciliation, entry[1:])):
                booked.add(key)
        return booked

    def parse(self, row: ReportRow, context: ReportContext) -> LedgerRow:
        return parse_ledger_row(row, identity="")  # `book` takes it from the row key, computed once

    def book(self, session: Session, context: ReportContext, rows: Sequence[ParsedRow]) -> Mapping[int, str]:
        pairs = []
        for parsed in rows:
            parsed.value.identity = key_identity(parsed.key)[0]
            pairs.append((parsed.row.line, parsed.value))
        return book_ledger_rows(
            session,
            context.account_id,
            pairs,
            report_pk=context.report_pk,
            cache=context.scratch,
            known=context.scratch.pop(KNOWN_ENTRIES, None),
        )


KNOWN_ENTRIES = "ledger entries of the batch"


def _same(reconciliation: tuple[str, str], stored: tuple[int, int]) -> bool:
    """Whether a row's Reconciled / Unreconciled columns (as written) equal an entry's."""
    try:
        return (whole_number("", reconciliation[0], 0), whole_number("", reconciliation[1], 0)) == stored
    except RowError:
        return False  # not a number: `parse` quarantines the row, naming the column


class ReplacementsHandler(ReportHandler):
    report_type = REPLACEMENTS
    required = ("shipment-date", "sku", "quantity", "replacement-amazon-order-id", "original-amazon-order-id")
    policy = WindowPolicy(
        every=timedelta(hours=6), first_lookback=timedelta(days=30), max_span=timedelta(days=31)
    )

    def row_key(self, row: ReportRow, context: ReportContext) -> str:
        return f"{row['replacement-amazon-order-id']}|{row['sku']}"

    def parse(self, row: ReportRow, context: ReportContext) -> dict[str, Any]:
        quantity = row.integer("quantity")
        if quantity <= 0:
            raise RowError(f"quantity: {quantity} is not a positive number of units")
        return {
            "replacement_order_id": row.required("replacement-amazon-order-id"),
            "original_order_id": row.required("original-amazon-order-id"),
            "sku": row.required("sku"),
            "quantity": quantity,
            "reason_code": row["replacement-reason-code"],
            "shipped_at": row.moment("shipment-date"),
        }

    def book(self, session: Session, context: ReportContext, rows: Sequence[ParsedRow]) -> Mapping[int, str]:
        book_replacements(session, context.account_id, [parsed.value for parsed in rows])
        return {}


register_report_handler(LedgerHandler())
register_report_handler(ReplacementsHandler())
