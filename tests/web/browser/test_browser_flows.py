"""Headless Chromium through the seller's main flows, on both stores (issue 8's "done when")."""

from __future__ import annotations

from sqlalchemy import select

from orderbridge.amazon.orders.inbox import InboxItem, InboxStatus
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.orders.shipping import ship_order
from orderbridge.book.pii import REDACTED
from orderbridge.privacy.retention import sweep
from orderbridge.privacy.sealing import privacy_of
from tests.web.browser.conftest import Site
from tests.web.browser.world import BUYER, QUARANTINED_ORDER, READY_ORDER


def test_first_sign_in_with_totp_connect_a_listing_retry_the_quarantine_and_ship(site: Site) -> None:
    # given: a new operator who never signed in
    site.web.add_user("olivia", "operator")
    page = site.page()
    # when: the first sign-in enrols the second factor
    site.sign_in_first_time(page, "olivia")
    # then: the dashboard says what needs a person
    assert page.locator("h1").inner_text() == "Dashboard"
    needs = page.locator("section.needs").inner_text()
    assert "Quarantined Amazon orders" in needs and "Unconnected listings" in needs
    site.shot(page, "dashboard")

    # when: the unconnected listing is connected to its product
    page.goto("/listings?unconnected=1")
    site.shot(page, "listings-unconnected")
    row = page.locator(f"#listing-{site.world.unconnected_listing_id}")
    row.locator("input[name=product]").fill("TEA-1")
    row.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert "AMZ-TEA is connected to TEA-1" in page.locator(".notice.ok").inner_text()
    # and the quarantined order is retried
    page.goto("/quarantine")
    assert QUARANTINED_ORDER in page.locator("table").inner_text()
    site.shot(page, "quarantine")
    page.click("text=Retry quarantined orders")
    page.wait_for_load_state()
    # then: it is booked and leaves the quarantine
    assert "1 booked" in page.locator(".notice.ok").inner_text()
    assert "No order is in quarantine" in page.content()
    with site.web.sessions() as session:
        item = session.scalar(select(InboxItem).where(InboxItem.natural_id == QUARANTINED_ORDER))
        assert item is not None and item.status == InboxStatus.BOOKED
        assert session.scalar(select(SalesOrder.id).where(SalesOrder.external_ref == QUARANTINED_ORDER))

    # when: the ready order is found in the list and shipped from its page
    page.goto("/orders")
    site.shot(page, "orders")
    page.fill("input[name=q]", READY_ORDER)
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    page.click(f"text={READY_ORDER}")
    page.wait_for_url(f"**/orders/{site.world.ready_order_id}")
    assert BUYER in page.locator("section.columns").first.inner_text()  # operators have pii:read
    page.fill("form.ship input[name=carrier]", "DHL")  # Amazon needs a carrier to confirm the shipment
    page.fill("input[name=tracking_number]", "JD0002211")
    page.click("text=Ship allocated rows")
    page.wait_for_load_state()
    # then
    assert "shipped 2 unit(s) as web-1" in page.locator(".notice.ok").inner_text()
    assert "JD0002211" in page.locator("table").nth(1).inner_text()
    site.shot(page, "order-shipped")
    # then: the shipment confirmation for Amazon is on the order page and in the outbox
    assert "Confirmations to Amazon" in page.content()
    page.goto("/outbox")
    assert f'href="/orders/{site.world.ready_order_id}"' in page.content()
    site.shot(page, "outbox")
    page.goto("/settlements")
    site.shot(page, "settlements")
    with site.web.sessions() as session:
        order = session.get(SalesOrder, site.world.ready_order_id)
        assert order is not None and order.shipped_at is not None


def test_channel_settings_show_the_validation_error_beside_the_field(site: Site) -> None:
    site.web.add_user("admin1", "admin")
    page = site.page()
    site.sign_in_first_time(page, "admin1")
    page.goto("/channels")
    page.click("a[href='/channels/amazon-uk']")
    page.wait_for_url("**/channels/amazon-uk")
    # when: a warehouse that no longer exists is chosen (the drop-down offers only warehouses of the book,
    # so the page is made to post one that went since it was loaded)
    page.evaluate(
        "() => { const s = document.querySelector('#f-fbm_warehouse');"
        " s.add(new Option('NOWHERE', 'NOWHERE')); s.value = 'NOWHERE'; }"
    )
    page.click("text=Save settings")
    page.wait_for_load_state()
    # then: the error sits beside that field, and nothing was saved
    error = page.locator("#setting-fbm_warehouse .field-error")
    assert "warehouse 'NOWHERE' does not exist" in error.inner_text()
    assert page.locator("#f-fbm_warehouse").get_attribute("aria-invalid") == "true"
    site.shot(page, "channel-settings-error")
    page.goto("/channels/amazon-uk")
    assert page.locator("#f-fbm_warehouse").input_value() == "MAIN"
    # when: a setting that needs another one is set alone, then fixed
    page.select_option("#f-customer_mode", "one_contact")
    page.click("text=Save settings")
    page.wait_for_load_state()
    assert "needs the contact" in page.locator("#setting-one_contact_id .field-error").inner_text()
    page.select_option("#f-customer_mode", "create_contacts")
    page.select_option("#f-price_list", "")
    page.click("text=Save settings")
    page.wait_for_load_state()
    assert "settings of amazon-uk saved" in page.locator(".notice.ok").inner_text()


