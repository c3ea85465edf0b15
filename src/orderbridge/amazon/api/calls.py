"""The call log: every SP-API and LWA call logged (operation, status, duration; no PII) and counted."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Index, Integer, String, Table, case, delete, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId, insert_dicts

log = logging.getLogger("orderbridge.amazon.calls")  # the name operators filter on; kept through the move


class ApiCall(Base):
    """One HTTP exchange with Amazon (status 0: no response: timeout or dropped connection)."""

    __tablename__ = "amazon_api_calls"
    # The dashboard and the health watch read one account's calls over a time window.
    __table_args__ = (Index("ix_amazon_api_calls_account_at", "selling_partner_id", "region", "at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    selling_partner_id: Mapped[str] = mapped_column(String(32))
    region: Mapped[str] = mapped_column(String(2))
    operation: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[int] = mapped_column(Integer)
    duration_ms: Mapped[int] = mapped_column(Integer)
    attempt: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(String(64))
    error_code: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class CallEvent:
    """What is known of one call; deliberately no URL, query, body or header values."""

    at: datetime
    selling_partner_id: str
    region: str
    operation: str
    status: int
    duration_ms: float
    attempt: int = 1
    request_id: str = ""
    error_code: str = ""


@dataclass
class OperationCounts:
    """Calls of one operation: total, 429s, other errors (incl. no response), time spent."""

    calls: int = 0
    throttled: int = 0
    errors: int = 0
    duration_ms: float = 0.0


class CallLog:
    """Counts calls in memory (for the pipeline and the benchmark) and, given sessions, stores them.

    Stored calls are written in batches, not one transaction per call: a batch goes to the store when
    `flush_rows` calls wait, when the oldest waiting call is `flush_seconds` old (checked as calls come),
    and whenever the runner calls `flush()` (at the end of every job and task). Calls older than `keep`
    are pruned at most once an hour, so the table stays the size of a few days' calls.
    """

    MAX_WAITING = 20_000  # calls kept for a store that cannot be written to; older ones are dropped

    def __init__(
        self,
        sessions: sessionmaker[Session] | None = None,
        *,
        flush_rows: int = 500,
        flush_seconds: float = 5.0,
        keep: timedelta = timedelta(days=7),
    ) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        self._counts: dict[str, OperationCounts] = {}
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self.keep = keep
        self._waiting: list[dict[str, Any]] = []
        self._since = time.monotonic()
        self._pruned_at: float | None = None

    @property
    def stores(self) -> bool:
        """Whether calls are stored (the dashboard's counts need it), not only counted in memory."""
        return self._sessions is not None

    def record(self, event: CallEvent) -> None:
        level = logging.INFO if 0 < event.status < 400 else logging.WARNING
        log.log(
            level,
            "sp-api %s %s/%s status=%d %.0fms attempt=%d request=%s%s",
            event.operation,
            event.selling_partner_id,
            event.region,
            event.status,
            event.duration_ms,
            event.attempt,
            event.request_id or "-",
            f" code={event.error_code}" if event.error_code else "",
        )
        due = False
        with self._lock:
            counts = self._counts.setdefault(event.operation, OperationCounts())
            counts.calls += 1
            counts.duration_ms += event.duration_ms
            if event.status == 429:
                counts.throttled += 1
            elif event.status == 0 or event.status >= 400:
                counts.errors += 1
            if self._sessions is not None:
                if not self._waiting:
                    self._since = time.monotonic()
                self._waiting.append(_row(event))
                due = (
                    len(self._waiting) >= self.flush_rows
                    or time.monotonic() - self._since >= self.flush_seconds
                )
        if due:
            self.flush()

    def flush(self) -> int:
        """Write the calls not yet stored in one transaction; returns how many were written.

        A store that cannot be written to now (locked, gone) costs the log its batch for this time, never
        the job that made the calls: the batch waits for the next flush (up to MAX_WAITING calls)."""
        if self._sessions is None:
            return 0
        with self._lock:
            batch, self._waiting = self._waiting, []
        if not batch:
            return 0
        try:
            with self._sessions.begin() as session:
                insert_dicts(session, cast(Table, ApiCall.__table__), batch)
                if self._pruned_at is None or time.monotonic() - self._pruned_at >= 3600:
                    prune_calls(session, before=batch[-1]["at"] - self.keep)
                    self._pruned_at = time.monotonic()
        except SQLAlchemyError as error:
            log.warning(
                "the call log could not store %d calls (kept for the next try): %s", len(batch), error
            )
            with self._lock:
                self._waiting = (batch + self._waiting)[-self.MAX_WAITING :]
            return 0
        return len(batch)

    def counts(self) -> dict[str, OperationCounts]:
        """A copy of the counters per operation."""
        with self._lock:
            return {op: OperationCounts(**vars(c)) for op, c in sorted(self._counts.items())}

    def total(self, *, exclude: tuple[str, ...] = ("lwa.token", "download")) -> OperationCounts:
        """All SP-API calls together (LWA exchanges and document downloads left out by default)."""
        out = OperationCounts()
        for operation, counts in self.counts().items():
            if operation in exclude:
                continue
            out.calls += counts.calls
            out.throttled += counts.throttled
            out.errors += counts.errors
            out.duration_ms += counts.duration_ms
        return out

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()


def _row(event: CallEvent) -> dict[str, Any]:
    return {
        "at": event.at,
        "selling_partner_id": event.selling_partner_id,
        "region": event.region,
        "operation": event.operation,
        "status": event.status,
        "duration_ms": round(event.duration_ms),
        "attempt": event.attempt,
        "request_id": event.request_id[:64],
        "error_code": event.error_code[:64],
    }


def stored_counts(session: Session, *, since: datetime | None = None) -> dict[str, OperationCounts]:
    """Counters per operation from the stored log (every process of the installation)."""
    query = select(
        ApiCall.operation,
        func.count(),
        func.sum(case((ApiCall.status == 429, 1), else_=0)),
        func.sum(case(((ApiCall.status == 0) | (ApiCall.status >= 400), 1), else_=0)),
        func.sum(ApiCall.duration_ms),
    ).group_by(ApiCall.operation)
    if since is not None:
        query = query.where(ApiCall.at >= since)
    out: dict[str, OperationCounts] = {}
    for operation, calls, throttled, failed, duration in session.execute(query):
        limited = int(throttled or 0)
        out[operation] = OperationCounts(calls, limited, int(failed or 0) - limited, float(duration or 0))
    return dict(sorted(out.items()))


def prune_calls(session: Session, *, before: datetime) -> int:
    """Delete stored calls older than `before` (the log holds no PII; this only bounds its size)."""
    result = session.execute(delete(ApiCall).where(ApiCall.at < before))
    return int(getattr(result, "rowcount", 0) or 0)
