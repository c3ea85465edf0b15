"""Fetching reports from Amazon: request with explicit windows, poll, discover settlements, download, book.

Requested types (a handler with a `WindowPolicy`): the next window starts where the last booked one
ended, less the overlap (the inbox skips rows it holds), and ends `lag` before now, split into windows
no longer than `max_span`. A request is recorded before it is polled, so a process killed while Amazon
makes the report polls the same report next time instead of asking again (createReport refills one
token a minute, SPAPI.md §3.3). Settlements cannot be requested (SPAPI.md §7): every DONE one of the
last 90 days is listed with getReports and each one not booked yet is downloaded (R1). Documents are
streamed to a temporary file, gunzipped and booked from there, so memory does not grow with them.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon import leases
from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.api.types import Report
from orderbridge.amazon.fba.before_opening import needs_opening
from orderbridge.amazon.fba.ledger_rows import LEDGER
from orderbridge.amazon.fba.opening import OpeningError, fetch_opening
from orderbridge.amazon.reports.booking import ImportResult, ReportSource, import_report_file
from orderbridge.amazon.reports.handlers import ReportHandler, WindowPolicy, handler_for, load_handlers
from orderbridge.amazon.reports.inbox import AmazonReport, ReportState, find_report, latest_window_end
from orderbridge.amazon.reports.returns import reprice_credits
from orderbridge.amazon.reports.rows import ReportFileError
from orderbridge.amazon.reports.settlements import SETTLEMENT_REPORT
from orderbridge.book.settlements import settle_waiting
from orderbridge.clock import Clock, as_utc

DISCOVER_SINCE = timedelta(days=90)
LEASE_TTL = timedelta(hours=6)  # SPAPI.md §7: reports are kept at most 90 days


@dataclass
class ReportSyncResult:
    """What one sync pass did per account: reports imported, empty, failed (with why)."""

    account: str
    imported: list[ImportResult] = field(default_factory=list)
    empty: int = 0
    late_paid: int = 0
    failed: list[str] = field(default_factory=list)
    opening: str | None = None  # the FBA opening balance this pass took, if any

    def lines(self) -> list[str]:
        out = [self.opening] if self.opening else []
        out += [result.line() for result in self.imported]
        if self.empty:
            out.append(f"{self.empty} reports had no data")
        if self.late_paid:
            out.append(f"{self.late_paid} orders booked after their settlement were paid")
        out += [f"failed: {reason}" for reason in self.failed]
        return out or ["nothing new"]

    @property
    def booked(self) -> int:
        return sum(result.booked for result in self.imported)


def sync_reports(
    sessions: sessionmaker[Session],
    client: SpApiClient,
    *,
    account_id: int,
    clock: Clock,
    report_types: Sequence[str] | None = None,
    poll: float = 30.0,
) -> ReportSyncResult:
    """One pass over the given report types (default: every registered one) for one account."""
    handlers = load_handlers()
    types = list(report_types) if report_types is not None else sorted(handlers)
    with sessions() as session:
        account = session.get(SellerAccount, account_id)
        if account is None:
            raise ValueError(f"no Amazon account with id {account_id}")
        label, markets = account.label, list(account.marketplace_ids)
    run = _Run(sessions, client, account_id, markets, clock, poll, ReportSyncResult(label))
    # One runner per account at a time (another holds it: LeaseHeld); long imports keep it for hours.
    with leases.held(sessions, f"reports:{account_id}", clock=clock, ttl=LEASE_TTL):
        if LEDGER in types and not run.open_fba():
            types.remove(LEDGER)  # the ledger waits for the opening: its first rows would start from zero
        for report_type in types:
            handler = handler_for(report_type)
            if handler.policy is None:
                run.discover(handler)
            else:
                run.request(handler, handler.policy)
    return run.result


@dataclass
class _Run:
    """One account's report sync pass: what every step of it reads, and the result it adds to."""

    sessions: sessionmaker[Session]
    client: SpApiClient
    account_id: int
    markets: list[str]
    clock: Clock
    poll: float
    result: ReportSyncResult

    def open_fba(self) -> bool:
        """The account's first FBA sync: Amazon's count of the stock already there is the opening.
        False when it could not be taken (the reason is in the result)."""
        with self.sessions() as session:
            if not needs_opening(session, self.account_id):
                return True
        try:
            opening = fetch_opening(
                self.sessions, self.client, account_id=self.account_id, clock=self.clock, poll=self.poll
            )
        except (OpeningError, ReportFileError) as error:
            self.result.failed.append(f"FBA opening balance (the ledger waits for it): {error}")
            return False
        self.result.opening = opening.line()
        return True

    def discover(self, handler: ReportHandler) -> None:
        since = self.clock() - DISCOVER_SINCE + timedelta(minutes=5)
        found: list[Report] = []
        for page in self.client.reports_pages([handler.report_type], statuses=["DONE"], created_since=since):
            found += page.reports
        for report in sorted(found, key=lambda r: (r.created_time, r.report_id)):
            with self.sessions() as session:
                stored = find_report(session, self.account_id, report.report_id)
                if stored is not None and stored.state == ReportState.BOOKED:
                    continue
            self.download_and_import(report, "discovered")
        if handler.report_type == SETTLEMENT_REPORT:
            with self.sessions.begin() as session:
                # O4: orders booked after the settlement that paid them are paid now.
                self.result.late_paid += settle_waiting(session, now=self.clock())
                # F1: credits of returns booked before their refund's settlement take its amounts now.
                reprice_credits(session)

    def request(self, handler: ReportHandler, policy: WindowPolicy) -> None:
        for report_pk in self.waiting(handler.report_type):
            self.finish_request(report_pk)
        now = self.clock()
        with self.sessions() as session:
            last = latest_window_end(session, self.account_id, handler.report_type)
        start = (as_utc(last) - policy.overlap) if last is not None else now - policy.first_lookback
        end_all = now - policy.lag
        while start < end_all - timedelta(minutes=1):
            end = min(start + policy.max_span, end_all)
            report_id = self.client.create_report(handler.report_type, self.markets, start=start, end=end)
            with self.sessions.begin() as session:
                record = AmazonReport(
                    account_id=self.account_id,
                    report_type=handler.report_type,
                    report_id=report_id,
                    marketplace_ids=self.markets,
                    data_start=start,
                    data_end=end,
                    state=ReportState.REQUESTED,
                    source="requested",
                    created_at=self.clock(),
                )
                session.add(record)
                session.flush()
                report_pk = record.id
            self.finish_request(report_pk)
            if end >= end_all:
                break
            start = end - policy.overlap

    def waiting(self, report_type: str) -> list[int]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(AmazonReport.id).where(
                        AmazonReport.account_id == self.account_id,
                        AmazonReport.report_type == report_type,
                        AmazonReport.source == "requested",
                        AmazonReport.state.in_([ReportState.REQUESTED, ReportState.DOWNLOADED]),
                    )
                )
            )

    def finish_request(self, report_pk: int) -> None:
        with self.sessions() as session:
            record = session.get(AmazonReport, report_pk)
            assert record is not None
            report_id = record.report_id
        report = self.client.wait_for_report(report_id, poll=self.poll)
        if report.processing_status == "DONE" and report.report_document_id:
            self.download_and_import(report, "requested")
            return
        with self.sessions.begin() as session:
            record = session.get(AmazonReport, report_pk)
            assert record is not None
            if report.processing_status == "CANCELLED":
                record.state = ReportState.EMPTY  # SPAPI.md §7: no data in the window, not a failure
                self.result.empty += 1
            else:
                record.state, record.error = ReportState.FAILED, f"Amazon: {report.processing_status}"
                self.result.failed.append(
                    f"{report.report_type} {report_id}: {report.processing_status} at Amazon"
                )

    def download_and_import(self, report: Report, source: str) -> None:
        assert report.report_document_id is not None
        link = self.client.get_report_document(report.report_document_id)
        with tempfile.TemporaryDirectory(prefix="orderbridge-report-") as folder:
            path = Path(folder) / "report.tsv"
            with path.open("wb") as target:
                charset = self.client.download_to(link.url, target, compression=link.compression_algorithm)
            try:
                imported = import_report_file(
                    self.sessions,
                    account_id=self.account_id,
                    report_type=report.report_type,
                    path=path,
                    clock=self.clock,
                    source=ReportSource(
                        report_id=report.report_id,
                        document_id=report.report_document_id,
                        marketplace_ids=tuple(report.marketplace_ids),
                        data_start=report.data_start_time,
                        data_end=report.data_end_time,
                        charset=charset,
                        source=source,
                    ),
                )
            except ReportFileError as error:
                self.result.failed.append(str(error))
                return
            self.result.imported.append(imported)


def scheduled_types() -> dict[str, timedelta]:
    """Report type -> how often `orderbridge run` syncs it (settlements: every 12 hours)."""
    out: dict[str, timedelta] = {}
    for report_type, handler in load_handlers().items():
        out[report_type] = handler.policy.every if handler.policy is not None else timedelta(hours=12)
    return out


def short_name(report_type: str) -> str:
    """`GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2` -> `v2-settlement` (for job names)."""
    name = report_type.removeprefix("GET_").lower()
    for cut in ("_report_data", "_data", "_view"):
        name = name.split(cut)[0]
    return name.replace("_", "-")


def last_report_at(session: Session, account_id: int, report_type: str) -> datetime | None:
    return session.scalar(
        select(AmazonReport.created_at)
        .where(AmazonReport.account_id == account_id, AmazonReport.report_type == report_type)
        .order_by(AmazonReport.created_at.desc())
        .limit(1)
    )
