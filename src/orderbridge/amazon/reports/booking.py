"""Booking a report file: stream its rows into the report inbox in batches, each batch one transaction.

`import_report_file` is the one path every report takes, whether downloaded by `sync.py` or dropped
in by a seller (`orderbridge reports import`): the file is decoded (declared charset, else UTF-8, else
the marketplace's fallback), read row by row (memory does not grow with the file), and every batch of
rows is booked in one transaction together with its inbox rows. A row whose identity the inbox already
holds is skipped (F10: the same report twice, or two reports whose windows overlap, book it once), while
rows identical in every column are distinct events: the second and later twins get keys of their own
(`Twins`), the same ones in every file that holds them; a
row that does not parse or that the handler refuses is quarantined with its line and reason while the
rest books. A process killed mid-file loses at most the open batch: running the import again skips what
was committed and books the rest, then runs the handler's finish step.
"""

from __future__ import annotations

import gc
import hashlib
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.reports.handlers import ParsedRow, ReportContext, ReportHandler, handler_for
from orderbridge.amazon.reports.inbox import (
    AmazonReport,
    ReportRowRecord,
    ReportState,
    RowStatus,
    find_report,
    known_keys,
    quarantined_rows,
)
from orderbridge.amazon.reports.locales import locale_for
from orderbridge.amazon.reports.rows import (
    Header,
    ReportFileError,
    ReportRow,
    RowError,
    open_text,
    read_rows,
)
from orderbridge.clock import Clock
from orderbridge.db import insert_rows
from orderbridge.errors import OrderbridgeError

BATCH = 5000
# Twins (rows identical in every column) share their date and time, so Amazon's files hold them within a
# few rows of each other; a row is counted against the rows this far back (memory stays flat).
TWIN_LOOKBACK = 50_000
ROW_COLUMNS = ("account_id", "report_type", "row_key", "report_id", "line", "status", "reason", "content")


class ReportImportError(OrderbridgeError):
    """A report could not be imported at all (no such account, unreadable file); names the report."""


@dataclass
class ImportResult:
    """What one import did: rows read, booked now, already known, quarantined now."""

    report_type: str
    report_id: str
    report_pk: int = 0
    read: int = 0
    booked: int = 0
    known: int = 0
    quarantined: int = 0
    already_booked: bool = False

    def line(self) -> str:
        if self.already_booked:
            return f"{self.report_type} {self.report_id}: booked before, nothing to do"
        return (
            f"{self.report_type} {self.report_id}: {self.read} rows read, {self.booked} booked, "
            f"{self.known} already booked, {self.quarantined} quarantined"
        )


@dataclass(frozen=True)
class ReportSource:
    """Where a file came from: Amazon's report (id, document, window) or a seller's file (id None)."""

    report_id: str | None = None
    document_id: str | None = None
    marketplace_ids: tuple[str, ...] = ()
    data_start: datetime | None = None
    data_end: datetime | None = None
    charset: str | None = None
    source: str = "file"


def file_report_id(path: Path) -> str:
    """An imported file's id: its content's SHA-256 (the same file imported twice is the same report)."""
    digest = hashlib.sha256()
    with path.open("rb") as raw:
        while chunk := raw.read(1 << 20):
            digest.update(chunk)
    return "file:" + digest.hexdigest()[:40]


def import_report_file(
    sessions: sessionmaker[Session],
    *,
    account_id: int,
    report_type: str,
    path: Path,
    clock: Clock,
    source: ReportSource = ReportSource(),
    batch_size: int = BATCH,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
) -> ImportResult:
    """Book every row of a report file not booked before; see the module docstring.

    A report already booked is not read again unless `force` (which still books nothing twice)."""
    handler = handler_for(report_type)
    report_id = source.report_id or file_report_id(path)
    report, markets = _open_report(
        sessions,
        account_id,
        report_type=report_type,
        report_id=report_id,
        path=path,
        source=source,
        clock=clock,
    )
    result = ImportResult(report_type, report_id, report.id)
    if report.state == ReportState.BOOKED and not force:
        result.already_booked = True
        return result
    context = ReportContext(
        account_id=account_id,
        report_pk=report.id,
        report_id=report_id,
        report_type=report_type,
        marketplace_ids=markets,
        locale=locale_for(markets[0] if markets else None),
        now=clock(),
    )
    try:
        with open_text(path, declared=source.charset, fallback=context.locale.charset) as text:
            header, rows = read_rows(
                text, locale=context.locale, required=handler.required, what=f"{report_type} {report_id}"
            )
            _save_header(sessions, report.id, list(header.names))
            batches = 0
            twins = Twins(handler)
            while True:
                with collector_paused():
                    batch = list(islice(rows, batch_size))
                    if not batch:
                        break
                    with sessions.begin() as session:
                        if batches == 1:
                            _refresh_statistics(session, handler)
                        _book_batch(session, handler, context, batch, result, twins=twins)
                batches += 1
                if progress is not None:
                    progress(result.read)
    except ReportFileError as error:
        _fail(sessions, report.id, str(error))
        raise
    with sessions.begin() as session:
        handler.finish(session, context)
        stored = session.get(AmazonReport, report.id)
        assert stored is not None
        stored.state, stored.booked_at = ReportState.BOOKED, clock()
    return result


