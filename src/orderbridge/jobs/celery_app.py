"""The distributed mode: the task functions of `tasks.py` as Celery tasks, their queues and the beat.

`orderbridge worker` and `orderbridge beat` (cli/scale.py) run this app; so would
`celery -A orderbridge.jobs.celery_app worker`. The Celery tasks are thin: each calls the same task
function the embedded scheduler calls, then tells the dispatcher (dispatch.py) the account is free.

Queues (task routing): `orders` (order sync, many short bounded passes), `reports` (the completeness
check waits for Amazon's reports and parses them; the privacy sweep), `control` (the dispatcher tick).
A worker serves all three unless told otherwise, so report parsing on one worker never holds order sync
on another: deployments run at least one worker with `-Q orders,control`.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
from celery import Celery
from celery.schedules import crontab
from celery.signals import after_setup_logger, after_setup_task_logger

from orderbridge.amazon.leases import LeaseHeld
from orderbridge.config import Settings, load_settings
from orderbridge.jobs import dispatch as dispatcher
from orderbridge.jobs import tasks
from orderbridge.jobs.worker_runtime import build_runtime
from orderbridge.privacy.log_filter import install_pii_filter

log = logging.getLogger(__name__)
QUEUES = ("orders", "reports", "control")
TASK_SYNC = "orderbridge.sync_orders"
TASK_COMPLETENESS = "orderbridge.check_completeness"
TASK_DISPATCH = "orderbridge.dispatch"
TASK_SWEEP = "orderbridge.sweep"
TASK_HEALTH = "orderbridge.sync_health"
HEALTH_EVERY = timedelta(minutes=5)
ROUTES = {
    TASK_HEALTH: {"queue": "control"},
    TASK_SYNC: {"queue": "orders"},
    TASK_COMPLETENESS: {"queue": "reports"},
    TASK_SWEEP: {"queue": "reports"},
    TASK_DISPATCH: {"queue": "control"},
}

app = Celery("orderbridge")
_state: dict[str, Any] = {}


def _mask_pii_in_logs(**_: Any) -> None:
    """Celery adds its own log handlers: they get the PII filter too (DPP: logs are in scope)."""
    install_pii_filter()


after_setup_logger.connect(_mask_pii_in_logs, weak=False)
after_setup_task_logger.connect(_mask_pii_in_logs, weak=False)


def broker_options(broker_url: str, prefix: str) -> dict[str, Any]:
    """Kombu transport options: on Redis every key carries the installation's prefix."""
    return {"global_keyprefix": f"{prefix}:celery:"} if broker_url.startswith("redis") else {}


def configure_app(settings: Settings) -> Celery:
    """Point the app at the installation's broker; beat ticks the dispatcher and sweeps daily."""
    dispatch_every = timedelta(seconds=settings.dispatch_seconds)
    app.conf.update(
        broker_url=settings.broker_url,
        broker_transport_options=broker_options(settings.broker_url, settings.redis_prefix),
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        task_routes=ROUTES,
        task_default_queue="orders",
        # Fairness: a worker takes one task at a time, so queued accounts spread over all workers.
        worker_prefetch_multiplier=1,
        # A task is acknowledged when it starts: one lost with its worker is dispatched again once its
        # marker expires, and resumes from the committed cursor after the account's lease expires.
        task_acks_late=False,
        worker_hijack_root_logger=False,
        beat_schedule={
            "dispatch": {"task": TASK_DISPATCH, "schedule": dispatch_every.total_seconds()},
            # P4: daily on the real clock (Amazon's DPP counts real days).
            "privacy-sweep": {"task": TASK_SWEEP, "schedule": crontab(minute=17, hour=3)},
            # Sync health: a failing account's alert and one e-mail per episode.
            "sync-health": {"task": TASK_HEALTH, "schedule": HEALTH_EVERY.total_seconds()},
        },
        beat_schedule_filename=str(Path(settings.data_dir) / "celerybeat-schedule"),
        timezone="UTC",
    )
    _state["settings"] = settings
    return app


def _settings() -> Settings:
    if "settings" not in _state:
        configure_app(load_settings())
    settings: Settings = _state["settings"]
    return settings


def runtime() -> tasks.Runtime:
    """This process's runtime, built on first use (after the worker forked its child processes)."""
    if _state.get("pid") != os.getpid():
        built = build_runtime(_settings())
        tasks.configure(built)
        _state["pid"] = os.getpid()
        _state.pop("redis", None)
    return tasks.runtime()


