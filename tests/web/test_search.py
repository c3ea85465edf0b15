"""The header's search (both stores): an Amazon order id, a SKU and a contact number for everyone who reads
orders; a buyer's name or e-mail only with pii:read, through the blind index of live buyer data (P7), so
a redacted buyer is never found; the results page shows no buyer data to anyone."""

from __future__ import annotations

import re

from sqlalchemy import select

from orderbridge.amazon.listings import SeenListing, record_seen
from orderbridge.book.contacts import NewContact, create_contact
from orderbridge.privacy.models import AuditAction, AuditEntry
from orderbridge.privacy.sweep.redaction import redact_contacts, redact_orders
from tests.book.builders import make_book
from tests.conftest import NOW
from tests.web.conftest import WebApp

REF = "202-4444444-4444444"
RELAY = "bea.other@marketplace.amazon.co.uk"


def _world(web: WebApp) -> dict[str, int]:
    """Ann Buyer's order of A; Bea Other (an Amazon buyer with a relay e-mail) and her order of B."""
    with web.sessions.begin() as session:
        book = make_book(session)
        book.receive("A", 5)
        ann = book.order(REF, [("A", 1)])
        bea = create_contact(
            session,
            NewContact(first_name="Bea", last_name="Other", email=RELAY, marketplace_id="A1F83G8C2ARO7P"),
            now=NOW,
        )
        session.flush()
        book.contact = bea
        beas = book.order("202-5555555-5555555", [("B", 1)])
        record_seen(session, book.channel, [SeenListing("AMZ-A-1", title="Item A on Amazon")], now=NOW)
        return {"ann_order": ann.id, "ann": ann.contact_id, "bea": bea.id, "bea_order": beas.id}


def _links(page: str, prefix: str) -> set[str]:
    return set(re.findall(rf'href="({re.escape(prefix)}[^"#]*)', page))


def test_every_page_has_the_search_box_and_an_order_id_a_sku_and_a_contact_number_are_found(
    web: WebApp,
) -> None:
    ids = _world(web)
    viewer = web.client("viewer")
    assert (
        'action="/search"' in viewer.get("/orders").text and 'action="/search"' in viewer.get("/stock").text
    )

    by_id = viewer.get(f"/search?q=+{REF}+")
    assert by_id.status_code == 200 and f"/orders/{ids['ann_order']}" in _links(by_id.text, "/orders/")
    assert f"/orders/{ids['bea_order']}" not in _links(by_id.text, "/orders/")

    by_sku = viewer.get("/search?q=B").text
    assert _links(by_sku, "/orders/") == {f"/orders/{ids['bea_order']}"}  # the order with a row of B
    assert 'id="products"' in by_sku and "/products?q=B" in by_sku

    listing = viewer.get("/search?q=AMZ-A-1").text
    assert 'id="listings"' in listing and "/listings?sku=AMZ-A-1" in listing

    by_contact = viewer.get(f"/search?q={ids['bea']}").text
    assert _links(by_contact, "/contacts/") == {f"/contacts/{ids['bea']}"}

    nothing = viewer.get("/search?q=no-such-thing")
    assert nothing.status_code == 200 and 'id="nothing"' in nothing.text
    assert viewer.get("/search?q=" + "x" * 201).status_code == 400  # named, never a 500


def test_p7_a_buyer_name_is_found_only_with_pii_read_and_never_shown_on_the_results(web: WebApp) -> None:
    ids = _world(web)
    # a viewer (no pii:read): the name finds nothing, and nothing is looked up or audited
    viewer = web.client("viewer")
    seen = viewer.get("/search?q=ann+buyer").text
    assert f"/orders/{ids['ann_order']}" not in seen and f"/contacts/{ids['ann']}" not in seen
    assert viewer.get(f"/search?q={RELAY}").text.count(f"/contacts/{ids['bea']}") == 0
    # an operator: the name finds Ann's order and contact (any case and spacing), not Bea's
    operator = web.client("operator", username="opal")
    found = operator.get("/search?q=ANN++buyer").text
    assert _links(found, "/orders/") == {f"/orders/{ids['ann_order']}"}
    assert _links(found, "/contacts/") == {f"/contacts/{ids['ann']}"}
    assert "1 High St" not in found and "SW1A" not in found  # the results page shows no buyer data
    by_email = operator.get(f"/search?q={RELAY.upper()}").text
    assert _links(by_email, "/contacts/") == {f"/contacts/{ids['bea']}"}
    with web.sessions() as session:  # AC-21: each look-up is audited under the searcher, without the name
        entries = session.scalars(select(AuditEntry).where(AuditEntry.action == str(AuditAction.PII_READ)))
        searches = [e for e in entries if str(e.detail.get("purpose", "")).startswith("global_search")]
    assert {e.detail["purpose"] for e in searches} == {"global_search_by_name", "global_search_by_email"}
    assert [e.actor for e in searches if e.actor != "user:opal"] == []
    details = " ".join(str(e.detail).lower() for e in searches)
    assert "buyer" not in details and "other" not in details and "amazon.co.uk" not in details


def test_p7_a_redacted_buyer_is_not_found_by_name_or_e_mail(web: WebApp) -> None:
    ids = _world(web)
    with web.sessions.begin() as session:
        redact_orders(session, [ids["ann_order"], ids["bea_order"]], NOW)
        redact_contacts(session, [ids["ann"], ids["bea"]], NOW)
    operator = web.client("operator")
    assert not _links(operator.get("/search?q=Ann+Buyer").text, "/orders/")
    assert not _links(operator.get("/search?q=Ann+Buyer").text, "/contacts/")
    assert not _links(operator.get(f"/search?q={RELAY}").text, "/contacts/")
    # the order id still finds the order (not buyer data)
    assert f"/orders/{ids['ann_order']}" in _links(operator.get(f"/search?q={REF}").text, "/orders/")
