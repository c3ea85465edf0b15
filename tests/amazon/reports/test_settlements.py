"""Settlement files booked through the report machinery on both stores (R1, R2, O4, O16, F10)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.accounts import NewAccount, add_account
from orderbridge.amazon.channel import ChannelSettingsError, change_settings, channel_for
from orderbridge.amazon.reports.booking import (
    ImportResult,
    ReportSource,
    import_report_file,
    retry_quarantined_rows,
)
from orderbridge.amazon.reports.inbox import AmazonReport, ReportRowRecord, RowStatus, quarantined_rows
from orderbridge.amazon.reports.rows import ReportFileError
from orderbridge.amazon.reports.settlements import SETTLEMENT_REPORT
from orderbridge.book import settlements as book_settlements
from orderbridge.book.alerts import Subject, open_alerts
from orderbridge.book.contacts import NewContact, create_contact
from orderbridge.book.money_trail import order_trail
from orderbridge.book.orders.booking import book_order
from orderbridge.book.orders.commands import NewOrder, NewRow
from orderbridge.book.orders.model import PaymentStatus, RowKind, SalesOrder
from orderbridge.book.orders.statuses import ensure_default_statuses, status_by_name
from orderbridge.book.settlements import (
    LineKind,
    Settlement,
    SettlementLine,
    SettlementStatus,
    refunds_for_order,
    settle_waiting,
    totals_by_kind,
    unknown_order_count,
    unknown_orders,
)
from orderbridge.book.tax import add_nominal_code, add_tax_code
from orderbridge.db import make_engine, session_factory
from orderbridge.privacy.keystore import open_keystore

US = "ATVPDKIKX0DER"
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
HEADER = (
    "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\t"
    "transaction-type\torder-id\tmerchant-order-id\tadjustment-id\tshipment-id\tmarketplace-name\t"
    "amount-type\tamount-description\tamount\tfulfillment-id\tposted-date\tposted-date-time\t"
    "order-item-code\tmerchant-order-item-id\tmerchant-adjustment-item-id\tsku\tquantity-purchased\t"
    "promotion-id"
)


def line(  # noqa: PLR0917 - one settlement row, in the file's column order
    tx: str, order: str, amount_type: str, description: str, amount: str, sku: str = "SKU-1", qty: str = "1"
) -> str:
    return "\t".join(
        [
            "1234567",
            "",
            "",
            "",
            "",
            "",
            tx,
            order,
            "",
            "",
            "",
            "Amazon.com",
            amount_type,
            description,
            amount,
            "AFN",
            "02/20/2026",
            "2026-02-20T10:00:00+00:00",
            "",
            "",
            "",
            sku,
            qty,
            "",
        ]
    )


def settlement_text(total: str, lines: list[str]) -> str:
    summary = "\t".join(
        [
            "1234567",
            "2026-02-14T00:00:00+00:00",
            "2026-02-28T00:00:00+00:00",
            "2026-03-02T00:00:00+00:00",
            total,
            "USD",
        ]
        + [""] * 18
    )
    return "\n".join([HEADER, summary, *lines]) + "\n"


SALE = [
    line("Order", "111-0000001-0000001", "ItemPrice", "Principal", "20.00"),
    line("Order", "111-0000001-0000001", "ItemPrice", "Tax", "1.65"),
    line("Order", "111-0000001-0000001", "ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", "-1.65"),
    line("Order", "111-0000001-0000001", "ItemFees", "Commission", "-3.00"),
    line("Order", "111-0000001-0000001", "ItemFees", "FBAPerUnitFulfillmentFee", "-3.22"),
    line("Order", "999-9999999-9999999", "ItemPrice", "Principal", "5.00", sku="SKU-2"),
    line("Refund", "111-0000001-0000001", "ItemPrice", "Principal", "-20.00"),
    line("Refund", "111-0000001-0000001", "ItemFees", "Commission", "3.00"),
]
TOTAL = "1.78"  # 20 + 1.65 - 1.65 - 3 - 3.22 + 5 - 20 + 3


@dataclass
class Book:
    sessions: sessionmaker[Session]
    account_id: int
    tmp: Path

    def write(self, name: str, text: str, encoding: str = "utf-8") -> Path:
        path = self.tmp / name
        path.write_bytes(text.encode(encoding))
        return path

    def run(self, path: Path, report_id: str | None = None) -> ImportResult:
        return import_report_file(
            self.sessions,
            account_id=self.account_id,
            report_type=SETTLEMENT_REPORT,
            path=path,
            clock=lambda: NOW,
            source=ReportSource(report_id=report_id),
        )


@pytest.fixture
def settled(fresh_store_url: str, tmp_path: Path) -> Iterator[Book]:
    engine = make_engine(fresh_store_url)
    sessions = session_factory(engine)
    keys = open_keystore(tmp_path / "keys", key_file=tmp_path / "kek", environ={})
    with sessions.begin() as session:
        ensure_default_statuses(session)
        add_tax_code(session, "ZERO", "No tax", Decimal(0))
        for code, name in (("4000", "Sales"), ("5100", "Commission"), ("5200", "Fees"), ("2200", "Tax")):
            add_nominal_code(session, code, name)
        session.flush()
        account = add_account(
            session,
            keys,
            NewAccount(
                selling_partner_id="A1SELLER",
                name="Shop",
                region="NA",
                lwa_client_id="amzn1.application-oa2-client.x",
                client_secret="secret",
                refresh_token="Atzr|token",
                marketplaces=[US],
            ),
            clock=lambda: NOW,
        )
        channel = channel_for(session, US)
        change_settings(
            session,
            channel,
            {
                "sales_nominal_code": "4000",
                "fee_nominal_codes": "Commission=5100",
                "fee_nominal_code": "5200",
                "withheld_tax_nominal_code": "2200",
            },
        )
        contact = create_contact(session, NewContact(first_name="Buyer", email="b@example.com"), now=NOW)
        session.flush()
        book_order(
            session,
            NewOrder(
                channel_id=channel.id,
                external_ref="111-0000001-0000001",
                contact_id=contact.id,
                status_id=status_by_name(session, "New order").id,
                currency="USD",
                placed_at=NOW,
                rows=(
                    NewRow(
                        kind=RowKind.FREE_TEXT,
                        name="Item",
                        sku="SKU-1",
                        quantity=1,
                        net=Decimal("20.00"),
                        tax=Decimal("1.65"),
                        tax_code="ZERO",
                    ),
                ),
                withheld_tax=Decimal("0"),
            ),
            now=NOW,
        )
        account_id = account.id
    yield Book(sessions, account_id, tmp_path)
    engine.dispose()


STORES = pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)


def order(session: Session) -> SalesOrder:
    found = session.scalar(select(SalesOrder).where(SalesOrder.external_ref == "111-0000001-0000001"))
    assert found is not None
    return found


@STORES
def test_r2_settlement_pays_its_orders_records_fees_refunds_withheld_tax_and_reconciles(
    settled: Book,
) -> None:
    # given a settlement of one known order (sold, fees, withheld tax, refunded) and one unknown order
    path = settled.write("settlement.txt", settlement_text(TOTAL, SALE))
    # when it is imported
    settled.run(path)
    # then the order is paid with what the settlement released for it (O4) ...
    with settled.sessions() as session:
        booked = order(session)
        assert booked.amount_paid == Decimal("20.00")  # 20 + 1.65 tax - 1.65 withheld (O16)
        assert booked.withheld_tax == Decimal("1.65")
        assert booked.payment_status == PaymentStatus.PAID
        settlement = session.scalar(select(Settlement))
        assert settlement is not None
        assert settlement.status == SettlementStatus.RECONCILED
        assert settlement.deposit_total == settlement.lines_total == Decimal(TOTAL)
        # ... fees by type with their nominal codes, withheld tax and refunds recorded
        kinds = {
            (t.kind, t.description): (t.amount, t.nominal_code)
            for t in totals_by_kind(session, settlement.id)
        }
        assert kinds[(LineKind.FEE, "Commission")] == (Decimal("0.00"), "5100")
        assert kinds[(LineKind.FEE, "FBAPerUnitFulfillmentFee")] == (Decimal("-3.22"), "5200")
        assert kinds[(LineKind.WITHHELD_TAX, "MarketplaceFacilitatorTax-Principal")] == (
            Decimal("-1.65"),
            "2200",
        )
        assert kinds[(LineKind.REFUND, "Principal")] == (Decimal("-20.00"), "4000")
        # refund money is there for the returns' sales credits (F1)
        (refund,) = refunds_for_order(session, order_id=booked.id)
        assert (refund.sku, refund.quantity, refund.refunded, refund.fees) == (
            "SKU-1",
            1,
            Decimal("20.00"),
            Decimal("3.00"),
        )
        # the order the book lacks is listed, not dropped
        alerts = open_alerts(session, Subject.SETTLEMENT, settlement.id)
        assert [a.kind for a in alerts] == ["settlement_unknown_orders"]
        assert "999-9999999-9999999" in alerts[0].message
        unknown = session.scalar(
            select(SettlementLine).where(SettlementLine.order_ref == "999-9999999-9999999")
        )
        assert unknown is not None and unknown.order_id is None and unknown.amount == Decimal("5.00")


@STORES
def test_f10_the_same_settlement_imported_twice_books_nothing_twice(settled: Book) -> None:
    path = settled.write("settlement.txt", settlement_text(TOTAL, SALE))
    settled.run(path)
    again = settled.run(path, report_id="4711")  # the same settlement under another report id
    assert again.booked == 0 and again.known == len(SALE) + 1
    assert settled.run(path).already_booked  # the same file again: booked before, not read
    with settled.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SettlementLine)) == len(SALE)
        assert order(session).amount_paid == Decimal("20.00")


@STORES
def test_r2_a_settlement_that_does_not_balance_raises_an_alert_naming_the_difference(settled: Book) -> None:
    settled.run(settled.write("settlement.txt", settlement_text("10.00", SALE)))
    with settled.sessions() as session:
        settlement = session.scalar(select(Settlement))
        assert settlement is not None and settlement.status == SettlementStatus.UNBALANCED
        (alert,) = [a for a in open_alerts(session, Subject.SETTLEMENT) if a.kind == "settlement_unbalanced"]
        assert "difference 8.22 USD" in alert.message


@STORES
def test_f10_a_bad_row_is_quarantined_with_its_line_while_the_rest_books(settled: Book) -> None:
    lines = [*SALE[:3], line("Order", "111-0000001-0000001", "ItemFees", "Commission", "three"), *SALE[4:]]
    settled.run(settled.write("settlement.txt", settlement_text(TOTAL, lines)))
    with settled.sessions() as session:
        (bad,) = quarantined_rows(session)
        assert bad.line == 6 and "amount: 'three' is not an amount" in (bad.reason or "")
        assert session.scalar(select(func.count()).select_from(SettlementLine)) == len(SALE) - 1
        settlement = session.scalar(select(Settlement))
        assert settlement is not None and settlement.status == SettlementStatus.UNBALANCED
        # after a fix (the row corrected in place), retrying books it and the settlement reconciles
        session.get(ReportRowRecord, bad.id).content = SALE[3]  # type: ignore[union-attr]
        session.commit()
    retried = retry_quarantined_rows(
        settled.sessions, account_id=settled.account_id, report_type=SETTLEMENT_REPORT, clock=lambda: NOW
    )
    assert retried.booked == 1
    with settled.sessions() as session:
        settlement = session.scalar(select(Settlement))
        assert settlement is not None and settlement.status == SettlementStatus.RECONCILED


@STORES
def test_a_missing_required_column_refuses_the_file_naming_it(settled: Book) -> None:
    text = settlement_text(TOTAL, SALE).replace("amount-type", "amount-kind", 1)
    with pytest.raises(ReportFileError, match="'amount-type' missing"):
        settled.run(settled.write("settlement.txt", text))
    with settled.sessions() as session:
        report = session.scalar(select(AmazonReport))
        assert report is not None and report.state == "failed" and "amount-type" in (report.error or "")


@STORES
def test_cp1252_file_with_comma_decimals_and_extra_columns_books(settled: Book) -> None:
    # a Seller Central download in cp1252 with a German-style amount and an unknown extra column
    lines = [line("Order", "111-0000001-0000001", "ItemPrice", "Principal", "20,00", sku="SKU-\u00e9")]
    text = settlement_text("20,00", lines).replace("promotion-id", "promotion-id\tneue-spalte")
    settled.run(settled.write("settlement.txt", text, encoding="cp1252"))
    with settled.sessions() as session:
        (booked,) = session.scalars(select(SettlementLine))
        assert booked.amount == Decimal("20.00") and booked.sku == "SKU-\u00e9"
        assert (
            session.scalar(
                select(func.count())
                .select_from(ReportRowRecord)
                .where(ReportRowRecord.status == RowStatus.BOOKED)
            )
            == 2
        )


class Killed(Exception):
    """Stands in for a process killed between two batches."""


@STORES
def test_f10_an_import_killed_mid_file_resumes_and_books_nothing_twice(settled: Book) -> None:
    path = settled.write("settlement.txt", settlement_text(TOTAL, SALE))

    def kill(read: int) -> None:
        raise Killed(read)

    # given an import killed after its first batch of three rows
    with pytest.raises(Killed):
        import_report_file(
            settled.sessions,
            account_id=settled.account_id,
            report_type=SETTLEMENT_REPORT,
            path=path,
            clock=lambda: NOW,
            batch_size=3,
            progress=kill,
        )
    with settled.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SettlementLine)) == 2  # summary + 2 lines
        assert order(session).amount_paid == 0  # not settled yet: the finish step never ran
    # when it runs again, it books the rest once and settles
    result = settled.run(path)
    assert (result.known, result.booked) == (3, len(SALE) + 1 - 3)
    with settled.sessions() as session:
        assert session.scalar(select(func.count()).select_from(SettlementLine)) == len(SALE)
        assert order(session).amount_paid == Decimal("20.00")
        settlement = session.scalar(select(Settlement))
        assert settlement is not None and settlement.status == SettlementStatus.RECONCILED


@STORES
def test_r2_money_trail_goes_from_the_order_to_its_settlement_lines_and_explains_the_variance(
    settled: Book,
) -> None:
    with settled.sessions() as session:
        before = order_trail(session, order(session))
        assert not before.settlements
        assert [v.reason for v in before.variances] == [
            "not in a settlement yet (Amazon pays out about every 14 days)"
        ]
    settled.run(settled.write("settlement.txt", settlement_text(TOTAL, SALE)))
    with settled.sessions() as session:
        trail = order_trail(session, order(session))
        (step,) = trail.settlements
        assert (step.sales, step.withheld_tax, step.fees) == (
            Decimal("21.65"),
            Decimal("-1.65"),
            Decimal("-6.22"),
        )
        assert step.refunds == Decimal("-17.00")  # 20 refunded, 3 commission given back
        assert trail.released == trail.amount_paid == Decimal("20.00")
        assert trail.received == Decimal("-3.22")
        reasons = {v.reason.split(" (")[0].split(":")[0]: v.amount for v in trail.variances}
        assert reasons["channel fees"] == Decimal("-6.22")
        assert reasons["refunded to the buyer"] == Decimal("-17.00")


@STORES
def test_r2_fee_nominal_code_settings_name_what_is_wrong(settled: Book) -> None:
    with settled.sessions() as session:
        channel = channel_for(session, US)
        with pytest.raises(ChannelSettingsError, match="fee_nominal_codes: Commission: nominal code '9999'"):
            change_settings(session, channel, {"fee_nominal_codes": "Commission=9999"})
        with pytest.raises(ChannelSettingsError, match="'Commission' is not TYPE=CODE"):
            change_settings(session, channel, {"fee_nominal_codes": "Commission"})
        with pytest.raises(ChannelSettingsError, match="withheld_tax_nominal_code: nominal code 'X'"):
            change_settings(session, channel, {"withheld_tax_nominal_code": "X"})


@STORES
def test_o4_an_order_booked_after_its_settlement_is_paid_when_settlements_are_checked_again(
    settled: Book,
) -> None:
    settled.run(settled.write("settlement.txt", settlement_text(TOTAL, SALE)))
    with settled.sessions.begin() as session:
        late = order(session)
        book_order(
            session,
            NewOrder(
                channel_id=late.channel_id,
                external_ref="999-9999999-9999999",
                contact_id=late.contact_id,
                status_id=late.status_id,
                currency="USD",
                placed_at=NOW,
                rows=(
                    NewRow(
                        kind=RowKind.FREE_TEXT, name="Item", sku="SKU-2", quantity=1, net=Decimal("5.00"),
                        tax=Decimal(0), tax_code="ZERO",
                    ),
                ),
            ),
            now=NOW,
        )  # fmt: skip
    with settled.sessions.begin() as session:
        assert settle_waiting(session, now=NOW) == 1
        assert settle_waiting(session, now=NOW) == 0
    with settled.sessions() as session:
        paid = session.scalar(select(SalesOrder).where(SalesOrder.external_ref == "999-9999999-9999999"))
        assert paid is not None and paid.amount_paid == Decimal("5.00")
        assert paid.payment_status == PaymentStatus.PAID
        assert not [
            a for a in open_alerts(session, Subject.SETTLEMENT) if a.kind == "settlement_unknown_orders"
        ]


@STORES
def test_r1_many_unknown_orders_are_counted_in_sql_named_in_part_and_paid_page_by_page_when_booked(
    settled: Book, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a settlement naming twelve orders the book lacks, reconciled one order per page
    monkeypatch.setattr(book_settlements, "PAY_PAGE", 1)
    refs = [f"222-{n:07d}-0000000" for n in range(12)]
    lines = SALE[:5] + [line("Order", ref, "ItemPrice", "Principal", "1.00") for ref in refs]
    settled.run(settled.write("settlement.txt", settlement_text("25.78", lines)))
    # then all twelve are counted and listed, and the alert names the first ten and how many more
    with settled.sessions() as session:
        settlement = session.scalar(select(Settlement))
        assert settlement is not None and settlement.status == SettlementStatus.RECONCILED
        assert unknown_order_count(session, settlement.id) == 12
        assert unknown_orders(session, settlement.id) == refs
        assert unknown_orders(session, settlement.id, limit=3) == refs[:3]
        (alert,) = [
            a for a in open_alerts(session, Subject.SETTLEMENT) if a.kind == "settlement_unknown_orders"
        ]
        assert "12 orders are not in the book" in alert.message and "and 2 more" in alert.message
        assert refs[9] in alert.message and refs[10] not in alert.message
    # when two of them reach the book and settlements are checked again
    with settled.sessions.begin() as session:
        known = order(session)
        for ref in refs[:2]:
            book_order(
                session,
                NewOrder(
                    channel_id=known.channel_id, external_ref=ref, contact_id=known.contact_id,
                    status_id=known.status_id, currency="USD", placed_at=NOW,
                    rows=(
                        NewRow(
                            kind=RowKind.FREE_TEXT, name="Item", sku="SKU-1", quantity=1,
                            net=Decimal("1.00"), tax=Decimal(0), tax_code="ZERO",
                        ),
                    ),
                ),
                now=NOW,
            )  # fmt: skip
    with settled.sessions.begin() as session:
        assert settle_waiting(session, now=NOW) == 2
        assert settle_waiting(session, now=NOW) == 0  # paid once, whatever the pages
    # then every known order is paid once, over three pages, and ten remain unknown
    with settled.sessions() as session:
        paid = session.scalars(select(SalesOrder).order_by(SalesOrder.external_ref)).all()
        assert [(o.external_ref, o.amount_paid) for o in paid] == [
            ("111-0000001-0000001", Decimal("20.00")),
            (refs[0], Decimal("1.00")),
            (refs[1], Decimal("1.00")),
        ]
        settlement = session.scalar(select(Settlement))
        assert settlement is not None and unknown_order_count(session, settlement.id) == 10


def booked_withheld(settled: Book, amount: str) -> None:
    with settled.sessions.begin() as session:
        order(session).withheld_tax = Decimal(amount)


@STORES
def test_R2_O16_the_settlements_withheld_tax_stands_over_the_booked_one_and_the_trail_shows_it(
    settled: Book,
) -> None:
    # given an order booked with 1.40 withheld (the tax on shipping left out, say) ...
    booked_withheld(settled, "1.40")
    # when the settlement that releases the whole sale withholds 1.65
    settled.run(settled.write("settlement.txt", settlement_text(TOTAL, SALE)))
    # then Amazon's figure stands and the order is paid in full, not part-paid
    with settled.sessions() as session:
        booked = order(session)
        assert (booked.withheld_tax, booked.withheld_tax_as_booked) == (Decimal("1.65"), Decimal("1.40"))
        assert booked.payment_status == PaymentStatus.PAID
        assert booked.amount_paid == booked.amount_owed == Decimal("20.00")
        # the correction is in the money trail, with the settlement that made it
        trail = order_trail(session, booked)
        (correction,) = [v for v in trail.variances if v.reason.startswith("withheld tax corrected")]
        assert correction.amount == Decimal("-0.25")
        assert "settlement 1234567" in correction.reason and "1.40" in correction.reason
    # and importing it again changes nothing
    settled.run(settled.write("again.txt", settlement_text(TOTAL, SALE)), report_id="again")
    with settled.sessions() as session:
        assert (order(session).withheld_tax, order(session).withheld_tax_as_booked) == (
            Decimal("1.65"),
            Decimal("1.40"),
        )


@STORES
def test_R2_a_settlement_of_part_of_an_order_lowers_no_withheld_tax(settled: Book) -> None:
    # given an order booked with 1.65 withheld, and a settlement that released half of its sale
    part = [
        line("Order", "111-0000001-0000001", "ItemPrice", "Principal", "10.00"),
        line("Order", "111-0000001-0000001", "ItemPrice", "Tax", "0.83"),
        line(
            "Order", "111-0000001-0000001", "ItemWithheldTax", "MarketplaceFacilitatorTax-Principal", "-0.83"
        ),
    ]
    booked_withheld(settled, "1.65")
    # when it is imported
    settled.run(settled.write("part.txt", settlement_text("10.00", part)))
    # then the 0.83 withheld so far is not the whole order's: the booked 1.65 stands
    with settled.sessions() as session:
        booked = order(session)
        assert (booked.withheld_tax, booked.withheld_tax_as_booked) == (Decimal("1.65"), None)
        assert booked.payment_status == PaymentStatus.PART_PAID
