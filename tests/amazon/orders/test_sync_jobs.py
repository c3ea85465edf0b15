"""Jobs and commands around the order download: the scheduler, `sync orders`, `orders ...` and `run`."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from sqlalchemy import func, select
from typer.testing import CliRunner

from orderbridge.amazon.channel import change_settings, channel_for
from orderbridge.amazon.orders.cursors import SyncCursor
from orderbridge.amazon.orders.inbox_booking import alert_long_pending
from orderbridge.amazon.orders.records import AmazonOrderRecord, BookedState
from orderbridge.book.alerts import open_alerts
from orderbridge.book.contacts import NewContact, create_contact
from orderbridge.cli import context
from orderbridge.cli.app import app
from orderbridge.clock import as_utc
from orderbridge.db import make_engine, session_factory
from orderbridge.jobs.runner import SANDBOX_WORLD
from orderbridge.jobs.schedule import Scheduler, orders_interval
from orderbridge.simulator import worldfile
from tests.e2e.sync_world import make_sandbox, open_world, served
from tests.simulator.sandbox_helpers import small_world

_WORLD = worldfile.dump(small_world(seed=3, orders_per_day=20))


def test_order_sync_interval_is_one_searchorders_refill() -> None:
    assert orders_interval() == timedelta(seconds=179)
    assert orders_interval(0.0167) == timedelta(seconds=60)


def test_scheduler_runs_due_jobs_on_their_clock_and_survives_a_failing_job() -> None:
    now = [datetime(2026, 3, 2, tzinfo=UTC)]
    ran: list[str] = []
    errors: list[str] = []

    def broken(account_id: int) -> None:
        raise ValueError(f"account {account_id} is broken")

    scheduler = Scheduler(on_error=lambda job, error: errors.append(job.name))
    scheduler.every(timedelta(seconds=180), "sync 1", ran.append, "sync 1", clock=lambda: now[0])
    scheduler.every(timedelta(seconds=180), "sync 2", broken, 2, clock=lambda: now[0])
    scheduler.every(
        timedelta(days=1), "check", ran.append, "check", clock=lambda: now[0], first=timedelta(hours=1)
    )
    assert scheduler.run_pending() == 2
    now[0] += timedelta(seconds=179)
    assert scheduler.run_pending() == 0
    now[0] += timedelta(hours=1)
    assert scheduler.run_pending() == 3
    assert ran == ["sync 1", "sync 1", "check"] and errors == ["sync 2", "sync 2"]


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_an_order_pending_too_long_becomes_an_alert(fresh_store_url: str, tmp_path: Path) -> None:
    engine = make_engine(fresh_store_url)
    world = open_world(session_factory(engine), make_sandbox(_WORLD), tmp_path)
    seller = world.seller("NA")
    with world.sessions.begin() as session:
        generic = create_contact(session, NewContact(company_name="Amazon pending"), now=world.vtime.now())
        session.flush()
        for marketplace_id in seller.marketplace_ids:
            settings = {"download_pending": "yes", "pending_contact_id": str(generic.id)}
            change_settings(session, channel_for(session, marketplace_id), settings)
    world.place_order(seller.seller_id)
    world.sandbox.advance(300)
    world.sync(seller.seller_id)
    with world.sessions.begin() as session:
        pending = session.scalars(
            select(AmazonOrderRecord).where(AmazonOrderRecord.state == BookedState.PENDING)
        ).all()
        assert pending, "the world has no pending order"
        channels = sorted({record.channel_id for record in pending})
        later = world.vtime.now() + timedelta(days=4)
        assert alert_long_pending(session, channels, days=3, now=later) == len(pending)
        alerts = [a for a in open_alerts(session) if a.kind == "pending_too_long"]
        assert len(alerts) == len(pending) and "Pending for 4 days" in alerts[0].message
    engine.dispose()


@pytest.fixture
def cli(
    fresh_store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Result]]:
    tmp_path = tmp_path_factory.mktemp("cli")  # away from the SQLite file's directory (AC-18)
    monkeypatch.setenv("ORDERBRIDGE_DATABASE_URL", fresh_store_url)
    monkeypatch.setenv("ORDERBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ORDERBRIDGE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("ORDERBRIDGE_KEY_STORE_DIR", str(tmp_path / "keystore"))
    monkeypatch.setenv("ORDERBRIDGE_KEK_FILE", str(tmp_path / "kek"))
    monkeypatch.setenv("COLUMNS", "200")
    for cached in (context.settings, context.engine, context.sessions):
        cached.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    if context.engine.cache_info().currsize:
        context.engine().dispose()
    for cached in (context.settings, context.engine, context.sessions):
        cached.cache_clear()


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_sync_orders_retry_fetch_and_preview_commands(cli: Callable[..., Result], tmp_path: Path) -> None:
    sandbox = make_sandbox(_WORLD)
    na = next(s for s in sandbox.world.accounts.values() if s.region == "NA")
    with served(sandbox) as url:
        assert cli("db", "upgrade").exit_code == 0
        added = cli("accounts", "add-sandbox", "--url", url)
        assert added.exit_code == 0, added.output
        synced = cli("sync", "orders", "--json")
        assert synced.exit_code == 0, synced.output
        reports = {r["account"]: r for r in json.loads(synced.output)}
        assert reports[f"{na.seller_id}/NA"]["booked"] > 10
        retried = cli("orders", "retry")
        assert retried.exit_code == 0, retried.output
        order = next(o for o in sandbox.world.orders.values() if o.seller_id == na.seller_id)
        fetched = cli("orders", "fetch", order.order_id, "--account", na.seller_id)
        assert fetched.exit_code == 0 and "Order download" in fetched.output, fetched.output
    path = tmp_path / "order.json"
    path.write_text(json.dumps(order.doc))
    preview = cli("orders", "preview", str(path))
    assert preview.exit_code == 0, preview.output
    assert f"order {order.order_id}" in preview.output and "Rows" in preview.output


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_run_once_starts_the_sandbox_adds_its_accounts_and_syncs(cli: Callable[..., Result]) -> None:
    result = cli("run", "--once", "--sandbox-port", "0")
    assert result.exit_code == 0, result.output
    assert "sandbox: SP-API at http://127.0.0.1:" in result.output
    assert result.output.count("booked") == 2 and "sales orders" in result.output


def _book(url: str) -> tuple[set[str], datetime]:
    """The Amazon order ids in the book and how far its order download got."""
    engine = make_engine(url)
    with session_factory(engine)() as session:
        refs = set(session.scalars(select(AmazonOrderRecord.amazon_order_id)))
        position = session.scalar(select(func.max(SyncCursor.position)))
    engine.dispose()
    assert position is not None
    return refs, as_utc(position)


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_a_restarted_run_resumes_the_sandbox_world_and_clock_and_carries_on_downloading(
    cli: Callable[..., Result], fresh_store_url: str
) -> None:
    # given: a first run (the sandbox's clock frozen: time moves only when the test says)
    first = cli("run", "--once", "--sandbox-port", "0", "--sandbox-speed", "0")
    assert first.exit_code == 0, first.output
    saved = Path(os.environ["ORDERBRIDGE_DATA_DIR"]) / SANDBOX_WORLD
    booked, _ = _book(fresh_store_url)
    stale = saved.read_bytes()
    # ... whose sandbox went on for six hours after the book's last download before it stopped
    world = worldfile.read(saved)
    world.catch_up(world.now + 6 * 3600)
    worldfile.write(world, saved)
    arrived = {
        o.order_id
        for o in world.orders.values()
        if o.order_id not in booked and o.status not in ("PENDING", "CANCELLED")  # never booked
    }
    assert len(arrived) > 20
    # when: run starts again with the same data directory
    second = cli("run", "--once", "--sandbox-port", "0", "--sandbox-speed", "0")
    assert second.exit_code == 0, second.output
    # then: the sandbox resumed its world where it stopped, and the orders placed meanwhile downloaded
    assert f"resumed from {saved}" in second.output and "already there" in second.output
    now_booked, position = _book(fresh_store_url)
    assert arrived <= now_booked
    assert position.timestamp() >= world.now - 180
    # when: the world file is older than what the book downloaded (the last save came before a crash)
    saved.write_bytes(stale)
    third = cli("run", "--once", "--sandbox-port", "0", "--sandbox-speed", "0")
    assert third.exit_code == 0, third.output
    # then: the sandbox's clock started at the book's cursor, not behind it
    assert worldfile.read(saved).now >= position.timestamp()
