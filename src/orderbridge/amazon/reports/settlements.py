"""The V2 settlement flat file booked as the seller's settlement records (R1, R2, O4, O16).

SPAPI.md §8.1: the first data row is the summary (settlement id, period, deposit date, total, currency);
each later row is one amount component: `transaction-type` (Order, Refund, other-transaction,
ServiceFee...), `amount-type` (ItemPrice, Promotion, ItemFees, ItemWithheldTax, FBA Inventory
Reimbursement...), `amount-description` (Principal, Commission, FBAPerUnitFulfillmentFee...) and
`amount`. Rows are identified by (settlement id, line): Amazon never rewrites a settlement, and the
same settlement file from another source is refused rather than booked twice. Each line gets its kind
and nominal code here (fees by type from the channel settings); `finish` reconciles every settlement of
the report in the book (`book.settlements.settle`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.orm import Session

from orderbridge.amazon.channel import ChannelSettings, settings_for
from orderbridge.amazon.reports.handlers import (
    ParsedRow,
    ReportContext,
    ReportHandler,
    register_report_handler,
)
from orderbridge.amazon.reports.locales import marketplace_by_name
from orderbridge.amazon.reports.rows import ReportRow, RowError
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.settlements import (
    LineKind,
    NewSettlement,
    Settlement,
    SettlementLine,
    open_settlement,
    order_ids_by_ref,
    settle,
    settlement_by_reference,
)
from orderbridge.book.tax import company
from orderbridge.book.types import AMOUNT_PLACES
from orderbridge.db import insert_rows

SETTLEMENT_REPORT = "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"
LINE_COLUMNS = (
    "settlement_id",
    "line",
    "kind",
    "transaction_type",
    "amount_type",
    "description",
    "amount",
    "order_ref",
    "order_id",
    "shipment_ref",
    "adjustment_ref",
    "sku",
    "quantity",
    "nominal_code",
    "posted_at",
)
# What `parse` reads of every row, in one step (ReportRow.pick), in the order it unpacks them.
COMPONENT_COLUMNS = (
    "settlement-id",
    "total-amount",
    "transaction-type",
    "amount-type",
    "amount-description",
    "amount",
    "quantity-purchased",
    "marketplace-name",
    "posted-date-time",
    "posted-date",
    "order-id",
    "shipment-id",
    "adjustment-id",
    "sku",
)
REQUIRED = (
    "settlement-id",
    "settlement-start-date",
    "settlement-end-date",
    "deposit-date",
    "total-amount",
    "currency",
    "transaction-type",
    "order-id",
    "amount-type",
    "amount-description",
    "amount",
)


@dataclass(frozen=True)
class Summary:
    """The settlement's first row: what Amazon deposits for the period."""

    reference: str
    currency: str
    total: Decimal
    start: datetime | None
    end: datetime | None
    deposit: datetime | None


@dataclass(slots=True)
class Component:
    """One amount of a settlement."""

    reference: str
    line: int
    kind: LineKind
    transaction_type: str
    amount_type: str
    description: str
    amount: Decimal
    order_ref: str
    shipment_ref: str
    adjustment_ref: str
    marketplace_id: str | None
    sku: str
    quantity: int | None
    posted_at: datetime | None


@lru_cache(maxsize=4096)
def line_kind(transaction_type: str, amount_type: str, description: str) -> LineKind:
    """What an amount is, from its three columns (SPAPI.md §8.1 vocabulary; unknown ones: OTHER)."""
    kind = amount_type.lower()
    if kind in ("itemprice", "promotion"):
        return LineKind.REFUND if transaction_type.lower() == "refund" else LineKind.SALE
    if kind == "itemwithheldtax":
        return LineKind.WITHHELD_TAX
    if kind.startswith("fba inventory reimbursement"):
        return LineKind.REIMBURSEMENT
    if "fee" in kind or "fee" in description.lower() or transaction_type.lower() == "servicefee":
        return LineKind.FEE
    return LineKind.OTHER


def _optional_moment(row: ReportRow, *names: str) -> datetime | None:
    if not any(row[name] for name in names):
        return None
    return row.moment(*names)


