"""One setting switches the mode (validated); metrics in Prometheus text; health checks; CLI refusals."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import redis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.api.calls import CallEvent
from orderbridge.amazon.api.quota_redis import RedisQuotaLimiter
from orderbridge.amazon.orders.sync import SyncOptions
from orderbridge.cli import context
from orderbridge.cli.app import app
from orderbridge.config import SettingsError, load_settings
from orderbridge.db import make_engine, session_factory
from orderbridge.jobs.worker_runtime import CountedCallLog
from orderbridge.ops.health import check
from orderbridge.ops.metrics import metrics_text
from orderbridge.ops.router import ops_router
from orderbridge.ops.sources import Sources
from orderbridge.simulator import worldfile
from tests.e2e.sync_world import BASE, SyncWorld, make_sandbox, open_world
from tests.simulator.sandbox_helpers import small_world

_WORLD = worldfile.dump(small_world(seed=5, orders_per_day=20))
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/book"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ORDERBRIDGE_CONFIG", str(tmp_path / "none.toml"))
    for name in ("MODE", "BROKER_URL", "DATABASE_URL", "QUOTA_REDIS_URL"):
        monkeypatch.delenv(f"ORDERBRIDGE_{name}", raising=False)


def test_distributed_mode_names_what_it_lacks(clean_env: None) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings(mode="distributed")
    assert "ORDERBRIDGE_DATABASE_URL must be a postgresql" in str(raised.value)
    assert "ORDERBRIDGE_BROKER_URL must name the Celery broker" in str(raised.value)
    with pytest.raises(SettingsError, match="ORDERBRIDGE_MODE: Value error, must be one of embedded"):
        load_settings(mode="cluster")
    with pytest.raises(SettingsError, match="ORDERBRIDGE_BROKER_URL: Value error, must start with"):
        load_settings(mode="distributed", database_url=PG, broker_url="kafka://x")


def test_distributed_quotas_live_in_the_redis_broker_and_embedded_ones_in_the_book(clean_env: None) -> None:
    embedded = load_settings()
    assert (embedded.mode, embedded.quota_store_url) == ("embedded", "")
    distributed = load_settings(mode="distributed", database_url=PG, broker_url="redis://127.0.0.1:6379/0")
    assert distributed.quota_store_url == "redis://127.0.0.1:6379/0"
    rabbit = load_settings(
        mode="distributed",
        database_url=PG,
        broker_url="amqp://guest@127.0.0.1//",
        quota_redis_url="redis://127.0.0.1:6379/1",
    )
    assert rabbit.quota_store_url == "redis://127.0.0.1:6379/1"  # RabbitMQ as broker, Redis beside it
    # RabbitMQ alone is refused: the dispatcher's markers (and the shared buckets) need a Redis
    with pytest.raises(SettingsError, match="ORDERBRIDGE_QUOTA_REDIS_URL must name a Redis"):
        load_settings(mode="distributed", database_url=PG, broker_url="amqp://guest@127.0.0.1//")


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, clean_env: None) -> Iterator[CliRunner]:
    monkeypatch.setenv("ORDERBRIDGE_DATA_DIR", str(tmp_path / "data"))
    context.forget()
    yield CliRunner()
    context.forget()


def test_worker_and_beat_refuse_the_embedded_mode_and_run_refuses_the_distributed_one(
    cli: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    for command in ("worker", "beat"):
        result = cli.invoke(app, [command])
        assert result.exit_code == 2 and "ORDERBRIDGE_MODE=distributed" in result.output
    monkeypatch.setenv("ORDERBRIDGE_MODE", "distributed")
    monkeypatch.setenv("ORDERBRIDGE_DATABASE_URL", PG)
    monkeypatch.setenv("ORDERBRIDGE_BROKER_URL", "redis://127.0.0.1:6379/0")
    context.forget()
    result = cli.invoke(app, ["run", "--once"])
    assert result.exit_code == 2 and "orderbridge worker" in result.output


@pytest.fixture
def synced(fresh_store_url: str, tmp_path: Path) -> Iterator[SyncWorld]:
    engine = make_engine(fresh_store_url)
    world = open_world(session_factory(engine), make_sandbox(copy.deepcopy(_WORLD)), tmp_path)
    world.options = SyncOptions(backfill=False)
    world.sync(world.seller("NA").seller_id)
    yield world
    engine.dispose()


def _families(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    found: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_metrics_show_sync_lag_quota_tokens_and_sweep_backlog_from_the_book(synced: SyncWorld) -> None:
    # the book's now is the sandbox's: the orders Amazon shipped in its world are days, not weeks, old
    sources = Sources(synced.sessions, clocks={BASE: synced.vtime.now}, clock=synced.vtime.now)
    metrics = _families(metrics_text(sources))
    na = synced.accounts[synced.seller("NA").seller_id]
    lags = {
        dict(labels)["account_id"]: value for labels, value in metrics["orderbridge_sync_lag_seconds"].items()
    }
    assert 0 < lags[str(na)] < 600  # synced up to two minutes (plus rounding) ago
    assert len(lags) == 1  # the other account never synced: no lag to report yet
    tokens = {dict(k)["operation"]: v for k, v in metrics["orderbridge_quota_tokens"].items()}
    assert tokens["searchOrders"] < 20  # pages were taken from the burst
    assert metrics["orderbridge_privacy_sweep_backlog"][(("kind", "orders"),)] == 0


def test_metrics_read_quota_buckets_and_429s_of_all_workers_from_redis(
    synced: SyncWorld, redis_client: redis.Redis, prefix: str
) -> None:
    # a partner with no account here: its buckets are read on the real clock
    now = datetime.now(UTC)
    limiter = RedisQuotaLimiter(redis_client, clock=lambda: now, prefix=prefix)
    for _ in range(3):
        limiter.acquire("A1PARTNER", "EU", "getOrder")
    log = CountedCallLog(redis_client, prefix=prefix)
    at = now
    log.record(CallEvent(at, "A1PARTNER", "EU", "getOrder", 200, 5.0))
    log.record(CallEvent(at, "A1PARTNER", "EU", "getOrder", 429, 5.0))
    sources = Sources(synced.sessions, redis=redis_client, prefix=prefix, clocks={BASE: synced.vtime.now})
    metrics = _families(metrics_text(sources))
    assert metrics["orderbridge_quota_tokens"][
        (("operation", "getOrder"), ("region", "EU"), ("selling_partner_id", "A1PARTNER"))
    ] == pytest.approx(27.0, abs=0.05)
    assert metrics["orderbridge_amazon_throttled_total"][(("operation", "getOrder"),)] == 1
    assert metrics["orderbridge_amazon_calls_total"][(("operation", "getOrder"),)] == 2


def test_router_serves_metrics_and_readiness_for_the_web_app(
    synced: SyncWorld, redis_client: redis.Redis, prefix: str
) -> None:
    web = FastAPI()
    web.include_router(ops_router(lambda: Sources(synced.sessions, redis=redis_client, prefix=prefix)))
    client = TestClient(web)
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
    assert "orderbridge_sync_lag_seconds" in metrics.text
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


def test_health_names_the_service_that_does_not_answer(synced: SyncWorld) -> None:
    gone = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    health = check(Sources(synced.sessions, redis=gone))
    assert not health.ok
    assert health.checks["database"] == "ok" and health.checks["redis"].startswith("unreachable")
    assert SellerAccount.__tablename__  # accounts are the metrics' labels; the table is in the book
