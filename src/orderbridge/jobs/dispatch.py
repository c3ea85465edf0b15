"""Fair dispatch of account jobs onto the Celery queues, safe to run from any number of beats at once.

Every tick (`dispatch`), each account whose order sync (or daily completeness check) is due gets ONE
task, unless one is already queued or running: a marker in Redis (`SET NX` with an expiry) says so.
A task fetches a bounded number of pages and stops rather than wait long for a quota token; when it
ends it clears its marker and records when the account is next due (at once when pages remain, after
the quota wait, or after the searchOrders refill). A large account therefore takes one bounded turn per
round like every small one, and none is queued twice. A task lost with a killed worker leaves a marker
that expires after `queued_ttl`, and an account lease that expires after its TTL; the account is then
dispatched again and resumes from its committed cursor.

Two beats ticking at once dispatch nothing twice: the markers are atomic, and the lease inside every
task is the last guard.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis
from sqlalchemy import select

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.marketplaces import ENDPOINTS, Region
from orderbridge.clock import Clock
from orderbridge.jobs.schedule import orders_interval
from orderbridge.jobs.tasks import Runtime

ORDERS, COMPLETENESS = "orders", "completeness"
KINDS = (ORDERS, COMPLETENESS)
COMPLETENESS_EVERY = timedelta(days=1)
COMPLETENESS_FIRST = timedelta(hours=1)
Send = Callable[[str, int], None]


def due_key(kind: str, account_id: int, prefix: str = "orderbridge") -> str:
    return f"{prefix}:jobs:due:{kind}:{account_id}"


def queued_key(kind: str, account_id: int, prefix: str = "orderbridge") -> str:
    return f"{prefix}:jobs:queued:{kind}:{account_id}"


def _float(value: Any) -> float | None:
    return float(value) if value is not None else None


@dataclass(frozen=True)
class Dispatched:
    """What one tick did."""

    accounts: int
    sent: dict[str, int]


def dispatch(
    runtime: Runtime,
    client: redis.Redis,
    send: Send,
    *,
    queued_ttl: float = 900.0,
    prefix: str = "orderbridge",
) -> Dispatched:
    """Send one task per account and kind that is due and not queued; most overdue first.

    One query for the accounts and two Redis round trips for all of them: a tick stays cheap with
    hundreds of accounts."""
    with runtime.sessions() as session:
        rows = session.execute(
            select(SellerAccount.id, SellerAccount.sp_api_endpoint, SellerAccount.region).order_by(
                SellerAccount.id
            )
        ).all()
    clocks: dict[str, Clock] = {}
    nows: dict[int, float] = {}
    for account_id, sp_api_endpoint, region in rows:
        url = (sp_api_endpoint or ENDPOINTS[Region(region)]).rstrip("/")
        if url not in clocks:
            clocks[url] = runtime.endpoint_at(url).clock
        nows[account_id] = clocks[url]().timestamp()
    keys = [due_key(kind, account_id, prefix) for account_id in nows for kind in KINDS]
    dues = iter(client.mget(keys) if keys else [])
    candidates: list[tuple[float, str, int]] = []
    first_checks: list[tuple[int, float]] = []
    for account_id, now in nows.items():
        for kind in KINDS:
            due = _float(next(dues))
            if due is None and kind == COMPLETENESS:
                first_checks.append((account_id, now + COMPLETENESS_FIRST.total_seconds()))
            elif due is None or due <= now:
                candidates.append((now - (due if due is not None else now), kind, account_id))
    pipe = client.pipeline(transaction=False)
    for account_id, due in first_checks:
        pipe.set(due_key(COMPLETENESS, account_id, prefix), repr(due), nx=True)
    ordered = sorted(candidates, key=lambda c: -c[0])
    for _, kind, account_id in ordered:
        pipe.set(queued_key(kind, account_id, prefix), "1", nx=True, ex=max(1, int(queued_ttl)))
    marked = pipe.execute()[len(first_checks) :]
    sent = dict.fromkeys(KINDS, 0)
    for (_, kind, account_id), free in zip(ordered, marked, strict=True):
        if free:
            send(kind, account_id)
            sent[kind] += 1
    return Dispatched(len(nows), sent)


def finished(
    client: redis.Redis, kind: str, account_id: int, *, next_due: float | None, prefix: str = "orderbridge"
) -> None:
    """A task ended: the account may be dispatched again, from `next_due` on (None: keep the old due)."""
    pipe = client.pipeline()
    if next_due is not None:
        pipe.set(due_key(kind, account_id, prefix), repr(next_due))
    pipe.delete(queued_key(kind, account_id, prefix))
    pipe.execute()


def next_orders_due(runtime: Runtime, account_id: int, result: dict[str, Any], now: float) -> float:
    """When the account's next order pass is due, after a pass that reported `result`."""
    if result.get("more"):
        return now + float(result.get("wait") or 0.0)
    return now + _sync_interval(runtime, account_id).total_seconds()


def _sync_interval(runtime: Runtime, account_id: int) -> timedelta:
    host = runtime.host_of(account_id)
    if host is None:
        return orders_interval()
    clock = runtime.endpoint_at(host.base_url).clock
    rate = runtime.limiter(clock).state(host.selling_partner_id, host.region, "searchOrders")
    return orders_interval(rate.rate)
