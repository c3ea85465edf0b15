"""Sync health: whether an account's sync works, judged from the stored call log and its order cursor.

An account is failing when every call to Amazon has failed for `failing_for` (by the stored call log:
no successful call since the first failure of the run), or when no order download has succeeded for
`quiet_for`. A failing account has one open alert on the dashboard and one e-mail per episode (the
notice's event key names the episode's start, so a second check never mails again); the alert closes
itself when the account's calls succeed again. A person who clears the alert mid-episode is not asked
again for the same episode.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.api.calls import ApiCall
from orderbridge.amazon.orders.cursors import SyncCursor
from orderbridge.book.alerts import Alert, Subject, clear_alert, open_alerts, raise_alert
from orderbridge.clock import as_utc
from orderbridge.notify.notices import queue_notice

SYNC_FAILING = "sync_failing"
CLOSED_BY = "sync health"  # who the audit trail shows closed an alert once calls succeeded again


@dataclass(frozen=True)
class HealthOptions:
    failing_for: timedelta = timedelta(minutes=15)
    quiet_for: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Failing:
    """Why an account's sync is failing, since when (the episode's start), in the seller's words."""

    since: datetime
    what: str


class Change(StrEnum):
    OPENED = "opened"
    STILL_FAILING = "still failing"
    CLOSED = "closed"
    HEALTHY = "healthy"


def _ok() -> ColumnElement[bool]:
    return (ApiCall.status > 0) & (ApiCall.status < 400)


def _calls_of(account: SellerAccount) -> ColumnElement[bool]:
    return (ApiCall.selling_partner_id == account.selling_partner_id) & (ApiCall.region == account.region)


def _stamp(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M UTC")


def _answer(status: int) -> str:
    if status == 0:
        return "no answer (timeout or dropped connection)"
    if status == 429:
        return "429 (too many requests)"
    if status in (401, 403):
        return f"{status} (access refused: the authorisation may have been revoked)"
    return f"{status}"


def judge(
    session: Session, account: SellerAccount, *, now: datetime, options: HealthOptions
) -> Failing | None:
    """Whether the account's sync is failing now, and why; None when it works."""
    same = _calls_of(account)
    last_ok = session.scalar(select(func.max(ApiCall.at)).where(same, _ok()))
    bad = select(func.min(ApiCall.at), func.count()).where(same, ~_ok())
    if last_ok is not None:
        bad = bad.where(ApiCall.at > last_ok)
    first_bad, failures = session.execute(bad).one()
    if first_bad is not None and as_utc(now) - as_utc(first_bad) >= options.failing_for:
        last_status = session.scalar(
            select(ApiCall.status).where(same).order_by(ApiCall.at.desc(), ApiCall.id.desc()).limit(1)
        )
        return Failing(
            as_utc(first_bad),
            f"every call to Amazon for account {account.name} ({account.label}) has failed since "
            f"{_stamp(first_bad)}: {failures} calls, the last answered {_answer(int(last_status or 0))}. "
            "Orders are not downloading and nothing reaches Amazon. Check Amazon's service status and "
            "the account's authorisation in Seller Central; this alert closes by itself once calls "
            "succeed again.",
        )
    last_sync = session.scalar(
        select(func.max(SyncCursor.updated_at)).where(SyncCursor.account_id == account.id)
    )
    since = as_utc(last_sync or account.created_at)
    if as_utc(now) - since >= options.quiet_for:
        hours = (as_utc(now) - since).total_seconds() / 3600
        done = f"since {_stamp(since)}" if last_sync else f"since the account was added ({_stamp(since)})"
        return Failing(
            since,
            f"no order download for account {account.name} ({account.label}) has succeeded {done}, "
            f"{hours:.1f} hours. New orders are not reaching the book. Check that `orderbridge run` (or "
            "the workers and beat) is running and the server log for the sync's errors; this alert "
            "closes by itself once orders download again.",
        )
    return None


def _cleared_this_episode(session: Session, account: SellerAccount, since: datetime) -> bool:
    """A person cleared this episode's alert already: it stays cleared until the sync recovers."""
    query = select(Alert.id).where(
        Alert.subject == Subject.ACCOUNT,
        Alert.subject_id == account.id,
        Alert.kind == SYNC_FAILING,
        Alert.cleared_at.is_not(None),
        Alert.raised_at >= since,
    )
    return session.scalar(query.limit(1)) is not None


def check_account(
    session: Session, account: SellerAccount, *, now: datetime, options: HealthOptions
) -> Change:
    """Open (and queue one e-mail), refresh or close the account's sync alert as its health says."""
    failing = judge(session, account, now=now, options=options)
    current = [a for a in open_alerts(session, Subject.ACCOUNT, account.id) if a.kind == SYNC_FAILING]
    if failing is None:
        for alert in current:
            clear_alert(alert, by=CLOSED_BY, now=now)
        return Change.CLOSED if current else Change.HEALTHY
    if current:
        current[0].message = failing.what[:1000]
        return Change.STILL_FAILING
    if _cleared_this_episode(session, account, failing.since):
        return Change.STILL_FAILING
    raise_alert(session, Subject.ACCOUNT, account.id, SYNC_FAILING, failing.what[:1000], now=now)
    queue_notice(
        session,
        event_key=f"{SYNC_FAILING}:{account.id}:{failing.since.isoformat()}",
        kind=SYNC_FAILING,
        subject=f"orderbridge: Amazon sync failing for {account.name}",
        body=failing.what
        + "\n\nThe dashboard shows the account's calls, 429s and errors of the last 24 hours.",
        now=now,
    )
    return Change.OPENED