class Twins:
    """F10: the n-th row of a file identical to earlier ones is its own event. Counts each row's twins
    among the last TWIN_LOOKBACK rows, in file order, so the same file (or an overlapping window holding
    the same rows) gives every twin the same key again."""

    def __init__(self, handler: ReportHandler, lookback: int = TWIN_LOOKBACK) -> None:
        self._handler = handler
        self._lookback = lookback
        self._counts: dict[str, tuple[int, int]] = {}  # basis -> (occurrences, row number last seen)
        self._order: deque[tuple[int, str]] = deque()
        self._rows = 0

    def key(self, key: str) -> str:
        """The row's key, made its own when it is the second (third ...) twin."""
        basis = self._handler.twin_basis(key)
        self._rows += 1
        seen, _ = self._counts.get(basis, (0, 0))
        self._counts[basis] = (seen + 1, self._rows)
        self._order.append((self._rows, basis))
        self._forget_old()
        return key if not seen else self._handler.twin_key(key, seen + 1)

    def _forget_old(self) -> None:
        order, counts, oldest = self._order, self._counts, self._rows - self._lookback
        while order and order[0][0] <= oldest:
            number, basis = order.popleft()
            if counts.get(basis, (0, 0))[1] == number:
                del counts[basis]


@contextmanager
def collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for one batch, then one young-generation pass.

    A batch allocates some hundred thousand objects that live until it commits (rows, parsed values,
    parameter tuples); with the collector on, they are scanned again and again as they age, a fifth
    of a ledger import's time. Nearly all of them are freed by reference counting when the batch
    ends; the pass at the end collects the few cycles it made (its session), so memory stays flat."""
    if not gc.isenabled():  # the caller manages the collector
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)


def _open_report(
    sessions: sessionmaker[Session],
    account_id: int,
    *,
    report_type: str,
    report_id: str,
    path: Path,
    source: ReportSource,
    clock: Clock,
) -> tuple[AmazonReport, tuple[str, ...]]:
    with sessions.begin() as session:
        account = session.get(SellerAccount, account_id)
        if account is None:
            raise ReportImportError(f"report {report_id}: no Amazon account with id {account_id}")
        report = find_report(session, account_id, report_id)
        if report is None:
            report = AmazonReport(
                account_id=account_id,
                report_type=report_type,
                report_id=report_id,
                marketplace_ids=list(source.marketplace_ids),
                state=ReportState.DOWNLOADED,
                source=source.source,
                created_at=clock(),
            )
            session.add(report)
        elif report.report_type != report_type:
            raise ReportImportError(
                f"report {report_id}: was imported as {report.report_type}, not {report_type}"
            )
        report.document_id = source.document_id or report.document_id
        report.data_start = source.data_start or report.data_start
        report.data_end = source.data_end or report.data_end
        if source.source == "file":
            report.file_name = path.name[:300]
        if report.state != ReportState.BOOKED:
            report.state, report.error = ReportState.DOWNLOADED, None
        session.flush()
        markets = tuple(report.marketplace_ids or account.marketplace_ids)
        session.expunge(report)
        return report, markets


def _refresh_statistics(session: Session, handler: ReportHandler) -> None:
    """PostgreSQL, once per file of more than one batch: ANALYZE the tables each batch looks rows up
    in. Without statistics (a new or newly grown table) the planner takes `row_key = ANY(...)` for a
    filter over every row of the account and report type instead of an index probe per key, and each
    batch then costs time in proportion to the whole table (seconds per batch at 100,000 rows)."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        return
    for table in (ReportRowRecord.__tablename__, *handler.looked_up):
        connection.exec_driver_sql(f"ANALYZE {table}")


