"""Returns from Amazon as sales credits against the original order (F1, F2, F8).

Two reports: FBA customer returns (GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA, §8.2) and seller-fulfilled
returns (GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE, §8.8). Each returned line becomes one credit whose
reference is the report row, with a row per returned SKU and its amounts.

Stock: an FBA return goes back into the FBA warehouse only in the SELLABLE disposition (F8), whatever
the channel setting, because Amazon holds those units and sells them again; other dispositions stay
out of sellable stock. An FBM return goes back into the seller's warehouse when the channel's
`returns_to_stock` setting says so (F2).

Money: the refund Amazon settled for that order and SKU (`book.settlements.refunds_for_order`), split
into net and tax like the order row. While no settlement carries the refund yet, the order row's own
prices stand in and the credit is marked to be repriced; each later run reprices it from the settlement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Boolean, ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.amazon.fba.places import places, products_for
from orderbridge.amazon.fba.records import opening_cutoff
from orderbridge.amazon.listings import Listing
from orderbridge.amazon.not_sales import NotASale, not_a_sale
from orderbridge.amazon.reports.handlers import (
    ParsedRow,
    ReportContext,
    ReportHandler,
    WindowPolicy,
    register_report_handler,
)
from orderbridge.amazon.reports.rows import ReportRow, RowError
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.credits import CreditRow, NewCreditRow, SalesCredit, credit_order
from orderbridge.book.inventory import MovementReason, move_stock
from orderbridge.book.money import round_money
from orderbridge.book.orders.model import OrderRow, RowKind, SalesOrder
from orderbridge.book.payments import refund_credit
from orderbridge.book.settlements import RefundAmount, refunds_for_order
from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base

FBA_RETURNS = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
MFN_RETURNS = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
SELLABLE = "SELLABLE"


@dataclass(frozen=True)
class Return:
    """One returned line, from either report."""

    reference: str  # the report row's identity: the credit's reference
    order_ref: str
    sku: str
    quantity: int
    returned_at: datetime
    fba: bool
    disposition: str
    reason: str


class ReturnCredit(Base):
    """Which credit a return became, and whether its amounts still await the settlement's refund."""

    __tablename__ = "amazon_return_credits"
    credit_id: Mapped[int] = mapped_column(
        ForeignKey("sales_credits.id", ondelete="CASCADE"), primary_key=True
    )
    order_ref: Mapped[str] = mapped_column(String(60), index=True)
    sku: Mapped[str] = mapped_column(String(100))
    disposition: Mapped[str] = mapped_column(String(40))
    returned_at: Mapped[datetime] = mapped_column(UtcDateTime())
    priced_from_order: Mapped[bool] = mapped_column(Boolean, index=True)
    settlement_ref: Mapped[str | None] = mapped_column(String(40))


def book_return(
    session: Session, item: Return, *, account_id: int, opening: datetime | None = None
) -> SalesCredit | None:
    """The credit for one returned line (once per reference); RowError when the order or SKU is unknown.
    An FBA return processed before the FBA opening balance's cutoff (`opening`) is in that count: it is
    credited without going back into stock again. A return of an order the book did not take as a sale
    (a multi-channel order) is no credit: only its sellable unit goes back into FBA stock (None)."""
    found = _booked_order(session, item.order_ref)
    if found is None:
        skipped = not_a_sale(session, item.order_ref)
        if skipped is None:
            raise RowError(
                f"order {item.order_ref} is not in the book (yet): the return books once the order does"
            )
        _restock_without_credit(session, item, skipped, account_id=account_id, opening=opening)
        return None
    order, channel = found
    rows = returned_rows(session, order, channel, item.sku)
    if not rows:
        raise RowError(f"order {item.order_ref}: has no row of SKU {item.sku!r}")
    where = places(session, channel.marketplace_id or "", account_id)
    if item.fba:
        warehouse = where.fba_warehouse
        restock = item.disposition == SELLABLE and warehouse is not None  # F8
        restock = restock and (opening is None or item.returned_at >= opening)
    else:
        warehouse = where.own_warehouse
        restock = where.returns_to_stock and warehouse is not None  # F2
    refund = _refund(session, order, item.sku)
    specs = _credit_rows(order, rows, item.quantity, refund)
    reason = f"Amazon return ({item.disposition or 'no disposition'}): {item.reason}"[:200]
    credit = credit_order(
        session, order, specs, reference=item.reference, now=item.returned_at, restock=restock,
        warehouse=warehouse if restock else None, reason=reason,
    )  # fmt: skip
    if session.get(ReturnCredit, credit.id) is None:
        session.add(
            ReturnCredit(
                credit_id=credit.id, order_ref=item.order_ref, sku=item.sku, disposition=item.disposition,
                returned_at=item.returned_at, priced_from_order=refund is None,
                settlement_ref=refund.settlement_ref if refund else None,
            )
        )  # fmt: skip
        if refund is not None:
            _pay(session, credit, refund)
    return credit


