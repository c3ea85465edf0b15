"""The call log: calls, 429s and errors per operation, read by tests and benchmarks."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass


@dataclass
class OperationStats:
    calls: int = 0
    throttled: int = 0
    errors: int = 0


@dataclass
class CallRecord:
    ts: float
    operation: str
    seller_id: str
    status: int
    request_id: str


class CallLog:
    """Counters per operation plus the most recent calls."""

    def __init__(self, keep: int = 10_000) -> None:
        self.stats: dict[str, OperationStats] = {}
        self.recent: deque[CallRecord] = deque(maxlen=keep)

    def record(self, record: CallRecord) -> None:
        stats = self.stats.setdefault(record.operation, OperationStats())
        stats.calls += 1
        if record.status == 429:
            stats.throttled += 1
        elif record.status >= 400:
            stats.errors += 1
        self.recent.append(record)

    def summary(self) -> dict[str, dict[str, int]]:
        return {op: asdict(stats) for op, stats in sorted(self.stats.items())}

    def clear(self) -> None:
        self.stats.clear()
        self.recent.clear()
