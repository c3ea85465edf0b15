"""Alerts name what they are about with a link, and are cleared in bulk (a selection, or every open one
of a kind; web and API) with who cleared them in the audit log."""

from __future__ import annotations

from sqlalchemy import select

from orderbridge.book.alerts import Alert, Subject, raise_alert
from orderbridge.book.catalog import save_product
from orderbridge.privacy.models import AuditAction, AuditEntry
from tests.web.conftest import WebApp


def _alerts(web: WebApp) -> list[int]:
    with web.sessions.begin() as session:
        ids = []
        for n in range(3):
            product = save_product(session, f"MUG-{n}", f"Mug {n}")
            session.flush()
            alert = raise_alert(
                session, Subject.PRODUCT, product.id, "amazon_refused", "refused", now=web.clock()
            )
            session.flush()
            ids.append(alert.id)
        return ids


def _open(web: WebApp) -> set[int]:
    with web.sessions() as session:
        return set(session.scalars(select(Alert.id).where(Alert.cleared_at.is_(None))))


def _clearings(web: WebApp) -> list[AuditEntry]:
    with web.sessions() as session:
        found = list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == AuditAction.ALERTS_CLEARED))
        )
        session.expunge_all()
    return found


def test_alerts_name_the_sku_with_a_link_and_a_selection_is_cleared_with_an_audit_entry(web: WebApp) -> None:
    first, second, third = _alerts(web)
    operator = web.client("operator")
    page = operator.get("/alerts").text
    assert '<a href="/products?q=MUG-0">SKU MUG-0</a>' in page and "product #" not in page
    done = operator.submit("/alerts/clear", {"alert": [str(first), str(second)]})
    assert done.status_code == 303 and "2+alerts+cleared" in done.headers["location"]
    assert _open(web) == {third}
    [entry] = _clearings(web)
    assert entry.actor == operator.username or operator.username in entry.actor
    assert entry.subjects == [f"alert:{first}", f"alert:{second}"] and entry.detail["count"] == 2


def test_every_open_alert_of_a_kind_is_cleared_through_the_api_and_a_viewer_may_not(web: WebApp) -> None:
    _alerts(web)
    viewer = web.client("viewer")
    assert viewer.api("POST", "/api/v1/alerts/clear", json={"kind": "amazon_refused"}).status_code == 403
    operator = web.client("operator")
    assert operator.api("POST", "/api/v1/alerts/clear", json={}).status_code == 422
    answer = operator.api("POST", "/api/v1/alerts/clear", json={"kind": "amazon_refused"})
    assert answer.status_code == 200 and answer.json() == {"cleared": 3}
    assert _open(web) == set()
    [entry] = _clearings(web)
    assert entry.detail["all_of_kind"] is True and entry.detail["count"] == 3
    listed = operator.api("GET", "/api/v1/alerts").json()
    assert listed["items"] == []
