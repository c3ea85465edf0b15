"""An operator's day in headless Chromium while `orderbridge run`'s jobs run against the sandbox (issue 18,
build 8): the first admin made by the CLI signs in, opens the late orders, ships one with carrier and
tracking, corrects the tracking and resends it, cancels an order the buyer asked to cancel from its
alert, clears a group of alerts, finds an order by SKU and a buyer by name in the header's search, opens
a settlement; then the server log holds no 500 and no traceback, and no buyer's name.

`orderbridge run` is a process of its own (tests/web/browser/running.py) on a store of each kind, with
privacy on as every installation has it; its sandbox runs at x60, so the jobs keep downloading orders,
sending confirmations and importing settlements under the clicks. Screenshots of each step go to
test-artifacts/browser/day/<store>/ (gitignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Response, expect
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.book.alerts import Alert
from orderbridge.book.orders.model import Fulfilment, SalesOrder, Shipment
from orderbridge.book.settlements import Settlement
from orderbridge.db import make_engine, session_factory
from orderbridge.outbox.models import MessageStatus, OutboxMessage
from orderbridge.web.totp import current_code
from tests.conftest import STORES
from tests.web.browser.conftest import ARTIFACTS
from tests.web.browser.running import Running, start_run, wait_for

ZONE = "Europe/Berlin"  # not UTC, so a time printed in UTC under a local label would show
NEW_PASSWORD = "Harbour-Lights-2042"
CANCEL_ALERT = "cancellation_requested"
JOBS = 120.0  # seconds the jobs may take to reach a state the day needs (a download, a send, a report)


@pytest.fixture
def running(fresh_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    # A folder away from the SQLite store's: the key store may not live beside the database.
    folder = tmp_path_factory.mktemp("day")
    started = start_run(folder, fresh_store_url, time_zone=ZONE)
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def book(fresh_store_url: str) -> Iterator[sessionmaker[Session]]:
    """The same store, read by the test without keys: only columns that hold no buyer data."""
    engine: Engine = make_engine(fresh_store_url)
    yield session_factory(engine)
    engine.dispose()


class Day:
    """The browser's page, the screenshots, and every response of 500 or more the browser saw."""

    def __init__(self, browser: Browser, url: str, shots: Path) -> None:
        context = browser.new_context(base_url=url, viewport={"width": 1280, "height": 900})
        self.page = context.new_page()
        self.page.set_default_timeout(30_000)
        self.shots = shots
        for old in shots.glob("*.png"):  # the artefacts show this run's day only
            old.unlink()
        self.failed: list[str] = []
        self.page.on("response", self._seen)

    def _seen(self, response: Response) -> None:
        if response.status >= 500:
            self.failed.append(f"{response.status} {response.request.method} {response.url}")

    def shot(self, name: str) -> None:
        self.shots.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def notice(self) -> str:
        return self.page.locator(".notice.ok, .notice.bad").first.inner_text()

    def fits(self) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1280, f"{self.page.url} is {width} px wide"


def _now() -> datetime:
    return datetime.now(UTC)


def _late_orders(book: sessionmaker[Session]) -> int:
    with book() as session:
        return int(
            session.scalar(
                select(func.count(SalesOrder.id)).where(
                    SalesOrder.fulfilment == Fulfilment.SELLER,
                    SalesOrder.shipped_at.is_(None),
                    SalesOrder.ship_by < _now(),
                )
            )
            or 0
        )


def _message_sent(book: sessionmaker[Session], order_id: int, count: int) -> bool:
    """The order's first `count` shipment confirmations are sent and Amazon accepted them."""
    with book() as session:
        statuses = list(
            session.scalars(
                select(OutboxMessage.status)
                .where(OutboxMessage.key == f"order:{order_id}")
                .order_by(OutboxMessage.id)
            )
        )
    return len(statuses) >= count and all(status == MessageStatus.SENT for status in statuses[:count])


def _another_unshipped(book: sessionmaker[Session], besides: int) -> tuple[int, str]:
    """An unshipped order of the seller's own, not late, with no cancellation alert yet."""
    with book() as session:
        asked = select(Alert.subject_id).where(Alert.subject == "order", Alert.kind == CANCEL_ALERT)
        found = session.execute(
            select(SalesOrder.id, SalesOrder.external_ref)
            .where(
                SalesOrder.fulfilment == Fulfilment.SELLER,
                SalesOrder.shipped_at.is_(None),
                SalesOrder.ship_by > _now(),
                SalesOrder.id != besides,
                SalesOrder.id.not_in(asked),
            )
            .order_by(SalesOrder.id)
            .limit(1)
        ).first()
    assert found is not None, "no unshipped order to cancel in the demo book"
    return int(found[0]), str(found[1])


def _cancel_alert(book: sessionmaker[Session], order_id: int) -> int | None:
    with book() as session:
        return session.scalar(
            select(Alert.id).where(
                Alert.subject == "order",
                Alert.subject_id == order_id,
                Alert.kind == CANCEL_ALERT,
                Alert.cleared_at.is_(None),
            )
        )


