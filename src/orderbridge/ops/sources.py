"""Where the operations figures are read: the book, the quota store, the broker. Built once per process."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import redis
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.clock import Clock, utc_now
from orderbridge.config import Settings


@dataclass
class Sources:
    """The book, the retention period, the Redis of the quota buckets and call counters, the broker.

    `clocks` maps an account's SP-API base URL to its clock (a sandbox's virtual one); others use UTC.
    `clock` is the book's now (the retention backlog counts from it).
    """

    sessions: sessionmaker[Session]
    retention_days: int = 30
    redis: redis.Redis | None = None
    broker_url: str = ""
    prefix: str = "orderbridge"
    clocks: dict[str, Clock] = field(default_factory=dict)
    clock: Clock = utc_now

    def clock_for(self, endpoint: str) -> Clock:
        return self.clocks.get(endpoint.rstrip("/"), utc_now)

    def now_for(self, endpoint: str) -> datetime:
        return self.clock_for(endpoint)()


def sources_from(settings: Settings, sessions: sessionmaker[Session]) -> Sources:
    url = settings.quota_store_url
    return Sources(
        sessions,
        retention_days=settings.retention_days,
        redis=redis.Redis.from_url(url, socket_timeout=5.0) if url else None,
        broker_url=settings.broker_url if settings.mode == "distributed" else "",
        prefix=settings.redis_prefix,
    )