def returned_rows(session: Session, order: SalesOrder, channel: Channel, seller_sku: str) -> list[OrderRow]:
    """The order's product rows of a returned seller SKU, found as the order found them: through the
    listing on the order's channel to its product (listing `MUG-FBA` -> product `MUG`); the rows that
    carry the SKU itself only when no connected listing names it."""
    top = [row for row in order.rows if row.kind == RowKind.PRODUCT and row.parent_row_id is None]
    listed = session.scalar(
        select(Listing.product_id).where(Listing.channel_id == channel.id, Listing.seller_sku == seller_sku)
    )
    if listed is not None:
        return [row for row in top if row.product_id == listed]
    return [row for row in top if row.sku == seller_sku]


def _booked_order(session: Session, order_ref: str) -> tuple[SalesOrder, Channel] | None:
    found = session.execute(
        select(SalesOrder, Channel)
        .join(Channel, Channel.id == SalesOrder.channel_id)
        .where(SalesOrder.external_ref == order_ref, Channel.kind == ChannelKind.AMAZON)
    ).first()
    return None if found is None else (found[0], found[1])


def _restock_without_credit(
    session: Session, item: Return, skipped: NotASale, *, account_id: int, opening: datetime | None
) -> None:
    """A returned unit of an order that was no sale of the book's: Amazon took it back into FBA stock
    (SELLABLE, F8) as for any return, and the ledger row that shipped it out took it from the book's
    FBA stock; nothing is credited (the seller refunds the buyer where the order was sold). An FBM
    return of such an order cannot happen (Amazon fulfilled it); any other disposition moves nothing."""
    if not item.fba or item.disposition != SELLABLE or (opening is not None and item.returned_at < opening):
        return
    channel = session.get(Channel, skipped.channel_id)
    assert channel is not None
    warehouse = places(session, channel.marketplace_id or "", account_id).fba_warehouse
    product = products_for(session, channel.id, [item.sku]).get(item.sku)
    if warehouse is None or product is None:
        raise RowError(
            f"order {item.order_ref} ({skipped.reason}): returned SKU {item.sku!r} has no "
            "stock-tracked product through a listing or no FBA warehouse to go back into"
        )
    move_stock(
        session, product, warehouse, item.quantity, reason=MovementReason.RETURN, reference=item.reference,
        now=item.returned_at, note=f"Amazon return of order {item.order_ref}, no sale of the book's"[:200],
    )  # fmt: skip


def _refund(session: Session, order: SalesOrder, sku: str) -> RefundAmount | None:
    for refund in refunds_for_order(session, order_id=order.id):
        if refund.sku == sku and refund.refunded:
            return refund
    return None


def _credit_rows(
    order: SalesOrder, rows: list[OrderRow], quantity: int, refund: RefundAmount | None
) -> list[NewCreditRow]:
    """Credit `quantity` across the SKU's rows; money from the refund (split like the row) or the row."""
    specs: list[NewCreditRow] = []
    left = quantity
    refund_units = (refund.quantity or quantity) if refund is not None else 0
    for row in rows:
        if left <= 0:
            break
        units = min(left, row.quantity) if row.quantity else left
        left -= units
        share = Decimal(units) / Decimal(row.quantity) if row.quantity else Decimal(1)
        net, tax = row.net * share, row.tax * share
        if refund is not None:
            gross = refund.refunded * Decimal(units) / Decimal(refund_units)
            ratio = row.tax / row.gross if row.gross else Decimal(0)
            tax = gross * ratio
            net = gross - tax
        net, tax = round_money(net, order.currency), round_money(tax, order.currency)
        specs.append(NewCreditRow(name=row.name, quantity=units, net=net, tax=tax, order_row_id=row.id))
    if left > 0:
        raise RowError(
            f"order {order.external_ref}: returns {quantity} of a SKU it sold {quantity - left} of"
        )
    return specs


def _pay(session: Session, credit: SalesCredit, refund: RefundAmount) -> None:
    refund_credit(
        session, credit, credit.total_gross, method="amazon",
        reference=f"settlement {refund.settlement_ref}", paid_at=refund.posted_at or credit.created_at,
    )  # fmt: skip


