"""Usage plans (a token bucket per selling partner and operation) and the call log benchmarks count with."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass

# Default usage plans as published in the models (SPAPI.md §3.3): operation -> (rate per second, burst).
PLANS: dict[str, tuple[float, int]] = {
    "getOrders": (0.0167, 20),
    "v0.getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "getOrderBuyerInfo": (0.5, 30),
    "getOrderAddress": (0.5, 30),
    "getOrderItemsBuyerInfo": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "createRestrictedDataToken": (1.0, 10),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReports": (0.0222, 10),
    "getReportDocument": (0.0167, 15),
    "cancelReport": (0.0222, 10),
    "getShipments": (2.0, 30),
    "getShipmentItemsByShipmentId": (2.0, 30),
    "getShipmentItems": (2.0, 30),
    "createFeed": (0.0083, 15),
    "createFeedDocument": (0.5, 15),
    "getFeed": (2.0, 15),
    "getFeeds": (0.0222, 10),
    "getFeedDocument": (0.0222, 10),
    # Listings Items 2021-08-01 is not among the copied models; 5 rps / burst 10 is its published default.
    "patchListingsItem": (5.0, 10),
}


@dataclass
class Bucket:
    """Tokens left and when they were last counted (virtual seconds)."""

    tokens: float
    stamp: float


class Quotas:
    """All buckets; refilled against the virtual clock so that `--speed` scales Amazon's rates too."""

    def __init__(self, plans: dict[str, tuple[float, int]] | None = None) -> None:
        self.plans = dict(PLANS if plans is None else plans)
        self.enabled = True
        self.buckets: dict[tuple[str, str], Bucket] = {}

    def plan(self, operation: str) -> tuple[float, int]:
        return self.plans.get(operation, (1.0, 10))

    def rate_header(self, operation: str) -> str:
        """The `x-amzn-RateLimit-Limit` value: the rate as Amazon prints it, e.g. `0.0056`."""
        return f"{self.plan(operation)[0]:g}"

    def take(self, seller_id: str, operation: str, now: float) -> bool:
        """Spend one token; False means the caller is throttled (429)."""
        if not self.enabled:
            return True
        rate, burst = self.plan(operation)
        bucket = self.buckets.get((seller_id, operation))
        if bucket is None:
            bucket = self.buckets[(seller_id, operation)] = Bucket(float(burst), now)
        bucket.tokens = min(float(burst), bucket.tokens + (now - bucket.stamp) * rate)
        bucket.stamp = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return True
        return False

    def reset(self) -> None:
        self.buckets.clear()


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
        elif record.status >= 400 or record.status == 0:
            stats.errors += 1
        self.recent.append(record)

    def summary(self) -> dict[str, dict[str, int]]:
        return {op: asdict(stats) for op, stats in sorted(self.stats.items())}

    def clear(self) -> None:
        self.stats.clear()
        self.recent.clear()
