"""`orderbridge worker`, `beat`, `metrics` and `health`: the distributed mode and its operations."""

from __future__ import annotations

from typing import Annotated

import redis
import typer
from sqlalchemy.exc import SQLAlchemyError

from orderbridge.cli.context import console, fail, sessions, settings
from orderbridge.config import Settings
from orderbridge.ops.health import check
from orderbridge.ops.metrics import metrics_text
from orderbridge.ops.sources import Sources, sources_from

POOLS = ("prefork", "threads", "solo")


def _distributed() -> Settings:
    config = settings()
    if config.mode != "distributed":
        raise fail(
            "workers and beat serve the distributed mode: set ORDERBRIDGE_MODE=distributed, "
            "ORDERBRIDGE_DATABASE_URL (PostgreSQL) and ORDERBRIDGE_BROKER_URL (see docs/deploy.md)",
            code=2,
        )
    if config.quota_store_url:
        try:
            redis.Redis.from_url(config.quota_store_url, socket_connect_timeout=5).ping()
        except redis.RedisError as error:
            raise fail(
                f"the quota Redis at {_safe(config.quota_store_url)} does not answer "
                f"({type(error).__name__}); every worker must share it",
                code=2,
            ) from None
    return config


def _safe(url: str) -> str:
    """A URL without its password, for messages."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}"


def worker(
    queues: Annotated[
        str, typer.Option(help="Queues to serve: orders (order sync), reports (reports, sweep), control.")
    ] = "orders,reports,control",
    concurrency: Annotated[int, typer.Option(min=1, help="Tasks run at once in this worker.")] = 2,
    pool: Annotated[str, typer.Option(help="prefork (processes), threads or solo.")] = "prefork",
    name: Annotated[str | None, typer.Option(help="Worker node name (default: celery's).")] = None,
) -> None:
    """Run a Celery worker for the distributed mode (order sync, reports, the dispatcher)."""
    config = _distributed()
    if pool not in POOLS:
        raise fail(f"--pool must be one of {', '.join(POOLS)}, not {pool!r}", code=2)
    unknown = [q for q in queues.split(",") if q.strip() not in {"orders", "reports", "control"}]
    if unknown:
        raise fail(f"--queues: unknown queue(s) {', '.join(unknown)}; known: orders, reports, control")
    from orderbridge.jobs.celery_app import configure_app

    argv = [
        "worker",
        "--loglevel=INFO",
        f"--queues={queues}",
        f"--concurrency={concurrency}",
        f"--pool={pool}",
    ]
    if name:
        argv.append(f"--hostname={name}")
    configure_app(config).worker_main(argv)


def beat() -> None:
    """Run the beat: it ticks the dispatcher (one task per due account) and the daily privacy sweep.

    Safe to run twice: the dispatcher never queues an account that is queued or running."""
    config = _distributed()
    from orderbridge.jobs.celery_app import configure_app

    configure_app(config).start(["beat", "--loglevel=INFO"])


def _sources() -> Sources:
    from orderbridge.amazon.accounts import list_accounts
    from orderbridge.jobs.worker_runtime import sandbox_endpoint_at

    found = sources_from(settings(), sessions())
    with sessions()() as session:
        urls = {account.endpoint.rstrip("/") for account in list_accounts(session)}
    for url in urls:
        endpoint = sandbox_endpoint_at(url)
        if endpoint is not None:
            found.clocks[url] = endpoint.clock
    return found


def metrics() -> None:
    """Print every metric in Prometheus text format (what /metrics serves)."""
    try:
        console.out(metrics_text(_sources()), end="")
    except SQLAlchemyError as error:
        raise fail(
            f"the book cannot be read ({type(error).__name__}): is it reachable and migrated "
            "(`orderbridge db upgrade`)?"
        ) from None
    except redis.RedisError as error:
        raise fail(f"the quota Redis does not answer ({type(error).__name__})") from None


def health() -> None:
    """Check the book, the quota Redis and the broker; exit 1 when one fails (for systemd, compose)."""
    result = check(sources_from(settings(), sessions()))
    for name, state in result.checks.items():
        console.print(f"{name}: {state}", highlight=False)
    if not result.ok:
        raise typer.Exit(1)
