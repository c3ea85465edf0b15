"""The web UI wired to settlements, the money trail, the outbox, name search and the ops routes (both
stores): pages and API read the same queries, retrying needs orders:write and CSRF."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.orders.shipping import ship_order
from orderbridge.book.settlements import (
    LineKind,
    NewSettlement,
    SettlementLine,
    open_settlement,
    settle,
)
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage
from orderbridge.privacy.models import AuditAction, AuditEntry
from orderbridge.privacy.retention import sweep
from orderbridge.privacy.sealing import privacy_of
from orderbridge.web.roles import Permission
from orderbridge.web.tokens import add_token
from orderbridge.web.users import User
from tests.book.builders import make_book
from tests.conftest import NOW
from tests.web.conftest import WebApp

REF = "202-0000001-0000001"


def _line(
    line: int, kind: LineKind, amount: str, *, order_ref: str | None = None, description: str = "Principal"
) -> SettlementLine:
    return SettlementLine(
        line=line,
        kind=kind,
        transaction_type="Order",
        amount_type="ItemPrice" if kind == LineKind.SALE else "ItemFees",
        description=description,
        amount=Decimal(amount),
        order_ref=order_ref,
    )


def _settlements(web: WebApp) -> tuple[int, int, int]:
    """An order, a settlement that reconciles (paying it) and one that does not (naming an unknown
    order); returns (order id, reconciled id, unbalanced id)."""
    with web.sessions.begin() as session:
        book = make_book(session)
        book.receive("A", 5)
        order = book.order(REF, [("A", 1)])
        good = open_settlement(
            session,
            NewSettlement("S-GOOD", "GBP", Decimal("8.00"), NOW - timedelta(days=14), NOW, NOW, "test"),
            now=NOW,
        )
        for line in (
            _line(1, LineKind.SALE, "10.00", order_ref=REF),
            _line(2, LineKind.FEE, "-2.00", order_ref=REF, description="Commission"),
        ):
            line.settlement_id = good.id
            session.add(line)
        session.flush()
        settle(session, good, now=NOW)
        bad = open_settlement(
            session,
            NewSettlement("S-BAD", "GBP", Decimal("100.00"), NOW - timedelta(days=14), NOW, NOW, "test"),
            now=NOW,
        )
        missing = _line(1, LineKind.SALE, "5.00", order_ref="202-9999999-9999999")
        missing.settlement_id = bad.id
        session.add(missing)
        session.flush()
        settle(session, bad, now=NOW)
        return order.id, good.id, bad.id


def _failed_confirmation(web: WebApp, order_id: int) -> int:
    with web.sessions.begin() as session:
        message = OutboxMessage(
            kind=MessageKind.ORDER_SHIPPED,
            key=f"order:{order_id}",
            subject_id=order_id,
            payload={"shipment_id": 1},
            status=MessageStatus.FAILED,
            attempts=3,
            created_at=NOW,
            last_error="InvalidInput: the carrier code is not valid",
        )
        session.add(message)
        session.flush()
        return message.id


def test_r1_settlements_list_their_reconciliation_and_the_detail_names_lines_and_unknown_orders(
    web: WebApp,
) -> None:
    _, good, bad = _settlements(web)
    viewer = web.client("viewer")
    listing = viewer.get("/settlements")
    assert listing.status_code == 200
    assert "S-GOOD" in listing.text and "S-BAD" in listing.text and "unbalanced" in listing.text
    only_bad = viewer.get("/settlements?status=unbalanced").text
    assert "S-BAD" in only_bad and "S-GOOD" not in only_bad
    refused = viewer.get("/settlements?status=nonsense", follow_redirects=False)
    assert refused.status_code == 303 and "unknown+settlement+status" in refused.headers["location"]
    detail = viewer.get(f"/settlements/{good}").text
    assert "Commission" in detail and "8.00 GBP" in detail and "Every order it names is in the book" in detail
    unbalanced = viewer.get(f"/settlements/{bad}").text
    assert "202-9999999-9999999" in unbalanced and "95.00 GBP" in unbalanced
    assert viewer.get("/settlements/999999").status_code == 404


def test_r2_the_order_page_shows_its_money_trail_and_its_confirmations(web: WebApp) -> None:
    order_id, good, _ = _settlements(web)
    message_id = _failed_confirmation(web, order_id)
    page = web.client("viewer").get(f"/orders/{order_id}").text
    assert "Money trail" in page and f'href="/settlements/{good}"' in page and "S-GOOD" in page
    assert "-2.00 GBP" in page  # the commission of that settlement
    assert f"Message {message_id}" in page and "the carrier code is not valid" in page
    assert f"/outbox/{message_id}/retry" not in page  # a viewer cannot retry
    assert f"/outbox/{message_id}/retry" in web.client("operator").get(f"/orders/{order_id}").text


def test_a_failed_confirmation_is_retried_from_the_order_page_by_an_operator_with_csrf(web: WebApp) -> None:
    order_id, _, _ = _settlements(web)
    message_id = _failed_confirmation(web, order_id)
    viewer, operator = web.client("viewer"), web.client("operator")
    assert viewer.submit(f"/outbox/{message_id}/retry", {"next": f"/orders/{order_id}"}).status_code == 403
    assert operator.post(f"/outbox/{message_id}/retry", data={}, follow_redirects=False).status_code == 403
    done = operator.submit(f"/outbox/{message_id}/retry", {"next": f"/orders/{order_id}"})
    assert done.status_code == 303 and done.headers["location"].startswith(f"/orders/{order_id}?done=")
    with web.sessions() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None and message.status == MessageStatus.PENDING
    again = operator.submit(f"/outbox/{message_id}/retry", {"next": "https://evil.example/"})
    assert again.headers["location"].startswith(f"/outbox/{message_id}?problem=")  # not failed any more


def test_the_outbox_page_filters_by_status_and_the_dashboard_counts_what_needs_a_person(web: WebApp) -> None:
    order_id, _, _ = _settlements(web)
    message_id = _failed_confirmation(web, order_id)
    operator = web.client("operator")
    failed = operator.get("/outbox?status=failed").text
    assert f'href="/outbox/{message_id}"' in failed and "Retry" in failed
    assert f'<a href="/orders/{order_id}">Amazon order {REF}</a>' in failed  # named by its Amazon order id
    assert f'href="/outbox/{message_id}"' not in operator.get("/outbox?status=sent").text
    assert "unknown outbox status" in operator.get("/outbox?status=bogus").text
    assert "InvalidInput" in operator.get(f"/outbox/{message_id}").text
    dashboard = operator.get("/").text
    assert _tile(dashboard, "Failed shipment confirmations to Amazon") == "1"
    assert _tile(dashboard, "Unreconciled settlements") == "1"
    assert "Settlement unbalanced" not in dashboard  # its alert is the tile above, not listed twice


def _tile(html: str, label: str) -> str:
    found = re.search(r'<span class="count">([\d,]+)</span> <span class="label">' + re.escape(label), html)
    assert found is not None, label
    return found.group(1)


def test_the_api_lists_settlements_and_outbox_messages_with_the_same_permissions(web: WebApp) -> None:
    order_id, good, bad = _settlements(web)
    message_id = _failed_confirmation(web, order_id)
    viewer = web.client("viewer")
    page = viewer.get("/api/v1/settlements?status=unbalanced").json()
    assert [item["reference"] for item in page["items"]] == ["S-BAD"]
    assert Decimal(page["items"][0]["difference"]) == Decimal("95.00")
    detail = viewer.get(f"/api/v1/settlements/{bad}").json()
    assert detail["unknown_orders"] == ["202-9999999-9999999"]
    assert viewer.get(f"/api/v1/settlements/{good}").json()["status"] == "reconciled"
    missing = viewer.get("/api/v1/settlements/999999")
    assert (
        missing.status_code == 404 and missing.json()["error"]["fields"][0]["field"] == "path.settlement_id"
    )
    bad_status = viewer.get("/api/v1/outbox?status=bogus")
    assert (
        bad_status.status_code == 422 and bad_status.json()["error"]["fields"][0]["field"] == "query.status"
    )
    messages = viewer.get("/api/v1/outbox?status=failed").json()["items"]
    assert [(m["id"], m["order_id"], m["order_ref"]) for m in messages] == [(message_id, order_id, REF)]
    assert viewer.api("POST", f"/api/v1/outbox/{message_id}/retry").status_code == 403
    operator = web.client("operator")
    retried = operator.api("POST", f"/api/v1/outbox/{message_id}/retry")
    assert retried.status_code == 200 and retried.json()["status"] == "pending"
    assert retried.json()["order_ref"] == REF and retried.json()["history"][-1]["outcome"] == "requeued"
    assert operator.api("POST", f"/api/v1/outbox/{message_id}/retry").status_code == 409


def test_p7_orders_are_found_by_buyer_name_only_while_their_buyer_data_is_live(web: WebApp) -> None:
    with web.sessions.begin() as session:
        book = make_book(session)
        book.receive("A", 5)
        order = book.order(REF, [("A", 1)])
        order_id = order.id
    operator = web.client("operator", username="olga")
    found = operator.get("/orders?by=name&q=ann+buyer")
    assert found.status_code == 200 and f'href="/orders/{order_id}"' in found.text
    with web.sessions() as session:  # AC-21: the search is audited under the searcher, without the name
        searches = [
            entry
            for entry in session.scalars(
                select(AuditEntry).where(AuditEntry.action == str(AuditAction.PII_READ))
            )
            if entry.detail.get("purpose") == "order_search_by_name"
        ]
        assert searches and searches[-1].actor == "user:olga"
        assert "buyer" not in str(searches[-1].detail).lower()
    assert f'href="/orders/{order_id}"' not in operator.get("/orders?by=name&q=Nobody+Else").text
    # when: the order ships, its retention passes and the sweep removes its buyer data
    with web.sessions.begin() as session:
        shipped = session.get(SalesOrder, order_id)
        assert shipped is not None
        ship_order(
            session, shipped, reference="parcel-1", now=web.clock(), carrier="UPS", tracking_number="T1"
        )
    web.clock.advance(days=31)
    with web.sessions() as session:
        privacy = privacy_of(session)
    assert privacy is not None
    assert sweep(web.sessions, privacy, None, clock=web.clock).orders >= 1
    # then: the name finds nothing
    gone = operator.get("/orders?by=name&q=ann+buyer")
    assert gone.status_code == 200 and f'href="/orders/{order_id}"' not in gone.text


def test_ops_routes_healthz_is_open_and_metrics_needs_ops_read(web: WebApp) -> None:
    anonymous = web.anonymous()
    assert anonymous.get("/healthz").json() == {"status": "ok"}
    refused = anonymous.get("/metrics", follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    assert web.client("viewer").get("/metrics").status_code == 403
    admin = web.client("admin")
    assert "orderbridge" in admin.get("/metrics").text
    token = _ops_token(web)
    scraper = web.token_client(token)
    assert scraper.get("/metrics").status_code == 200
    assert scraper.get("/api/v1/orders").status_code == 403  # the token reads metrics, nothing else
    assert admin.get("/readyz").status_code in (200, 503)


def _ops_token(web: WebApp) -> str:
    web.client("admin", username="prom-owner")
    with web.sessions.begin() as session:
        owner = session.scalars(select(User).where(User.username == "prom-owner")).one()
        token, _ = add_token(
            session, owner, name="prometheus", scopes=frozenset({Permission.OPS_READ}), clock=web.clock
        )
        return token
