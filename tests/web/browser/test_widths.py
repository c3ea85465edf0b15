"""No page is wider than the window at 1280 px (both stores): every page of a book holding long ids,
SKUs and texts, opened in Chromium as an admin, keeps document.scrollWidth within the viewport."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from orderbridge.book.alerts import Subject, raise_alert
from orderbridge.book.catalog import save_product
from orderbridge.book.contacts import Contact
from orderbridge.book.inventory import MovementReason, Warehouse, move_stock
from orderbridge.book.settlements import LineKind, NewSettlement, SettlementLine, open_settlement
from orderbridge.privacy import audit
from orderbridge.privacy.models import AuditAction
from orderbridge.web.app import route_table
from orderbridge.web.deps import SESSION_COOKIE
from orderbridge.web.signin import STAGE_FULL, SignInPolicy, open_session
from tests.web.browser.conftest import Site

WIDTH = 1280
LONG_SKU = "SKU-" + "X" * 96  # the longest SKU a product may have (100)
LONG_TEXT = "a-very-long-word-without-any-space-" * 12
SKIPPED = ("/api", "/login", "/logout", "/static", "/healthz", "/readyz", "/metrics", "/enrol", "/password")


def _long_things(site: Site) -> dict[str, int]:
    """Add to the browser world what stretches a page: long SKUs, ids, messages and audit subjects."""
    web = site.web
    with web.sessions.begin() as session:
        product = save_product(session, LONG_SKU, "A product name " + LONG_TEXT)
        warehouse = session.scalar(select(Warehouse).where(Warehouse.code == "MAIN"))
        assert warehouse is not None
        session.flush()
        move_stock(
            session,
            product,
            warehouse,
            3,
            reason=MovementReason.RECEIPT,
            reference=LONG_TEXT[:60],
            now=web.clock(),
        )
        raise_alert(
            session, Subject.ORDER, site.world.ready_order_id, "long_text", LONG_TEXT, now=web.clock()
        )
        audit.append(
            session,
            actor="user:" + "n" * 60,
            action=AuditAction.PII_READ,
            subjects=[f"order:{n:019d}" for n in range(40)],
            detail={"purpose": LONG_TEXT},
            clock=web.clock,
        )
        settlement = open_settlement(
            session,
            NewSettlement("S" * 60, "GBP", Decimal("1.00"), web.clock(), web.clock(), web.clock(), LONG_TEXT),
            now=web.clock(),
        )
        session.flush()
        for n in range(60):
            session.add(
                SettlementLine(
                    settlement_id=settlement.id,
                    line=n + 1,
                    kind=LineKind.SALE,
                    transaction_type="Order",
                    amount_type="ItemPrice",
                    description=LONG_TEXT[:120],
                    amount=Decimal("1.00"),
                    order_ref=f"{n:03d}" + "9" * 57,
                    sku=LONG_SKU,
                )
            )
        contact_id = session.scalar(select(Contact.id).order_by(Contact.id))
        assert contact_id is not None
        return {"settlement": settlement.id, "contact": contact_id}


def _pages(site: Site, ids: dict[str, int]) -> list[str]:
    plain = sorted(
        {
            path
            for path, methods, _ in route_table(site.web.app)
            if "GET" in methods and "{" not in path and not path.startswith(SKIPPED)
        }
    )
    return [
        *plain,
        f"/orders/{site.world.ready_order_id}",
        f"/contacts/{ids['contact']}",
        f"/settlements/{ids['settlement']}",
        "/stock/MAIN",
        "/channels/amazon-uk",
        f"/search?q={LONG_SKU}",
        "/search?q=Ann+Example",
        f"/stock/movements?sku={LONG_SKU}",
    ]


def test_no_page_is_wider_than_the_window_at_1280_px(site: Site) -> None:
    ids = _long_things(site)
    user = site.web.add_user("wide-admin", "admin")
    with site.web.sessions.begin() as session:
        token, _ = open_session(
            session, session.merge(user), stage=STAGE_FULL, now=site.web.clock(), policy=SignInPolicy()
        )
    page = site.page()
    page.context.add_cookies([{"name": SESSION_COOKIE, "value": token, "url": site.url}])
    too_wide = {}
    pages = _pages(site, ids)
    assert "/compliance" in pages and "/audit" in pages and "/search" in pages
    for path in pages:
        response = page.goto(path)
        assert response is not None and response.status < 500, path
        assert "/login" not in page.url, path
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > WIDTH:
            too_wide[path] = width
            site.shot(page, "too-wide" + path.replace("/", "_").split("?")[0])
    assert too_wide == {}
    # the menu: one line, and a group's pages open from the keyboard
    page.goto("/orders")
    assert page.evaluate("document.querySelector('header.top').getBoundingClientRect().height") < 60
    page.focus("nav.main li.group:nth-of-type(2) > a")
    assert page.locator("nav.main li.group:nth-of-type(2) > ul").is_visible()
    site.shot(page, "menu-open")