def test_a_viewer_sees_the_pages_without_any_buyer_data(site: Site) -> None:
    site.web.add_user("victor", "viewer")
    page = site.page()
    site.sign_in_first_time(page, "victor")
    with site.web.sessions() as session:
        contact_id = session.scalar(
            select(SalesOrder.contact_id).where(SalesOrder.id == site.world.ready_order_id)
        )
    for path in (
        "/",
        "/orders",
        f"/orders/{site.world.ready_order_id}",
        "/contacts",
        f"/contacts/{contact_id}",
        "/listings",
        "/quarantine",
        "/stock",
        "/channels/amazon-uk",
        "/settlements",
        "/outbox",
    ):
        page.goto(path)
        text = page.content()
        assert BUYER not in text and "Ann" not in text, path
        assert REDACTED not in text and "ob1:" not in text, path
    page.goto(f"/orders/{site.world.ready_order_id}")
    assert "hidden" in page.locator("section.columns").first.inner_text()
    site.shot(page, "order-as-viewer")
    # a viewer cannot ship
    assert page.locator("text=Ship allocated rows").count() == 0


def test_the_privacy_page_after_a_sweep(site: Site) -> None:
    # given: the ready order shipped, and the retention period past
    web = site.web
    with web.sessions.begin() as session:
        order = session.get(SalesOrder, site.world.ready_order_id)
        assert order is not None
        ship_order(session, order, reference="parcel-1", now=web.clock(), carrier="UPS", tracking_number="T1")
    web.clock.advance(days=31)
    with web.sessions() as session:
        privacy = privacy_of(session)
    assert privacy is not None
    report = sweep(web.sessions, privacy, None, clock=web.clock)
    assert report.orders >= 1
    # when
    web.add_user("priya", "admin")
    page = site.page()
    site.sign_in_first_time(page, "priya")
    page.goto("/privacy")
    # then: the report shows the sweep, nothing overdue, and the ledger names the order
    text = page.locator("main").inner_text()
    assert "records past retention (must be 0)" in text
    assert page.locator(".tile .count").first.inner_text() == "0"
    assert (
        f"order #{site.world.ready_order_id}"
        in page.locator("section", has_text="Redaction ledger").inner_text()
    )
    assert "never" not in page.locator("dl.facts").first.inner_text()
    site.shot(page, "privacy-after-sweep")
    page.goto(f"/orders/{site.world.ready_order_id}")
    content = page.content()
    assert BUYER not in content and REDACTED not in content
    assert "removed (retention)" in content


def test_an_admin_adds_a_user_whose_one_time_password_works_once(site: Site) -> None:
    # given: a signed-in admin on the users page
    site.web.add_user("ada", "admin")
    page = site.page()
    site.sign_in_first_time(page, "ada")
    page.goto("/users")
    # when: a new viewer is added
    form = page.locator("form[action='/users']")
    form.locator("input[name=username]").fill("noah")
    form.locator("select[name=role]").select_option("viewer")
    form.locator("button[type=submit]").click()
    page.wait_for_load_state()
    # then: the one-time password is shown once, on this page only
    password = page.get_by_test_id("one-time-password").inner_text().strip()
    assert password not in page.url
    site.shot(page, "user-added")
    page.goto("/users")
    assert "noah" in page.locator("table.grid").first.inner_text()
    assert password not in page.content()
    # and: noah signs in with it and must choose his own password first
    other = site.page()
    other.goto("/login")
    other.fill("input[name=username]", "noah")
    other.fill("input[name=password]", password)
    other.click("button[type=submit]")
    other.wait_for_url("**/login/password**")
    other.fill("input[name=current]", password)
    other.fill("input[name=new]", "Harbour-Lights-2042")
    other.fill("input[name=repeat]", "Harbour-Lights-2042")
    other.click("form[action='/login/password'] button[type=submit]")
    other.wait_for_url("**/login/enrol**")
    site.shot(other, "new-user-enrols")
