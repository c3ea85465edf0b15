"""The Runtime of a distributed worker process, built from the settings alone.

A worker shares nothing with the process that started it but the settings: its own engine on the
PostgreSQL book, sealing sessions, the key store, quota buckets in Redis, and bounded passes (pages per
task, patience) so that one account never holds a worker for long. Sandbox accounts run on the clock of
the sandbox they point at, re-read every few seconds so that every worker follows the same virtual time
(a test or bench may move it on).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache

import httpx
import redis
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.api.calls import CallEvent, CallLog
from orderbridge.amazon.api.quota_redis import RedisQuotaLimiter
from orderbridge.amazon.api.quotas import Quotas
from orderbridge.amazon.marketplaces import ENDPOINTS
from orderbridge.amazon.orders.sync import SyncOptions
from orderbridge.clock import Clock
from orderbridge.config import Settings
from orderbridge.db import make_engine, session_factory
from orderbridge.jobs.tasks import Endpoint, Runtime, with_settings
from orderbridge.privacy.keystore import open_keystore
from orderbridge.privacy.sealing import Privacy, enable

RESYNC_SECONDS = 2.0


def calls_key(prefix: str) -> str:
    """The Redis hash of call counters (read by ops/metrics.py)."""
    return f"{prefix}:calls"


class SandboxClock:
    """A served sandbox's virtual clock seen from another process: read over HTTP, run on at the
    sandbox's speed between reads, re-read every `resync` real seconds, never going back."""

    def __init__(self, url: str, *, resync: float = RESYNC_SECONDS) -> None:
        self.url = url.rstrip("/")
        self.resync = resync
        self._lock = threading.Lock()
        self._latest: datetime | None = None
        self._anchor, self.speed, self._read_at = self._read()

    def _read(self) -> tuple[datetime, float, float]:
        state = httpx.get(self.url + "/_sandbox/state", timeout=5.0).json()
        now = datetime.fromisoformat(str(state["now"]).replace("Z", "+00:00"))
        return now, float(state.get("speed", 1.0)), time.monotonic()

    def __call__(self) -> datetime:
        with self._lock:
            if self.speed == 0 or time.monotonic() - self._read_at >= self.resync:
                # No answer: run on from the last reading; the next call tries again.
                with contextlib.suppress(httpx.HTTPError, ValueError, KeyError):
                    self._anchor, self.speed, self._read_at = self._read()
            now = self._anchor + timedelta(seconds=(time.monotonic() - self._read_at) * self.speed)
            if self._latest is not None and now < self._latest:
                now = self._latest
            self._latest = now
            return now

    def sleep(self, seconds: float) -> None:
        if self.speed > 0:
            time.sleep(seconds / self.speed)
        else:
            httpx.post(self.url + "/_sandbox/clock", json={"advance": seconds}, timeout=5.0)


def sandbox_endpoint_at(url: str) -> Endpoint | None:
    """The Endpoint of a sandbox served at `url`, or None for Amazon's hosts and for no answer."""
    if url.rstrip("/") in {host.rstrip("/") for host in ENDPOINTS.values()}:
        return None
    try:
        clock = SandboxClock(url)
    except (httpx.HTTPError, ValueError, KeyError):
        return None
    return Endpoint(clock=clock, sleep=clock.sleep, speed=clock.speed)


class SharedTransport(httpx.BaseTransport):
    """One connection pool for every SP-API client of a process: building an httpx transport loads the
    CA bundle into a new TLS context (tens of milliseconds), and a pass's client would otherwise also
    open a new connection for each account. A client's close leaves it open; it lives as long as the
    process."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)

    def close(self) -> None:
        """Kept open for the next client of the process."""


@cache
def quota_redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


class CountedCallLog(CallLog):
    """The call log, with every call and 429 also counted in Redis for the metrics of all workers.

    Counts are written in one pipeline at the end of each task (`flush`), at once on a 429, and at the
    latest every `FLUSH_SECONDS`: a round trip to Redis for every SP-API call cost a pass as much as the
    call's quota check."""

    FLUSH_SECONDS = 5.0

    def __init__(
        self, client: redis.Redis, *, prefix: str, sessions: sessionmaker[Session] | None = None
    ) -> None:
        super().__init__(sessions)
        self._redis = client
        self._key = calls_key(prefix)
        self._pending: dict[str, int] = {}
        self._since = time.monotonic()

    def record(self, event: CallEvent) -> None:
        super().record(event)
        if not self._pending:
            self._since = time.monotonic()
        field = f"{event.operation}:calls"
        self._pending[field] = self._pending.get(field, 0) + 1
        if event.status == 429:
            field = f"{event.operation}:throttled"
            self._pending[field] = self._pending.get(field, 0) + 1
            self.flush()
        elif time.monotonic() - self._since >= self.FLUSH_SECONDS:
            self.flush()

    def flush(self) -> int:
        """Store the calls not yet stored, and add the counts not yet written to Redis's."""
        stored = super().flush()
        if not self._pending:
            return stored
        pending, self._pending = self._pending, {}
        pipe = self._redis.pipeline(transaction=False)
        for field, count in pending.items():
            pipe.hincrby(self._key, field, count)
        pipe.execute()
        return stored


def shared_quotas(settings: Settings) -> Callable[[Clock], Quotas] | None:
    """The Redis quota buckets when the installation has them (every process must use the same ones:
    workers, and CLI commands that call Amazon), else None (the book's)."""
    if not settings.quota_store_url:
        return None
    client = quota_redis(settings.quota_store_url)
    # One limiter per clock (per SP-API host) for the life of the process: it remembers the rates it
    # has learned, so a pass does not rewrite a bucket's rate on every operation's first answer.
    made: dict[Clock, RedisQuotaLimiter] = {}

    def quotas(clock: Clock) -> Quotas:
        if clock not in made:
            made[clock] = RedisQuotaLimiter(client, clock=clock, prefix=settings.redis_prefix)
        return made[clock]

    return quotas


def build_runtime(settings: Settings) -> Runtime:
    """Everything a worker's tasks need, from the settings (called once in each worker process)."""
    engine = make_engine(settings.store_url, busy_timeout_ms=settings.busy_timeout_ms)
    sessions = session_factory(engine)
    database_dirs = [settings.data_dir]
    keys = open_keystore(settings.key_store_dir, key_file=settings.kek_file, database_dirs=database_dirs)
    enable(sessions, Privacy(keys, retention_days=settings.retention_days))
    options = SyncOptions(max_pages=settings.sync_pages_per_task, patience=settings.quota_patience_seconds)
    runtime = Runtime(
        sessions,
        keys,
        options=options,
        resolve=sandbox_endpoint_at,
        min_real_lease=settings.lease_real_seconds,
        transport=SharedTransport(),
        calls=CallLog(sessions),  # every call stored for the dashboard and the health watch
    )
    shared = shared_quotas(settings)
    if shared is not None:
        runtime.quotas = shared
        runtime.calls = CountedCallLog(
            quota_redis(settings.quota_store_url), prefix=settings.redis_prefix, sessions=sessions
        )
    return with_settings(runtime, settings)