def _settlements(book: sessionmaker[Session]) -> int:
    with book() as session:
        return int(session.scalar(select(func.count(Settlement.id))) or 0)


def sign_in_first_admin(day: Day, running: Running) -> None:
    """The README's first step: `orderbridge users add NAME --role admin`, its one-time password, a new
    password, then the authenticator enrolled when the installation asks for it."""
    printed = running.cli("users", "add", "dana", "--role", "admin", "--full-name", "Dana Day")
    one_time = re.search(r"shown once, not stored in plain text\):\s+(\S+)", printed)
    assert one_time is not None, printed
    page = day.page
    page.goto("/login")
    page.fill("input[name=username]", "dana")
    page.fill("input[name=password]", one_time.group(1))
    page.click("button[type=submit]")
    page.wait_for_url("**/login/password**")
    page.fill("input[name=current]", one_time.group(1))
    page.fill("input[name=new]", NEW_PASSWORD)
    page.fill("input[name=repeat]", NEW_PASSWORD)
    page.click("form[action='/login/password'] button[type=submit]")
    page.wait_for_url(lambda url: "/login/password" not in url)
    if "/login/enrol" in page.url:  # a sandbox-only installation waives the second factor (a banner says so)
        secret = page.inner_text("#totp-secret").strip()
        day.shot("01-enrol")
        page.fill("input[name=code]", current_code(secret, now=_now()))
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
    expect(page.locator("h1")).to_have_text("Dashboard")


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_an_operators_day_while_the_jobs_run(
    running: Running, book: sessionmaker[Session], browser: Browser, fresh_store_url: str
) -> None:
    store = fresh_store_url.split(":", 1)[0].split("+", 1)[0]
    day = Day(browser, running.web_url, ARTIFACTS / "day" / store)
    page = day.page

    try:
        # given: the first order download has booked orders whose ship-by passed (the sandbox's history)
        wait_for("late orders in the book", lambda: _late_orders(book), timeout=JOBS)
        # when: the first admin signs in
        sign_in_first_admin(day, running)
        day.shot("02-dashboard")

        # when: the late orders are opened from the dashboard's tile
        page.click("#due-tile a[href='/orders?due=late']")
        page.wait_for_url("**/orders?due=late")
        # then: every order listed is late, and the first is opened
        rows = page.locator("table.grid tbody tr")
        expect(rows.first).to_be_visible()
        assert rows.count() == rows.filter(has=page.locator(".tag.bad", has_text="late")).count()
        day.fits()
        day.shot("03-late-orders")
        late_ref = rows.first.locator("td a").first.inner_text().strip()
        rows.first.locator("td a").first.click()
        page.wait_for_url(re.compile(r"/orders/\d+$"))
        order_id = int(page.url.rsplit("/", 1)[1])
        expect(page.locator("h1")).to_contain_text(late_ref)
        ship_by = page.locator("dl.facts dd", has=page.locator("time")).nth(1)
        assert "UTC" not in ship_by.inner_text(), "ship-by is shown in the installation's time zone"
        expect(page.locator("dl.facts .tag.bad", has_text="late")).to_be_visible()
        sku = page.locator("table.grid").first.locator("tbody tr td").nth(1).inner_text().strip()
        buyer = " ".join(page.locator("section.columns").first.locator("p").first.inner_text().split()[:2])
        assert sku and buyer.strip() and "hidden" not in buyer  # an admin reads buyer data (audited)

        # when: it ships with a carrier and a tracking number
        form = page.locator("form.ship")
        form.locator("input[name=carrier]").fill("Royal Mail")
        form.locator("input[name=tracking_number]").fill("RM100000001GB")
        form.locator("button[type=submit]").click()
        # then: shipped, no longer late, and its confirmation goes to Amazon
        expect(page.locator(".notice.ok")).to_contain_text("shipped")
        expect(page.locator("dl.facts .tag.bad", has_text="late")).to_have_count(0)
        expect(page.locator("table.grid", has_text="RM100000001GB")).to_be_visible()
        day.shot("04-shipped")
        wait_for("Amazon to accept the confirmation", lambda: _message_sent(book, order_id, 1), timeout=JOBS)

        # when: the tracking number was mistyped; it is corrected and the confirmation sent again
        correct = page.locator("form[action$='/tracking']").first
        correct.locator("input[name=tracking_number]").fill("RM100000002GB")
        correct.locator("button[type=submit]", has_text="Correct and resend").click()
        # then
        expect(page.locator(".notice.ok")).to_contain_text("tracking RM100000002GB")
        expect(page.locator(".notice.ok")).to_contain_text("the corrected confirmation goes to Amazon")
        wait_for("Amazon to accept the correction", lambda: _message_sent(book, order_id, 2), timeout=JOBS)
        page.reload()
        expect(page.locator("#confirmations ~ .message .tag").nth(1)).to_have_text("sent")
        with book() as session:
            tracking = session.scalar(select(Shipment.tracking_number).where(Shipment.order_id == order_id))
        assert tracking == "RM100000002GB"
        day.shot("05-tracking-corrected")

        # given: a buyer asks Amazon to cancel another order after it was ready to ship
        cancel_id, cancel_ref = _another_unshipped(book, order_id)
        asked = httpx.post(
            f"{running.sandbox_url}/_sandbox/orders/{cancel_ref}/cancel", json={"by": "BUYER"}, timeout=30
        )
        assert asked.status_code == 200, asked.text
        wait_for(
            "the buyer's request to reach the book", lambda: _cancel_alert(book, cancel_id), timeout=JOBS
        )
        # when: the operator opens the buyer-cancellation alerts and cancels the order from its alert
        page.goto("/alerts")
        page.click(f"nav.tabs a[href='/alerts?kind={CANCEL_ALERT}']")
        alert_row = page.locator("table.grid tbody tr", has_text=f"Amazon order {cancel_ref}")
        expect(alert_row).to_have_count(1)
        day.fits()
        day.shot("06-cancel-alerts")
        alert_row.locator("a", has_text="Cancel the order").click()
        page.wait_for_url(f"**/orders/{cancel_id}#cancel")
        expect(page.locator("details#cancel")).to_have_attribute("open", "")
        page.click("details#cancel button.danger")
        # then: the order is cancelled in the book, and the page says to cancel it in Seller Central too
        expect(page.locator(".notice.ok")).to_contain_text("cancelled")
        expect(page.locator("h1 .status")).to_have_text(re.compile("cancel", re.I))
        expect(page.locator("details#cancel")).to_have_count(0)
        day.shot("07-cancelled")

        # when: a group of alerts is cleared at once (a kind other than the buyers' requests)
        page.goto("/alerts")
        tabs = page.locator("nav.tabs a[href^='/alerts?kind=']")
        others = [
            href
            for href in (tabs.nth(i).get_attribute("href") or "" for i in range(tabs.count()))
            if not href.endswith(CANCEL_ALERT)
        ]
        kind = (others[0] if others else f"/alerts?kind={CANCEL_ALERT}").split("=", 1)[1]
        page.goto(f"/alerts?kind={kind}")
        shown = page.locator("table.grid tbody tr").count()
        assert shown > 0
        raised_before = _now()
        page.click("button:has-text('open alerts of this kind')")
        # then: all of them are cleared, and the kind's tab is gone
        expect(page.locator(".notice.ok")).to_contain_text("cleared")
        cleared = int(re.search(r"(\d+) alerts? cleared", day.notice()).group(1))  # type: ignore[union-attr]
        assert cleared >= shown
        with book() as session:
            still_open = session.scalar(
                select(func.count(Alert.id)).where(
                    Alert.kind == kind, Alert.cleared_at.is_(None), Alert.raised_at < raised_before
                )
            )
        assert still_open == 0
        day.shot("08-alerts-cleared")

        # when: an order is looked for by SKU in the header's search box
        page.fill("header form.find input[name=q]", sku)
        page.press("header form.find input[name=q]", "Enter")
        page.wait_for_url("**/search?q=*")
        # then: the orders with that SKU are listed
        expect(page.locator("#orders-by-sku tbody tr").first).to_be_visible()
        day.fits()
        day.shot("09-search-sku")
        # when: the buyer of the shipped order is looked for by name
        page.fill("header form.find input[name=q]", buyer)
        page.press("header form.find input[name=q]", "Enter")
        page.wait_for_load_state()
        # then: their order and their contact are found
        expect(page.locator(f"#orders-by-name a[href='/orders/{order_id}']")).to_be_visible()
        expect(page.locator("#contacts tbody tr").first).to_be_visible()
        day.shot("10-search-buyer")
        page.locator("#contacts tbody tr a").first.click()
        page.wait_for_url(re.compile(r"/contacts/\d+$"))
        day.shot("11-contact")

        # when: a settlement the reports job imported is opened
        wait_for("a settlement imported by the reports job", lambda: _settlements(book), timeout=JOBS)
        page.goto("/")
        money = page.locator("nav.main li.group", has=page.locator("a.top", has_text="Money"))
        money.hover()
        money.locator("ul a[href='/settlements']").click()
        page.wait_for_url("**/settlements")
        day.fits()
        page.locator("table.grid tbody tr a").first.click()
        # then
        page.wait_for_url(re.compile(r"/settlements/\d+$"))
        expect(page.locator("h1")).to_contain_text("Settlement")
        day.fits()
        day.shot("12-settlement")
    except BaseException:
        day.shot("failed")  # where the day stopped, beside the steps before it
        print(running.log())
        raise

    # then: run stops cleanly; its log holds no 500, no traceback, no failed job and no buyer name
    assert running.stop() == 0, running.log()
    log = running.log()
    assert "Traceback" not in log and "unhandled" not in log, log
    assert not re.search(r"\b500\b", running.stderr), running.stderr
    assert day.failed == [], day.failed  # and no page the browser opened answered 500 or more
    assert not re.search(r"^\S+ .+ failed \(\w+\): ", running.stdout, re.M), running.stdout
    assert buyer not in log