def _prefix() -> str:
    return _settings().redis_prefix


def jobs_redis() -> redis.Redis:
    """The Redis the dispatcher keeps its markers in: the quota Redis (the broker when it is Redis)."""
    if "redis" not in _state:
        url = _settings().quota_store_url or _settings().broker_url
        _state["redis"] = redis.Redis.from_url(url)
    client: redis.Redis = _state["redis"]
    return client


def dispatch_tick() -> dict[str, Any]:
    """One dispatcher round; ticks that queued up behind busy workers (or came from a second beat)
    within half an interval of the last one are skipped."""
    settings = _settings()
    spacing = max(1, int(settings.dispatch_seconds * 500))
    if not jobs_redis().set(f"{_prefix()}:jobs:tick", "1", nx=True, px=spacing):
        return {"skipped": "a tick ran moments ago"}
    done = dispatcher.dispatch(
        runtime(), jobs_redis(), _send, prefix=_prefix(), queued_ttl=settings.requeue_seconds
    )
    return {"accounts": done.accounts, **done.sent}


def sync_orders(account_id: int) -> dict[str, Any]:
    """One bounded order pass for an account (the embedded scheduler's `sync_account_orders`)."""
    here = runtime()
    next_due: float | None = None
    held = False
    try:
        result = tasks.sync_account_orders(account_id)
        next_due = dispatcher.next_orders_due(here, account_id, result, tasks.now_of(account_id).timestamp())
        return result
    except LeaseHeld:
        # Another worker syncs it (or died holding it): its marker stays until that task ends or the
        # marker expires, so the account is not queued again at every tick meanwhile.
        held = True
        return {"skipped": f"account {account_id}: another worker holds it"}
    except Exception:  # as in the embedded scheduler: tried again at the account's next interval
        next_due = _later(here, account_id)
        raise
    finally:
        _flush_counts(here)
        if not held:
            dispatcher.finished(
                jobs_redis(), dispatcher.ORDERS, account_id, next_due=next_due, prefix=_prefix()
            )


def _later(here: tasks.Runtime, account_id: int) -> float | None:
    try:
        now = tasks.now_of(account_id).timestamp()
        return dispatcher.next_orders_due(here, account_id, {}, now)
    except Exception:
        log.exception("account %s: next sync time unknown; it is dispatched again at once", account_id)
        return None


def _flush_counts(here: tasks.Runtime) -> None:
    """The task's calls to the store (and, with Redis, its counters) before the worker takes another."""
    here.calls.flush()


def check_completeness(account_id: int, days: int = 3) -> dict[str, Any]:
    here = runtime()
    next_due: float | None = None
    held = False
    try:
        result = tasks.check_account_completeness(account_id, days)
        next_due = tasks.now_of(account_id).timestamp() + dispatcher.COMPLETENESS_EVERY.total_seconds()
        return result
    except LeaseHeld:
        held = True
        return {"skipped": f"account {account_id}: another worker holds it"}
    except Exception:
        next_due = tasks.now_of(account_id).timestamp() + dispatcher.COMPLETENESS_EVERY.total_seconds()
        raise
    finally:
        _flush_counts(here)
        if not held:
            dispatcher.finished(
                jobs_redis(), dispatcher.COMPLETENESS, account_id, next_due=next_due, prefix=_prefix()
            )


def sweep() -> dict[str, Any]:
    runtime()
    if not jobs_redis().set(
        f"{_prefix()}:jobs:sweep-lock", "1", nx=True, ex=int(timedelta(hours=20).total_seconds())
    ):
        return {"sweep": "skipped: another beat's sweep ran today"}
    return tasks.sweep_personal_data()


def sync_health() -> dict[str, Any]:
    """Every account's sync health; one beat, so one e-mail per episode (the notice's key is unique)."""
    runtime()
    return tasks.watch_sync_health()


# Registered by name; the plain functions above stay callable (and typed) for tests.
CELERY_TASKS: dict[str, Any] = {
    name: app.task(name=name)(function)
    for name, function in (
        (TASK_DISPATCH, dispatch_tick),
        (TASK_SYNC, sync_orders),
        (TASK_COMPLETENESS, check_completeness),
        (TASK_SWEEP, sweep),
        (TASK_HEALTH, sync_health),
    )
}


def _send(kind: str, account_id: int) -> None:
    CELERY_TASKS[TASK_SYNC if kind == dispatcher.ORDERS else TASK_COMPLETENESS].delay(account_id)
