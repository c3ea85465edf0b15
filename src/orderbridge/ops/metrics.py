"""Metrics in Prometheus text format, read fresh from the book, Redis and the broker at every scrape.

    orderbridge_sync_lag_seconds{account_id,account}   how far behind each account's order download is
    orderbridge_inbox_waiting{account_id,account}      order versions downloaded, not yet booked
    orderbridge_quota_tokens{selling_partner_id,region,operation}  tokens in our copy of each bucket
    orderbridge_amazon_calls_total{operation}           SP-API calls (Redis counters of the workers)
    orderbridge_amazon_throttled_total{operation}       of them, answered 429
    orderbridge_queue_depth{queue}                      tasks waiting in each Celery queue
    orderbridge_privacy_sweep_backlog{kind}             records whose PII is past due (must be 0, P1)

`metrics_text()` is a plain function: `orderbridge metrics` prints it; `ops/router.py` serves it at
/metrics for the web app. Nothing here is buyer data: labels are account labels and operation names.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from orderbridge.amazon.accounts import SellerAccount, list_accounts
from orderbridge.amazon.api.calls import stored_counts
from orderbridge.amazon.api.quota_redis import all_buckets
from orderbridge.amazon.api.quotas import QuotaBucket, refill
from orderbridge.amazon.orders.cursors import SyncCursor
from orderbridge.amazon.orders.inbox import InboxItem, InboxStatus
from orderbridge.book.contacts import Contact
from orderbridge.book.orders.model import SalesOrder
from orderbridge.clock import as_utc, utc_now
from orderbridge.jobs.worker_runtime import calls_key
from orderbridge.ops.sources import Sources
from orderbridge.privacy.retention_clock import retention_period
from orderbridge.privacy.sweep.due import amazon_channel_ids, anchored_before, due_contacts

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
QUEUES = ("orders", "reports", "control")


class BookCollector(Collector):
    """Collects every figure at scrape time (nothing is kept between scrapes)."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        with self.sources.sessions() as session:
            accounts = list_accounts(session)
            yield from self._sync(session, accounts)
            yield from self._quotas(session, accounts)
            yield from self._calls(session)
            yield from self._sweep(session)
        yield from self._queues()

    def _sync(self, session: Any, accounts: list[SellerAccount]) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "orderbridge_sync_lag_seconds",
            "Seconds between now (the account's SP-API clock) and the end of its last complete download.",
            labels=["account_id", "account"],
        )
        waiting = GaugeMetricFamily(
            "orderbridge_inbox_waiting",
            "Order versions downloaded and not yet booked.",
            labels=["account_id", "account"],
        )
        positions: dict[int, datetime] = {}
        for account_id, position in session.execute(
            select(SyncCursor.account_id, func.min(SyncCursor.position)).group_by(SyncCursor.account_id)
        ):
            if position is not None:
                positions[account_id] = as_utc(position)
        counts = dict(
            session.execute(
                select(InboxItem.account_id, func.count())
                .where(InboxItem.status == InboxStatus.RECEIVED)
                .group_by(InboxItem.account_id)
            ).all()
        )
        for account in accounts:
            labels = [str(account.id), account.label]
            if account.id in positions:
                now = self.sources.now_for(account.endpoint)
                lag.add_metric(labels, max(0.0, (now - positions[account.id]).total_seconds()))
            waiting.add_metric(labels, float(counts.get(account.id, 0)))
        yield lag
        yield waiting

    def _quotas(self, session: Any, accounts: list[SellerAccount]) -> Iterator[Metric]:
        tokens = GaugeMetricFamily(
            "orderbridge_quota_tokens",
            "Tokens left in our copy of each SP-API usage-plan bucket (refilled to now).",
            labels=["selling_partner_id", "region", "operation"],
        )
        endpoints = {(a.selling_partner_id, a.region): a.endpoint for a in accounts}

        def now_of(partner: str, region: str) -> float:
            endpoint = endpoints.get((partner, region))
            return (self.sources.now_for(endpoint) if endpoint else utc_now()).timestamp()

        if self.sources.redis is not None:
            for (partner, region, operation), state in sorted(
                all_buckets(self.sources.redis, prefix=self.sources.prefix).items()
            ):
                elapsed = now_of(partner, region) - state.stamp
                value = refill(state.tokens, state.rate, state.burst, elapsed)
                tokens.add_metric([partner, region, operation], value)
        else:
            for bucket in session.scalars(select(QuotaBucket)):
                elapsed = now_of(bucket.selling_partner_id, bucket.region) - as_utc(bucket.stamp).timestamp()
                value = refill(bucket.tokens, bucket.rate, bucket.burst, elapsed)
                tokens.add_metric([bucket.selling_partner_id, bucket.region, bucket.operation], value)
        yield tokens

    def _calls(self, session: Any) -> Iterator[Metric]:
        calls = CounterMetricFamily(
            "orderbridge_amazon_calls", "SP-API calls made by the workers.", labels=["operation"]
        )
        throttled = CounterMetricFamily(
            "orderbridge_amazon_throttled", "SP-API calls Amazon answered with 429.", labels=["operation"]
        )
        found: dict[str, tuple[float, float]] = {}
        if self.sources.redis is not None:
            raw = self.sources.redis.hgetall(calls_key(self.sources.prefix))
            for key, value in raw.items():
                operation, _, kind = (key.decode() if isinstance(key, bytes) else str(key)).rpartition(":")
                made, limited = found.get(operation, (0.0, 0.0))
                n = float(value)
                found[operation] = (made + n, limited) if kind == "calls" else (made, limited + n)
        else:
            for operation, counts in stored_counts(session).items():
                found[operation] = (float(counts.calls), float(counts.throttled))
        for operation, (made, limited) in sorted(found.items()):
            calls.add_metric([operation], made)
            throttled.add_metric([operation], limited)
        yield calls
        yield throttled

    def _sweep(self, session: Any) -> Iterator[Metric]:
        backlog = GaugeMetricFamily(
            "orderbridge_privacy_sweep_backlog",
            "Records whose buyer data is past its retention due time and awaits the sweep (P1: 0).",
            labels=["kind"],
        )
        now, period = self.sources.clock(), retention_period(self.sources.retention_days)
        amazon = amazon_channel_ids(session)
        orders = session.scalar(
            select(func.count())
            .select_from(SalesOrder)
            .where(
                SalesOrder.channel_id.in_(amazon),
                SalesOrder.pii_redacted_at.is_(None),
                anchored_before(now - period),
            )
        )
        contacts = session.scalar(
            select(func.count()).select_from(Contact).where(due_contacts(amazon, now - period))
        )
        backlog.add_metric(["orders"], float(orders or 0))
        backlog.add_metric(["contacts"], float(contacts or 0))
        yield backlog

    def _queues(self) -> Iterator[Metric]:
        if not self.sources.broker_url:
            return
        depth = GaugeMetricFamily(
            "orderbridge_queue_depth", "Tasks waiting in each Celery queue.", labels=["queue"]
        )
        for queue, size in queue_depths(self.sources.broker_url, prefix=self.sources.prefix).items():
            depth.add_metric([queue], float(size))
        yield depth


def queue_depths(broker_url: str, *, prefix: str = "orderbridge") -> dict[str, int]:
    """Messages waiting in each queue (Redis or RabbitMQ, through kombu)."""
    from kombu.connection import Connection

    from orderbridge.jobs.celery_app import broker_options

    found: dict[str, int] = {}
    with Connection(
        broker_url, connect_timeout=5, transport_options=broker_options(broker_url, prefix)
    ) as connection:  # type: ignore[no-untyped-call]
        channel = connection.default_channel
        for queue in QUEUES:
            try:
                found[queue] = int(channel.queue_declare(queue=queue, passive=True).message_count)
            except Exception:  # a queue nobody declared yet holds nothing
                found[queue] = 0
                channel = connection.channel()
    return found


def metrics_text(sources: Sources) -> str:
    """Every metric, in Prometheus text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BookCollector(sources))
    return generate_latest(registry).decode()
