"""The retention clock as pure functions: when an order's PII falls due, and which epochs a sweep may shred.

P1: PII is kept 30 days after an Amazon order is fulfilled (shipped) or cancelled; configurable down,
never up. Counting from shipment is at least as strict as the DPP's "30 days after delivery", because
delivery never comes before shipment (DPP §0.1), so ``due <= delivery + 30 days`` always holds (AC-12).

Epochs: a record due at time T belongs to epoch ``T``'s UTC day. On day D a sweep may shred every epoch
up to and including D, so no record outlives its due time by more than the gap between sweeps, and the
records of day D go up to a day early (stricter, never later).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from orderbridge.privacy.errors import RetentionSettingError

AMAZON_LIMIT = timedelta(days=30)


def retention_period(days: int = 30) -> timedelta:
    """The configured period, refusing anything past Amazon's 30 days (P1)."""
    if not 1 <= days <= AMAZON_LIMIT.days:
        raise RetentionSettingError(f"retention period: {days} days; must be 1 to {AMAZON_LIMIT.days}")
    return timedelta(days=days)


@dataclass(frozen=True)
class FulfilmentFacts:
    """What the clock needs to know of one Amazon order (all times timezone-aware)."""

    shipped_at: tuple[datetime, ...] = ()  # every shipment, replacements included
    cancelled_at: datetime | None = None  # the order, or its unshipped remainder, was cancelled
    fully_shipped: bool = False  # nothing is left to ship


def retention_anchor(facts: FulfilmentFacts) -> datetime | None:
    """The time the clock starts: the last shipment once fully shipped, or the cancellation.

    None while something is still to be shipped (PII is needed to fulfil the order): the record stays
    under the rolling open key. A replacement shipment moves the anchor later (re-encrypt, §3.4).
    """
    for moment in (*facts.shipped_at, facts.cancelled_at):
        if moment is not None and moment.tzinfo is None:
            raise RetentionSettingError("retention clock: times must carry a timezone")
    if facts.cancelled_at is not None:
        return max((*facts.shipped_at, facts.cancelled_at))
    if facts.fully_shipped and facts.shipped_at:
        return max(facts.shipped_at)
    return None


def retention_due(facts: FulfilmentFacts, period: timedelta = AMAZON_LIMIT) -> datetime | None:
    """When the order's PII must be gone, in UTC; None while it has no anchor."""
    anchor = retention_anchor(facts)
    return None if anchor is None else (anchor + period).astimezone(UTC)


def contact_due(order_dues: Iterable[datetime | None]) -> datetime | None:
    """A contact falls due with its last Amazon order (P1); None while any of its orders has no due."""
    dues = list(order_dues)
    if not dues or any(due is None for due in dues):
        return None
    return max(due for due in dues if due is not None)


def epoch_of(due: datetime) -> date:
    """The retention epoch (UTC day) of a record due at `due`."""
    return due.astimezone(UTC).date()


def sweepable(epoch: date, now: datetime) -> bool:
    """Whether a sweep at `now` may shred `epoch` (every epoch up to today's UTC day)."""
    return epoch <= now.astimezone(UTC).date()
