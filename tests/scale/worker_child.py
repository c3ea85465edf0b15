"""A real Celery worker (`--pool solo`: one process, one task at a time) for the scale tests.

    python tests/scale/worker_child.py        (settings from ORDERBRIDGE_* in the environment)

Instrumented through the same seams the embedded tests use: `OB_TEST_PAGE_SIZE` sets searchOrders page
size; `OB_TEST_PAUSE_AT_STORED=N` makes the worker stop inside the transaction that stores its N-th
order version and say so in Redis, to be SIGKILLed there. Every finished pass is recorded in Redis
(`<prefix>:test:passes`), and every time an account's lease was held (`<prefix>:test:holds`: worker
pid, lease, real time just after taking it and just before releasing it), so the test can prove that
no two workers ever synced one account at once; and when the worker is ready for tasks
(`<prefix>:test:ready`).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import redis
from celery.signals import worker_ready

from orderbridge.amazon import leases
from orderbridge.config import Settings, load_settings
from orderbridge.jobs import celery_app, tasks


def main() -> None:
    settings = load_settings()
    log = redis.Redis.from_url(settings.quota_store_url)
    prefix = settings.redis_prefix
    page_size = int(os.environ.get("OB_TEST_PAGE_SIZE", "100"))
    pause_at = int(os.environ.get("OB_TEST_PAUSE_AT_STORED", "0"))
    build = celery_app.build_runtime

    def pause(count: int) -> None:
        if count >= pause_at:
            log.rpush(f"{prefix}:test:paused", json.dumps({"worker": os.getpid(), "stored": count}))
            time.sleep(3600)  # the test SIGKILLs this process now, inside the page's transaction

    def instrumented(config: Settings) -> tasks.Runtime:
        runtime = build(config)
        runtime.options = replace(runtime.options, page_size=page_size, on_stored=pause if pause_at else None)
        return runtime

    celery_app.build_runtime = instrumented  # type: ignore[assignment]
    original = tasks.sync_account_orders

    def recorded(account_id: int) -> dict[str, Any]:
        start = time.time()
        result = original(account_id)  # LeaseHeld propagates: a pass that never held the lease
        entry = {"worker": os.getpid(), "account": account_id, "start": start, "end": time.time()}
        entry.update({key: result[key] for key in ("pages", "stored", "booked", "resumed")})
        log.rpush(f"{prefix}:test:passes", json.dumps(entry))
        return result

    tasks.sync_account_orders = recorded  # type: ignore[assignment]
    real_held = leases.held

    @contextmanager
    def recorded_held(
        sessions: Any, name: str, *, clock: Any, ttl: Any = leases.DEFAULT_TTL
    ) -> Iterator[str]:
        """The time this worker held an account's lease: taken after acquiring it, ended before release."""
        with real_held(sessions, name, clock=clock, ttl=ttl) as holder:
            start = time.time()
            try:
                yield holder
            finally:
                entry = {"worker": os.getpid(), "lease": name, "start": start, "end": time.time()}
                log.rpush(f"{prefix}:test:holds", json.dumps(entry))

    leases.held = recorded_held  # type: ignore[assignment]

    def ready(**_: Any) -> None:
        log.rpush(f"{prefix}:test:ready", json.dumps({"worker": os.getpid()}))

    worker_ready.connect(ready, weak=False)
    celery_app.configure_app(settings).worker_main(
        [
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--queues=orders,reports,control",
            f"--hostname=w{os.getpid()}@scale-test",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
    )


if __name__ == "__main__":
    main()