class SettlementHandler(ReportHandler):
    report_type = SETTLEMENT_REPORT
    required = REQUIRED
    policy = None  # SPAPI.md §7: settlements cannot be requested; they are discovered with getReports

    def row_key(self, row: ReportRow, context: ReportContext) -> str:
        return f"{row.required('settlement-id')}:{row.line}"

    def parse(self, row: ReportRow, context: ReportContext) -> Summary | Component:
        (
            reference,
            total,
            transaction_type,
            amount_type,
            description,
            amount_text,
            quantity,
            market,
            posted_time,
            posted_day,
            order_ref,
            shipment_ref,
            adjustment_ref,
            sku,
        ) = row.pick(COMPONENT_COLUMNS)
        if not reference:
            raise RowError("settlement-id is empty")
        if total:
            return Summary(
                reference,
                row.required("currency").upper(),
                row.decimal("total-amount"),
                _optional_moment(row, "settlement-start-date"),
                _optional_moment(row, "settlement-end-date"),
                _optional_moment(row, "deposit-date"),
            )
        if not transaction_type:
            raise RowError("transaction-type is empty")
        if not amount_type:
            raise RowError("amount-type is empty")
        amount = row.decimal("amount")
        if amount.as_tuple().exponent < -AMOUNT_PLACES:  # type: ignore[operator]
            raise RowError(f"amount: {amount_text!r} has more than {AMOUNT_PLACES} decimal places")
        posted = (posted_time and "posted-date-time") or (posted_day and "posted-date")
        return Component(
            reference,
            row.line,
            line_kind(transaction_type, amount_type, description),
            transaction_type[:60],
            amount_type[:60],
            description[:120],
            amount,
            order_ref[:60],
            shipment_ref[:60],
            adjustment_ref[:60],
            marketplace_by_name(market) if market else None,
            sku[:100],
            row.integer("quantity-purchased") if quantity else None,
            row.moment(posted) if posted else None,
        )

    def book(self, session: Session, context: ReportContext, rows: Sequence[ParsedRow]) -> Mapping[int, str]:
        refused: dict[int, str] = {}
        source = f"amazon report {context.report_id} (account {context.account_id})"
        open_ = _OpenSettlements(session, context, source)
        components: list[Component] = []
        for parsed in rows:
            value = parsed.value
            if isinstance(value, Summary):
                problem = open_.start(value)
            else:
                problem = open_.check(cast(Component, value))
                if problem is None:
                    components.append(value)
            if problem is not None:
                refused[parsed.row.line] = problem
        if components:
            orders = order_ids_by_ref(session, [c.order_ref for c in components if c.order_ref])
            records = [open_.record(c, orders.get(c.order_ref)) for c in components]
            insert_rows(session, cast(Table, SettlementLine.__table__), LINE_COLUMNS, records)
        return refused

    def finish(self, session: Session, context: ReportContext) -> None:
        source = f"amazon report {context.report_id} (account {context.account_id})"
        for settlement in session.scalars(select(Settlement).where(Settlement.source == source)):
            settle(session, settlement, now=context.now)


@dataclass
class _Booking:
    settlement_id: int
    currency: str
    channel_id: int | None
    codes: dict[LineKind, str | None]
    fees: dict[str, str]
    default_fee: str | None


class _OpenSettlements:
    """The settlements one batch writes to, with each one's channel and nominal codes (cached in the
    import's scratch, looked up again when a killed import resumes)."""

    def __init__(self, session: Session, context: ReportContext, source: str) -> None:
        self.session = session
        self.context = context
        self.source = source
        self.open: dict[str, _Booking | str] = context.scratch.setdefault("settlements", {})

    def start(self, summary: Summary) -> str | None:
        markets = self.context.marketplace_ids
        channel_id = _channel_id(self.session, markets[0]) if len(markets) == 1 else None
        existing = settlement_by_reference(self.session, summary.reference)
        if existing is not None and existing.source != self.source:
            self.open[summary.reference] = f"settlement {summary.reference} was booked from {existing.source}"
            return str(self.open[summary.reference])
        settlement = open_settlement(
            self.session,
            NewSettlement(
                summary.reference,
                summary.currency,
                summary.total,
                summary.start,
                summary.end,
                summary.deposit,
                self.source,
                channel_id,
            ),
            now=self.context.now,
        )
        self.open[summary.reference] = self._booking(settlement)
        return None

    def check(self, component: Component) -> str | None:
        booking = self.open.get(component.reference)
        if booking is None:
            settlement = settlement_by_reference(self.session, component.reference)
            if settlement is None:
                booking = f"settlement {component.reference}: no summary row (total-amount) before this line"
            elif settlement.source != self.source:
                booking = f"settlement {component.reference} was booked from {settlement.source}"
            else:
                booking = self._booking(settlement)
            self.open[component.reference] = booking
        if isinstance(booking, str):
            return booking
        if booking.channel_id is None and component.marketplace_id:
            channel_id = _channel_id(self.session, component.marketplace_id)
            if channel_id is not None:
                settlement = self.session.get(Settlement, booking.settlement_id)
                assert settlement is not None
                settlement.channel_id = channel_id
                self.open[component.reference] = self._booking(settlement)
        return None

    def _booking(self, settlement: Settlement) -> _Booking:
        channel = self.session.get(Channel, settlement.channel_id) if settlement.channel_id else None
        settings = settings_for(self.session, channel) if channel is not None else ChannelSettings()
        sales = settings.sales_nominal_code or company(self.session).sales_nominal_code
        return _Booking(
            settlement.id,
            settlement.currency,
            settlement.channel_id,
            {
                LineKind.SALE: sales,
                LineKind.REFUND: sales,
                LineKind.WITHHELD_TAX: settings.withheld_tax_nominal_code,
                LineKind.REIMBURSEMENT: settings.reimbursement_nominal_code,
                LineKind.OTHER: settings.other_settlement_nominal_code,
            },
            dict(settings.fee_nominal_codes),
            settings.fee_nominal_code,
        )

    def record(self, component: Component, order_id: int | None) -> tuple[Any, ...]:
        """The settlement line as a row of LINE_COLUMNS."""
        booking = self.open[component.reference]
        assert isinstance(booking, _Booking)
        if component.kind == LineKind.FEE:
            code = booking.fees.get(component.description, booking.default_fee)
        else:
            code = booking.codes.get(component.kind)
        return (
            booking.settlement_id,
            component.line,
            component.kind.value,
            component.transaction_type,
            component.amount_type,
            component.description,
            component.amount,
            component.order_ref or None,
            order_id,
            component.shipment_ref or None,
            component.adjustment_ref or None,
            component.sku or None,
            component.quantity,
            code,
            component.posted_at,
        )


def _channel_id(session: Session, marketplace_id: str) -> int | None:
    return session.scalar(
        select(Channel.id).where(Channel.kind == ChannelKind.AMAZON, Channel.marketplace_id == marketplace_id)
    )


register_report_handler(SettlementHandler())
