"""The call log: every SP-API and LWA call logged (operation, status, duration; no PII) and counted."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String, case, delete, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column, sessionmaker

from orderbridge.book.types import UtcDateTime
from orderbridge.db import Base, BigId

log = logging.getLogger("orderbridge.amazon.calls")  # the name operators filter on; kept through the move


class ApiCall(Base):
    """One HTTP exchange with Amazon (status 0: no response: timeout or dropped connection)."""

    __tablename__ = "amazon_api_calls"
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
    """Counts calls in memory (for the pipeline and the benchmark) and, given sessions, stores each one."""

    def __init__(self, sessions: sessionmaker[Session] | None = None) -> None:
        self._sessions = sessions
        self._lock = threading.Lock()
        self._counts: dict[str, OperationCounts] = {}

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
        with self._lock:
            counts = self._counts.setdefault(event.operation, OperationCounts())
            counts.calls += 1
            counts.duration_ms += event.duration_ms
            if event.status == 429:
                counts.throttled += 1
            elif event.status == 0 or event.status >= 400:
                counts.errors += 1
        if self._sessions is not None:
            with self._sessions.begin() as session:
                session.add(_row(event))

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


def _row(event: CallEvent) -> ApiCall:
    return ApiCall(
        at=event.at,
        selling_partner_id=event.selling_partner_id,
        region=event.region,
        operation=event.operation,
        status=event.status,
        duration_ms=round(event.duration_ms),
        attempt=event.attempt,
        request_id=event.request_id[:64],
        error_code=event.error_code[:64],
    )


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