def reprice_credits(session: Session) -> int:
    """Credits priced from the order whose refund a settlement now carries: take the refund's amounts."""
    changed = 0
    pending = session.scalars(select(ReturnCredit).where(ReturnCredit.priced_from_order.is_(True)))
    for link in list(pending):
        credit = session.get(SalesCredit, link.credit_id)
        if credit is None:
            continue
        order = session.get(SalesOrder, credit.order_id)
        assert order is not None
        refund = _refund(session, order, link.sku)
        if refund is None:
            continue
        rows = {row.id: row for row in order.rows}
        quantity = sum(row.quantity for row in credit.rows)
        order_rows = [rows[row.order_row_id] for row in credit.rows if row.order_row_id in rows]
        specs = _credit_rows(order, order_rows, quantity, refund)
        for credit_row, spec in zip(credit.rows, specs, strict=False):
            credit_row.net, credit_row.tax = spec.net, spec.tax
        credit.total_net = sum((row.net for row in credit.rows), Decimal(0))
        credit.total_tax = sum((row.tax for row in credit.rows), Decimal(0))
        link.priced_from_order, link.settlement_ref = False, refund.settlement_ref
        _pay(session, credit, refund)
        changed += 1
    return changed


def credits_for_order(session: Session, order_id: int) -> list[SalesCredit]:
    return list(session.scalars(select(SalesCredit).where(SalesCredit.order_id == order_id)))


def credited_units(session: Session, order_row_id: int) -> int:
    rows = session.scalars(select(CreditRow.quantity).where(CreditRow.order_row_id == order_row_id))
    return sum(rows)


class _ReturnsHandler(ReportHandler):
    def book(self, session: Session, context: ReportContext, rows: Sequence[ParsedRow]) -> Mapping[int, str]:
        refused: dict[int, str] = {}
        if "opening" not in context.scratch:
            context.scratch["opening"] = opening_cutoff(session, context.account_id)
        for parsed in rows:
            try:
                with session.begin_nested():
                    book_return(
                        session,
                        parsed.value,
                        account_id=context.account_id,
                        opening=context.scratch["opening"],
                    )
            except RowError as error:
                refused[parsed.row.line] = str(error)
        return refused

    def finish(self, session: Session, context: ReportContext) -> None:
        reprice_credits(session)


class FbaReturnsHandler(_ReturnsHandler):
    report_type = FBA_RETURNS
    required = ("return-date", "sku", "quantity", "detailed-disposition")
    policy = WindowPolicy(
        every=timedelta(hours=6), first_lookback=timedelta(days=30), max_span=timedelta(days=31)
    )

    def row_key(self, row: ReportRow, context: ReportContext) -> str:
        order = row.get("order-id", "amazon-order-id")
        return f"fba-return|{order}|{row['sku']}|{row['license-plate-number']}|{row['return-date']}"

    def parse(self, row: ReportRow, context: ReportContext) -> Return:
        quantity = row.integer("quantity")
        if quantity <= 0:
            raise RowError(f"quantity: {quantity} is not a positive number of units")
        order = row.get("order-id", "amazon-order-id")  # SPAPI.md §8.2: both spellings exist
        if not order:
            raise RowError("order-id / amazon-order-id is empty")
        unit = row["license-plate-number"] or row["return-date"]
        return Return(
            reference=f"return:{order}:{unit}:{row['sku']}"[:200],
            order_ref=order, sku=row.required("sku"), quantity=quantity,
            returned_at=row.moment("return-date"), fba=True,
            disposition=row.required("detailed-disposition").upper(), reason=row["reason"],
        )  # fmt: skip


class MfnReturnsHandler(_ReturnsHandler):
    report_type = MFN_RETURNS
    required = ("Order ID", "Return request date", "Merchant SKU", "Return quantity")
    # At most 60 days per request (SPAPI.md §8.8).
    policy = WindowPolicy(
        every=timedelta(hours=12), first_lookback=timedelta(days=30), max_span=timedelta(days=60)
    )

    def row_key(self, row: ReportRow, context: ReportContext) -> str:
        return f"mfn-return|{row['Order ID']}|{row['Amazon RMA ID']}|{row['Merchant SKU']}"

    def parse(self, row: ReportRow, context: ReportContext) -> Return:
        quantity = row.integer("Return quantity")
        if quantity <= 0:
            raise RowError(f"Return quantity: {quantity} is not a positive number of units")
        order = row.required("Order ID")
        rma = row["Amazon RMA ID"] or row["Return request date"]
        return Return(
            reference=f"return:{order}:{rma}:{row['Merchant SKU']}"[:200],
            order_ref=order, sku=row.required("Merchant SKU"), quantity=quantity,
            returned_at=row.moment("Return delivery date", "Return request date"), fba=False,
            disposition=row["Return type"].upper(), reason=row["Return Reason"],
        )  # fmt: skip


register_report_handler(FbaReturnsHandler())
register_report_handler(MfnReturnsHandler())
