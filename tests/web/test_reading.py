"""Reading the pages (both stores): times in the installation's zone with UTC on hover, and long lists in
bounded keyset pages that continue exactly where the last one ended (a settlement's unknown orders)."""

from __future__ import annotations

import html
import re
from decimal import Decimal

from orderbridge.book.settlements import LineKind, NewSettlement, SettlementLine, open_settlement
from orderbridge.web.app import create_app
from tests.book.builders import make_book
from tests.conftest import NOW
from tests.web.conftest import WebApp, WebClient


def _in_zone(web: WebApp, zone: str) -> WebClient:
    """A signed-in client of the same book served by an app set to `zone`."""
    signed_in = web.client("operator")
    settings = web.settings.model_copy(update={"time_zone": zone})
    app = create_app(settings, sessions=web.sessions, keys=web.keys, clock=web.clock)
    client = WebClient(app, raise_server_exceptions=False)
    client.cookies = signed_in.cookies
    web.clients.append(client)
    return client


def test_times_show_in_the_installations_zone_with_utc_in_the_tooltip(web: WebApp) -> None:
    with web.sessions.begin() as session:
        order_id = make_book(session).order("202-6666666-6666666", [("A", 1)]).id
    # NOW is 09:30 UTC on 2 November 2026: 15:00 in India (UTC+5:30)
    page = _in_zone(web, "Asia/Kolkata").get(f"/orders/{order_id}").text
    assert (
        '<time datetime="2026-11-02T09:30:00Z" title="2026-11-02 09:30 UTC">2026-11-02 15:00</time>' in page
    )
    assert "Times are shown in Asia/Kolkata" in page
    listed = _in_zone(web, "America/Los_Angeles").get("/orders").text  # UTC-8 in November
    assert 'title="2026-11-02 09:30 UTC">2026-11-02 01:30</time>' in listed
    assert "09:30</time>" not in listed  # no time on the page is left in UTC


def _walk(client: WebClient, url: str, rel: str) -> list[list[str]]:
    pages = []
    while url:
        page = client.get(url)
        assert page.status_code == 200
        pages.append(re.findall(r"<li><code>([^<]+)</code></li>", page.text))
        found = re.search(rf'<a href="([^"]+)" rel="{rel}">', page.text)
        url = html.unescape(found.group(1)).split("#")[0] if found else ""
    return pages


def test_a_settlements_unknown_orders_are_paged_without_gaps_or_repeats(web: WebApp) -> None:
    refs = sorted(f"203-{n:07d}-{n:07d}" for n in range(123))
    with web.sessions.begin() as session:
        settlement = open_settlement(
            session,
            NewSettlement("S-1", "GBP", Decimal("123.00"), NOW, NOW, NOW, "test"),
            now=NOW,
        )
        session.flush()
        for n, ref in enumerate(refs + refs[:5]):  # an order named on two lines is listed once
            session.add(
                SettlementLine(
                    settlement_id=settlement.id,
                    line=n + 1,
                    kind=LineKind.SALE,
                    transaction_type="Order",
                    amount_type="ItemPrice",
                    description="Principal",
                    amount=Decimal("1.00"),
                    order_ref=ref,
                )
            )
        settlement_id = settlement.id
    viewer = web.client("viewer")
    forward = _walk(viewer, f"/settlements/{settlement_id}", "next")
    assert [len(page) for page in forward] == [50, 50, 23]
    assert [ref for page in forward for ref in page] == refs  # no gap, no repeat, in order
    assert "123 order(s)" in viewer.get(f"/settlements/{settlement_id}").text
    last = re.search(r'<a href="([^"]+)" rel="next">', viewer.get(f"/settlements/{settlement_id}").text)
    assert last is not None
    second = html.unescape(last.group(1)).split("#")[0]
    third = re.search(r'<a href="([^"]+)" rel="next">', viewer.get(second).text)
    assert third is not None
    backward = _walk(viewer, html.unescape(third.group(1)).split("#")[0], "prev")
    assert backward == forward[::-1]