def _save_header(sessions: sessionmaker[Session], report_pk: int, names: list[str]) -> None:
    with sessions.begin() as session:
        stored = session.get(AmazonReport, report_pk)
        assert stored is not None
        stored.header = names


def _fail(sessions: sessionmaker[Session], report_pk: int, message: str) -> None:
    with sessions.begin() as session:
        stored = session.get(AmazonReport, report_pk)
        if stored is not None:
            stored.state, stored.error = ReportState.FAILED, message[:1000]


def _book_batch(
    session: Session,
    handler: ReportHandler,
    context: ReportContext,
    batch: Sequence[ReportRow],
    result: ImportResult,
    *,
    twins: Twins,
) -> None:
    """One batch in one transaction: identities, skip known, parse, book, record every new row."""
    keyed: dict[str, ReportRow] = {}
    refused: dict[int, str] = {}
    row_key, parse, twin = handler.row_key, handler.parse, twins.key
    for row in batch:
        try:
            key = twin(row_key(row, context))
        except RowError as error:
            key = f"line:{context.report_id}:{row.line}"  # unidentifiable: quarantined under its line
            refused[row.line] = str(error)
        keyed[key] = row
    known = known_keys(session, context.account_id, context.report_type, list(keyed))
    if handler.keeps_booked_rows:
        known |= handler.booked_keys(session, context, [key for key in keyed if key not in known])
    parsed: list[ParsedRow] = []
    for key, row in keyed.items():
        if key in known or row.line in refused:
            continue
        try:
            parsed.append(ParsedRow(row, key, parse(row, context)))
        except RowError as error:
            refused[row.line] = str(error)
    if parsed:
        refused.update(handler.book(session, context, parsed))
    records: list[tuple[Any, ...]] = []
    quarantined = booked = 0
    account_id, report_type, report_pk = context.account_id, context.report_type, context.report_pk
    booked_status, quarantined_status = RowStatus.BOOKED.value, RowStatus.QUARANTINED.value
    record_booked = not handler.keeps_booked_rows
    for key, row in keyed.items():
        if key in known:
            continue
        reason = refused.get(row.line) if refused else None
        if reason is None:
            booked += 1
            if record_booked:
                records.append((account_id, report_type, key, report_pk, row.line, booked_status, None, ""))
            continue
        quarantined += 1
        records.append(
            (
                account_id,
                report_type,
                key,
                report_pk,
                row.line,
                quarantined_status,
                f"line {row.line}: {reason}"[:500],
                row.text(),
            )
        )
    insert_rows(session, cast(Table, ReportRowRecord.__table__), ROW_COLUMNS, records)
    stored = session.get(AmazonReport, context.report_pk)
    assert stored is not None
    already = len(batch) - booked - quarantined
    result.read += len(batch)
    result.known += already
    result.quarantined += quarantined
    result.booked += booked
    stored.rows_read += len(batch)
    stored.rows_known += already
    stored.rows_quarantined += quarantined
    stored.rows_booked += booked


def retry_quarantined_rows(
    sessions: sessionmaker[Session], *, account_id: int, report_type: str, clock: Clock
) -> ImportResult:
    """Parse and book the quarantined rows of one report type again (after a fix: a product added, a
    setting changed); rows that now book are marked booked, the others keep their new reason."""
    handler = handler_for(report_type)
    result = ImportResult(report_type, "quarantine")
    with sessions.begin() as session:
        for record in quarantined_rows(session, account_id=account_id, report_type=report_type):
            report = session.get(AmazonReport, record.report_id)
            assert report is not None
            markets = tuple(report.marketplace_ids)
            context = ReportContext(
                account_id=account_id,
                report_pk=report.id,
                report_id=report.report_id,
                report_type=report_type,
                marketplace_ids=markets,
                locale=locale_for(markets[0] if markets else None),
                now=clock(),
            )
            header = Header(tuple(report.header or ()))
            row = ReportRow(record.content.split("\t"), record.line, header.names, context.locale)
            result.read += 1
            try:
                value = handler.parse(row, context)
                refused = handler.book(session, context, [ParsedRow(row, record.row_key, value)])
                reason = next(iter(refused.values()), None)
            except RowError as error:
                reason = str(error)
            if reason is None:
                record.status, record.reason = RowStatus.BOOKED, None
                report.rows_quarantined -= 1
                report.rows_booked += 1
                result.booked += 1
                handler.finish(session, context)
            else:
                record.reason = f"line {record.line}: {reason}"[:500]
                result.quarantined += 1
    return result
