"""Report handlers: what books the rows of one report type, and the registry that finds them.

A handler names the columns it needs, says what identifies a row (`row_key`), turns a row into its own
value without touching the store (`parse`, which raises `RowError` for a bad row), books a batch of
parsed rows inside the batch's transaction (`book`, which may refuse single rows), and runs once more
after the last row (`finish`, e.g. reconciling a settlement). The pipeline in `booking.py` does the
rest: download, decode, stream, skip rows already booked, quarantine bad rows, record progress.
Handlers register themselves with `register_report_handler` when their module is imported;
`load_handlers()` imports every module that holds one.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, ClassVar, NamedTuple

from sqlalchemy.orm import Session

from orderbridge.amazon.reports.locales import ReportLocale
from orderbridge.amazon.reports.rows import ReportRow
from orderbridge.errors import OrderbridgeError

# Modules holding handlers; each registers its handlers on import. Add yours here.
HANDLER_MODULES: list[str] = [
    "orderbridge.amazon.reports.settlements",
    "orderbridge.amazon.fba.ledger",
    "orderbridge.amazon.fba.claims",
    "orderbridge.amazon.reports.returns",
]
KEY_LIMIT = 200


class UnknownReportType(OrderbridgeError):
    """No handler books this report type; the message lists the ones that exist."""


@dataclass
class ReportContext:
    """What a handler knows about the report being booked. `scratch` lives for one import run (cache
    ids there, e.g. the settlement's id); it is empty again when a killed import resumes."""

    account_id: int
    report_pk: int  # AmazonReport.id: reference it from what you book (traceability, F10)
    report_id: str  # Amazon's reportId, or `file:<sha256>` for an imported file
    report_type: str
    marketplace_ids: tuple[str, ...]
    locale: ReportLocale
    now: datetime
    scratch: dict[str, Any] = field(default_factory=dict)

    @property
    def marketplace_id(self) -> str | None:
        return self.marketplace_ids[0] if self.marketplace_ids else None


class ParsedRow(NamedTuple):
    """A row that parsed: the raw row (line, columns), its identity and the handler's value (a tuple:
    a million of them are made per million-row report)."""

    row: ReportRow
    key: str
    value: Any


@dataclass(frozen=True)
class WindowPolicy:
    """How often a requested report type is asked for and over which data window (SPAPI.md §7)."""

    every: timedelta  # schedule in `orderbridge run`
    first_lookback: timedelta  # window start of an account's very first request
    max_span: timedelta  # longest window one request may cover (e.g. 60 days for MFN returns)
    overlap: timedelta = timedelta(hours=1)  # each window starts this much before the last one ended
    lag: timedelta = timedelta(minutes=2)  # windows end this much before now


class ReportHandler:
    """Base class: override `report_type`, `required`, `row_key`, `parse` and `book` (and `finish`).

    `policy` None means Amazon makes the report on its own (settlements: discovered with getReports)."""

    report_type: ClassVar[str] = ""
    required: ClassVar[tuple[str, ...]] = ()
    policy: ClassVar[WindowPolicy | None] = None
    # Tables `book` looks each batch's rows up in (by identity), besides the inbox: their statistics
    # are refreshed early in a large import (PostgreSQL), so those look-ups stay index probes.
    looked_up: ClassVar[tuple[str, ...]] = ()
    # True when the handler's own table records every booked row by its identity, with the report and
    # line it came from (the FBA ledger's entries): the inbox then keeps only the quarantined rows, and
    # `booked_keys` says which identities are booked. One record per row instead of two is what lets a
    # million-row ledger book at the rate issue 6 asks for.
    keeps_booked_rows: ClassVar[bool] = False

    def row_key(self, row: ReportRow, context: ReportContext) -> str:
        """The row's identity, stable across downloads (at most 200 characters; see `row_identity`)."""
        raise NotImplementedError

    def parse(self, row: ReportRow, context: ReportContext) -> Any:
        """The row as the handler's own value; raise `RowError` to quarantine it. No store access."""
        raise NotImplementedError

    def book(self, session: Session, context: ReportContext, rows: Sequence[ParsedRow]) -> Mapping[int, str]:
        """Book a batch (rows never booked before, in file order) in the open transaction. Return
        {line: reason} for rows refused (quarantined); everything else counts as booked."""
        raise NotImplementedError

    def twin_basis(self, key: str) -> str:
        """What makes two rows twins (F10: identical in every column). The key itself, unless part of it
        may change between downloads of the same event (the ledger's reconciliation columns)."""
        return key

    def twin_key(self, key: str, occurrence: int) -> str:
        """The key of the `occurrence`-th (2, 3 ...) twin of a row in one file: its own event (F10).
        The first occurrence keeps the row's key, so files without twins keep their identities."""
        return row_identity(key, f"#{occurrence}")

    def booked_keys(self, session: Session, context: ReportContext, keys: Sequence[str]) -> set[str]:
        """Which of these row keys the handler's own records hold as booked (`keeps_booked_rows`)."""
        raise NotImplementedError

    def finish(self, session: Session, context: ReportContext) -> None:
        """After the last batch, in its own transaction; runs again when the same report is re-run."""


def row_identity(*parts: str) -> str:
    """A compact identity from a row's identifying values; long ones become a SHA-256 digest."""
    key = "|".join(parts)
    if len(key) <= KEY_LIMIT:
        return key
    return "sha256:" + hashlib.sha256(key.encode("utf-8")).hexdigest()


_HANDLERS: dict[str, ReportHandler] = {}


def register_report_handler(handler: ReportHandler) -> ReportHandler:
    """Make `handler` the one that books its report type (a later registration replaces it)."""
    if not handler.report_type:
        raise ValueError(f"{type(handler).__name__}: report_type is not set")
    _HANDLERS[handler.report_type] = handler
    return handler


def load_handlers() -> dict[str, ReportHandler]:
    """Import every handler module (once) and return the registry: report type -> handler."""
    for module in HANDLER_MODULES:
        importlib.import_module(module)
    return dict(_HANDLERS)


def handler_for(report_type: str) -> ReportHandler:
    handlers = load_handlers()
    handler = handlers.get(report_type)
    if handler is None:
        known = ", ".join(sorted(handlers)) or "none"
        raise UnknownReportType(f"report type {report_type!r}: no handler books it (known: {known})")
    return handler
