"""Sync health: every call stored by the runners, a failing sync opens one alert and one e-mail per
episode, recovery closes it, and the dashboard shows the embedded runner's calls."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from orderbridge.amazon.api.calls import CallLog, stored_counts
from orderbridge.amazon.errors import AmazonError
from orderbridge.amazon.health import CLOSED_BY, SYNC_FAILING
from orderbridge.book.alerts import Alert, Subject
from orderbridge.jobs import tasks
from orderbridge.jobs.runner import plan_jobs
from orderbridge.jobs.schedule import Scheduler
from orderbridge.jobs.tasks import Endpoint, Runtime
from orderbridge.notify.mail import MailSettings
from orderbridge.notify.notices import notices
from orderbridge.privacy.sealing import Privacy, enable
from orderbridge.web.app import create_app
from tests.amazon.conftest import BASE
from tests.e2e.sync_world import SyncWorld
from tests.notify.smtp_server import Inbox
from tests.web.conftest import MovableClock, WebApp, web_settings

pytestmark = pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)


@pytest.fixture
def runtime(world: SyncWorld) -> Iterator[Runtime]:
    """The jobs' runtime as `orderbridge run` builds it: every call stored, on the sandbox's clock."""
    enable(world.sessions, Privacy(world.keys, retention_days=30))
    built = Runtime(world.sessions, world.keys, calls=CallLog(world.sessions))
    built.endpoints[BASE] = Endpoint(
        clock=world.vtime.now, sleep=world.vtime.sleep, transport=world.transport, speed=0
    )
    tasks.configure(built)
    yield built
    tasks.configure(None)


def _sync_alerts(world: SyncWorld, account_id: int) -> list[Alert]:
    with world.sessions() as session:
        query = select(Alert).where(
            Alert.subject == Subject.ACCOUNT, Alert.subject_id == account_id, Alert.kind == SYNC_FAILING
        )
        found = list(session.scalars(query.order_by(Alert.id)))
        session.expunge_all()
    return found


def test_every_call_failing_for_16_minutes_opens_one_alert_and_one_mail_and_success_closes_it(
    world: SyncWorld, runtime: Runtime, smtp: tuple[Inbox, MailSettings]
) -> None:
    # given: a working sync, and mail set up
    inbox, mail = smtp
    runtime.mail = mail
    account_id = world.accounts[world.seller("NA").seller_id]
    tasks.sync_account_orders(account_id)
    assert "failing" not in tasks.watch_sync_health()["health"]
    # when: Amazon answers 500 to every call, for a minute and then for 16
    world.sandbox.faults.configure({"error_500_rate": 1.0})
    with pytest.raises(AmazonError):
        tasks.sync_account_orders(account_id)
    tasks.watch_sync_health()
    assert _sync_alerts(world, account_id) == []  # a short outage is no episode
    world.sandbox.advance(16 * 60)
    with pytest.raises(AmazonError):
        tasks.sync_account_orders(account_id)
    first = tasks.watch_sync_health()["health"]
    world.sandbox.advance(5 * 60)
    with pytest.raises(AmazonError):
        tasks.sync_account_orders(account_id)
    again = tasks.watch_sync_health()["health"]
    # then: one alert, one e-mail, however many checks see the failure
    assert "opened" in first and "1 e-mail sent" in first
    assert "still failing" in again
    [alert] = _sync_alerts(world, account_id)
    assert alert.cleared_at is None
    assert "every call to Amazon" in alert.message and "500" in alert.message
    assert len(inbox.messages) == 1
    assert "Amazon sync failing" in inbox.subjects()[0]
    assert inbox.events()[0].startswith(f"{SYNC_FAILING}:{account_id}:")
    # when: Amazon answers again
    world.sandbox.faults.configure({})
    tasks.sync_account_orders(account_id)
    closed = tasks.watch_sync_health()["health"]
    # then: the alert is closed by the health watch, and no second mail
    assert "closed" in closed
    [alert] = _sync_alerts(world, account_id)
    assert alert.cleared_at is not None and alert.cleared_by == CLOSED_BY
    assert len(inbox.messages) == 1


def test_no_successful_order_download_for_an_hour_opens_the_alert_without_mail_when_none_is_set(
    world: SyncWorld, runtime: Runtime
) -> None:
    account_id = world.accounts[world.seller("NA").seller_id]
    tasks.sync_account_orders(account_id)
    world.sandbox.advance(59 * 60)
    tasks.watch_sync_health()
    assert _sync_alerts(world, account_id) == []
    world.sandbox.advance(2 * 60)
    result = tasks.watch_sync_health()["health"]
    assert "opened" in result and "waits in the book" in result
    [alert] = _sync_alerts(world, account_id)
    assert "no order download" in alert.message
    with world.sessions() as session:
        mine = [n for n in notices(session) if n.event_key.startswith(f"{SYNC_FAILING}:{account_id}:")]
        assert len(mine) == 1 and mine[0].sent_at is None  # queued for when mail is set up
    tasks.sync_account_orders(account_id)
    tasks.watch_sync_health()
    assert _sync_alerts(world, account_id)[0].cleared_by == CLOSED_BY


def test_the_embedded_runners_calls_are_stored_in_batches_and_shown_on_the_dashboard(
    world: SyncWorld, runtime: Runtime, fresh_store_url: str, tmp_path: Path
) -> None:
    # given: the embedded scheduler's jobs, as `orderbridge run` plans them
    scheduler = Scheduler()
    plan_jobs(scheduler, runtime)
    # when: the due jobs run (order syncs of every account, the outbox, ...)
    scheduler.run_pending()
    # then: their calls are in the store, and each account's row on the dashboard counts them
    with world.sessions() as session:
        stored = stored_counts(session)
    assert stored["searchOrders"].calls >= len(world.accounts)
    settings = web_settings(tmp_path / "web", fresh_store_url)
    clock = MovableClock(world.vtime.now())
    app = create_app(settings, sessions=world.sessions, keys=world.keys, clock=clock)
    web = WebApp(
        app, settings, world.sessions, world.keys, clock, store=fresh_store_url.split(":", maxsplit=1)[0]
    )
    page = web.client("viewer").get("/").text
    counts = [
        int(n.replace(",", "")) for n in re.findall(r'<td class="num">([\d,]+)</td>\s*<td class="num', page)
    ]
    assert len(counts) == len(world.accounts) and all(n > 0 for n in counts)
    for client in web.clients:
        client.close()
