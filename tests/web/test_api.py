"""The REST API: the same permissions as the pages, keyset pages, shipping, and errors naming the field."""

from __future__ import annotations

from tests.book.builders import make_book
from tests.web.conftest import WebApp


def _book(web: WebApp) -> tuple[int, int]:
    with web.sessions.begin() as session:
        book = make_book(session)
        book.receive("A", 5)
        first = book.order("202-0000001-0000001", [("A", 1)])
        book.order("202-0000002-0000002", [("A", 2)])
        return first.id, book.channel.id


def test_errors_name_the_field_at_fault(web: WebApp) -> None:
    viewer = web.client("viewer")
    bad = viewer.get("/api/v1/orders", params={"size": 0}).json()["error"]
    assert bad["status"] == 422
    assert bad["fields"][0]["field"] == "query.size"
    cursor = viewer.get("/api/v1/orders", params={"cursor": "garbage!"}).json()["error"]
    assert cursor["fields"] == [{"field": "query.cursor", "message": cursor["message"]}]
    dates = viewer.get("/api/v1/orders", params={"placed_from": "2026-02-02", "placed_to": "2026-01-01"})
    assert dates.json()["error"]["fields"][0]["field"] == "query.placed_to"
    missing = viewer.get("/api/v1/orders/999999").json()["error"]
    assert (missing["status"], missing["fields"][0]["field"]) == (404, "path.order_id")
    operator = web.client("operator")
    empty = operator.api("POST", "/api/v1/orders/1/ship", json={"reference": ""}).json()["error"]
    assert empty["fields"][0]["field"] == "reference"


def test_orders_are_paged_and_filtered(web: WebApp) -> None:
    _book(web)
    viewer = web.client("viewer")
    first = viewer.get("/api/v1/orders", params={"size": 1}).json()
    assert [o["reference"] for o in first["items"]] == ["202-0000002-0000002"]
    second = viewer.get("/api/v1/orders", params={"size": 1, "cursor": first["next_cursor"]}).json()
    assert [o["reference"] for o in second["items"]] == ["202-0000001-0000001"]
    assert second["next_cursor"] is None
    found = viewer.get("/api/v1/orders", params={"reference": "202-0000001-0000001"}).json()["items"]
    assert len(found) == 1


def test_shipping_needs_orders_write_and_is_idempotent(web: WebApp) -> None:
    order_id, _ = _book(web)
    viewer = web.client("viewer")
    assert (
        viewer.api("POST", f"/api/v1/orders/{order_id}/ship", json={"reference": "box-1"}).status_code == 403
    )
    operator = web.client("operator")
    shipped = operator.api(
        "POST",
        f"/api/v1/orders/{order_id}/ship",
        json={"reference": "box-1", "carrier": "DPD", "tracking_number": "DPD-1"},
    )
    assert shipped.status_code == 200, shipped.text
    again = operator.api("POST", f"/api/v1/orders/{order_id}/ship", json={"reference": "box-1"})
    assert again.json()["shipped_at"] == shipped.json()["shipped_at"]
    detail = viewer.get(f"/api/v1/orders/{order_id}").json()
    assert [s["reference"] for s in detail["shipments"]] == ["box-1"]
    assert detail["rows"][0]["shipped"] == 1


def test_connecting_a_listing_through_the_api(web: WebApp) -> None:
    _, channel_id = _book(web)
    operator = web.client("operator")
    body = {"channel_id": channel_id, "seller_sku": "AMZ-A", "product_sku": "A"}
    assert web.client("viewer").api("POST", "/api/v1/listings/connect", json=body).status_code == 403
    connected = operator.api("POST", "/api/v1/listings/connect", json=body)
    assert connected.status_code == 200, connected.text
    listings = operator.get("/api/v1/listings").json()["items"]
    assert [(item["seller_sku"], item["product_sku"]) for item in listings] == [("AMZ-A", "A")]
    unknown = operator.api("POST", "/api/v1/listings/connect", json={**body, "product_sku": "NOPE"})
    assert unknown.status_code == 404


def test_openapi_is_served_to_signed_in_users_only(web: WebApp) -> None:
    assert web.anonymous().get("/api/v1/openapi.json").status_code == 401
    document = web.client("viewer").get("/api/v1/openapi.json").json()
    assert "/api/v1/orders/{order_id}/addresses" in document["paths"]
    assert document["components"]["securitySchemes"]["token"]["scheme"] == "bearer"
    docs = web.client("viewer").get("/api/v1/docs")
    assert "GET /api/v1/orders" in docs.text


def test_a_nul_character_anywhere_is_refused_by_name_not_a_server_error(web: WebApp) -> None:
    operator = web.client("operator")
    query = operator.api("GET", "/api/v1/orders", params={"sku": "A\x00B"})
    assert query.status_code == 422, query.text
    assert query.json()["error"]["fields"] == [
        {"field": "query.sku", "message": "query 'sku' contains a NUL character"}
    ]
    body = operator.api(
        "POST",
        "/api/v1/listings/connect",
        json={"channel": "amazon-us", "seller_sku": "X\x00", "product_sku": "A"},
    )
    assert body.status_code == 422 and body.json()["error"]["fields"][0]["field"] == "body"
    page = operator.get("/orders", params={"by": "sku", "q": "\x00"})
    assert page.status_code == 422 and "contains a NUL character" in page.text
    form = web.client("admin").submit("/users", {"username": "x\x00", "role": "viewer"})
    assert form.status_code == 422 and "form &#39;username&#39;" in form.text
