"""The report inbox: every report fetched or imported, and every row of it keyed by its identity (F10).

`AmazonReport` is one report (Amazon's reportId, or `file:<sha256>` for a file a seller imported) with
its window, state and counts. `ReportRowRecord` is one data row: (account, report type, row identity)
is unique, so a row that arrives again -- the same report downloaded twice, a later report whose window
overlaps -- books nothing the second time. Each row keeps the report and line it came from and its raw
text, so every change it caused is traceable to it, and a quarantined row can be retried after a fix.
A handler whose own rows record each booked row with its identity, report and line (the FBA ledger's
entries, `ReportHandler.keeps_booked_rows`) leaves only its quarantined rows here.
Report rows hold no buyer names or addresses (settlements, ledger, FBA returns and reimbursements are
keyed by order id and SKU), so they are plain text, unlike the order inbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId, Json

KEYS_PER_QUERY = 5000  # bound parameters per IN list (SQLite >= 3.32 allows 32,766)


class ReportState(StrEnum):
    REQUESTED = "requested"  # createReport sent; Amazon is still making it
    DOWNLOADED = "downloaded"  # rows are being booked (a process killed here resumes from the file)
    BOOKED = "booked"  # every row booked or quarantined, and the handler's finish step done
    EMPTY = "empty"  # CANCELLED by Amazon: no data in the window (SPAPI.md §7), not a failure
    FAILED = "failed"  # FATAL at Amazon, or the file cannot be read; `error` says why


class RowStatus(StrEnum):
    BOOKED = "booked"
    QUARANTINED = "quarantined"  # `reason` says why; the rest of the report booked


class AmazonReport(Base):
    """One report of one account: requested, discovered (settlements) or imported from a file."""

    __tablename__ = "amazon_reports"
    __table_args__ = (
        UniqueConstraint("account_id", "report_id"),
        Index("ix_amazon_reports_account_id_report_type", "account_id", "report_type"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("amazon_seller_accounts.id", ondelete="CASCADE"))
    report_type: Mapped[str] = mapped_column(String(80))
    report_id: Mapped[str] = mapped_column(String(80))
    document_id: Mapped[str | None] = mapped_column(String(200))
    marketplace_ids: Mapped[list[str]] = mapped_column(Json)
    data_start: Mapped[datetime | None] = mapped_column(UtcDateTime())
    data_end: Mapped[datetime | None] = mapped_column(UtcDateTime())
    state: Mapped[ReportState] = mapped_column(String(20))
    source: Mapped[str] = mapped_column(String(20))  # requested | discovered | file
    file_name: Mapped[str | None] = mapped_column(String(300))
    header: Mapped[list[str] | None] = mapped_column(Json)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_booked: Mapped[int] = mapped_column(Integer, default=0)
    rows_quarantined: Mapped[int] = mapped_column(Integer, default=0)
    rows_known: Mapped[int] = mapped_column(Integer, default=0)  # already booked from an earlier report
    error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    booked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class ReportRowRecord(Base):
    """One report row by identity: which report and line brought it, booked or quarantined and why."""

    __tablename__ = "amazon_report_rows"
    __table_args__ = (
        UniqueConstraint("account_id", "report_type", "row_key"),
        Index("ix_amazon_report_rows_report_id_status", "report_id", "status"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("amazon_seller_accounts.id", ondelete="CASCADE"))
    report_type: Mapped[str] = mapped_column(String(80))
    row_key: Mapped[str] = mapped_column(String(200))
    report_id: Mapped[int] = mapped_column(ForeignKey("amazon_reports.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    status: Mapped[RowStatus] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(500))
    content: Mapped[str] = mapped_column(Text)


def find_report(session: Session, account_id: int, report_id: str) -> AmazonReport | None:
    return session.scalar(
        select(AmazonReport).where(AmazonReport.account_id == account_id, AmazonReport.report_id == report_id)
    )


def known_keys(session: Session, account_id: int, report_type: str, keys: Sequence[str]) -> set[str]:
    """Which of these row identities the inbox holds already (booked or quarantined)."""
    found: set[str] = set()
    connection = session.connection()
    table = ReportRowRecord.__tablename__
    if connection.dialect.paramstyle != "qmark":
        # PostgreSQL: the keys as one array parameter, so the statement is the same (and parsed once)
        # whatever the batch.
        sql = f"SELECT row_key FROM {table} WHERE account_id = %s AND report_type = %s AND row_key = ANY(%s)"
        found.update(key for (key,) in connection.exec_driver_sql(sql, (account_id, report_type, list(keys))))
        return found
    for start in range(0, len(keys), KEYS_PER_QUERY):
        chunk = list(keys[start : start + KEYS_PER_QUERY])
        # Plain SQL: compiling a 5,000-value IN list per batch costs more than the lookup itself.
        sql = (
            f"SELECT row_key FROM {table} WHERE account_id = ? "
            f"AND report_type = ? AND row_key IN ({', '.join(['?'] * len(chunk))})"
        )
        found.update(key for (key,) in connection.exec_driver_sql(sql, (account_id, report_type, *chunk)))
    return found


def quarantined_rows(
    session: Session, *, account_id: int | None = None, report_type: str | None = None
) -> list[ReportRowRecord]:
    query = select(ReportRowRecord).where(ReportRowRecord.status == RowStatus.QUARANTINED)
    if account_id is not None:
        query = query.where(ReportRowRecord.account_id == account_id)
    if report_type is not None:
        query = query.where(ReportRowRecord.report_type == report_type)
    return list(session.scalars(query.order_by(ReportRowRecord.report_id, ReportRowRecord.line)))


def row_counts(session: Session, report_pk: int) -> dict[str, int]:
    query = (
        select(ReportRowRecord.status, func.count())
        .where(ReportRowRecord.report_id == report_pk)
        .group_by(ReportRowRecord.status)
    )
    return {str(status): int(n) for status, n in session.execute(query)}


def latest_window_end(session: Session, account_id: int, report_type: str) -> datetime | None:
    """Where the last booked (or empty) requested report of this type ended: the next window starts there."""
    return session.scalar(
        select(func.max(AmazonReport.data_end)).where(
            AmazonReport.account_id == account_id,
            AmazonReport.report_type == report_type,
            AmazonReport.source == "requested",
            AmazonReport.state.in_([ReportState.BOOKED, ReportState.EMPTY]),
        )
    )
