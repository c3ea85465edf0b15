"""Cancelling from the order page and the API, statuses in the channel settings, the late and due-today
lists and their dashboard tile: on both stores, privacy on (the orders carry a buyer's address)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select, update

from orderbridge.book.alerts import Subject, raise_alert
from orderbridge.book.channels import Channel
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.orders.statuses import add_status
from orderbridge.privacy.sealing import is_sealed
from tests.book.builders import NOW, make_book
from tests.web.conftest import WebApp

REF = "202-1111111-1111111"


def _order(web: WebApp, lines: list[tuple[str, int]], *, ref: str = REF) -> tuple[int, dict[str, int]]:
    with web.sessions.begin() as session:
        book = make_book(session)
        for sku in ("A", "B"):
            book.receive(sku, 10)
        order = book.order(ref, lines)
        return order.id, {row.sku or "": row.id for row in order.rows}


def _state(web: WebApp, order_id: int) -> tuple[str, list[tuple[int, int]], bool]:
    with web.sessions.begin() as session:
        order = session.get(SalesOrder, order_id)
        assert order is not None
        sealed = is_sealed(order.delivery_name)
        return order.status.name, [(row.quantity, row.allocated) for row in order.rows], sealed


def _outcome(response: object) -> dict[str, list[str]]:
    location = response.headers["location"]  # type: ignore[attr-defined]
    return parse_qs(urlsplit(location).query)


def test_o21_cancel_some_units_then_the_rest_from_the_order_page(web: WebApp) -> None:
    order_id, rows = _order(web, [("A", 3), ("B", 2)])
    operator = web.client("operator")
    page = operator.get(f"/orders/{order_id}").text
    assert f'action="/orders/{order_id}/cancel"' in page and "cancel the order in Seller Central too" in page

    partial = operator.submit(f"/orders/{order_id}/cancel", {f"units-{rows['A']}": "1"})
    assert _outcome(partial)["done"] == ["cancelled SKU A x 1; the order is now New order"]
    status, shown, sealed = _state(web, order_id)
    assert (status, shown, sealed) == ("New order", [(2, 2), (2, 2)], True)

    whole = operator.submit(f"/orders/{order_id}/cancel", {"whole": "yes"})
    assert "the order is now Cancelled" in _outcome(whole)["done"][0]
    status, shown, _ = _state(web, order_id)
    assert status == "Cancelled" and [allocated for _, allocated in shown] == [0, 0]
    assert "Cancel the order or some of its items" not in operator.get(f"/orders/{order_id}").text


def test_cancelling_a_shipped_item_on_the_page_is_refused_in_plain_words(web: WebApp) -> None:
    order_id, rows = _order(web, [("A", 1), ("B", 1)])
    operator = web.client("operator")
    shipped = operator.submit(
        f"/orders/{order_id}/ship", {"reference": "box-1", "carrier": "UPS", "tracking_number": "1Z0001"}
    )
    assert "done" in _outcome(shipped), _outcome(shipped)

    refused = operator.submit(f"/orders/{order_id}/cancel", {f"units-{rows['A']}": "1"})
    problem = _outcome(refused)["problem"][0]
    assert problem == (  # the Amazon order id and the SKU, no internal ids
        f"not cancelled: order {REF}: SKU A is shipped: a shipped item cannot be cancelled "
        "(record a return instead)"
    )
    empty = operator.submit(f"/orders/{order_id}/cancel", {f"units-{rows['A']}": "0"})
    assert "give the units to cancel" in _outcome(empty)["problem"][0]
    assert _state(web, order_id)[0] == "Shipped"  # a shipment in full moved the status
    assert web.client("viewer").submit(f"/orders/{order_id}/cancel", {"whole": "yes"}).status_code == 403


def test_the_buyer_cancellation_alert_offers_the_cancel_form(web: WebApp) -> None:
    order_id, _ = _order(web, [("A", 1)])
    with web.sessions.begin() as session:
        message = f"the buyer asked Amazon to cancel order {REF}"
        raise_alert(session, Subject.ORDER, order_id, "cancellation_requested", message, now=NOW)
    operator = web.client("operator")

    alerts = operator.get("/alerts").text
    assert f'href="/orders/{order_id}#cancel"' in alerts
    page = operator.get(f"/orders/{order_id}").text
    assert 'href="#cancel"' in page and '<details class="cancel" id="cancel" open>' in page


def test_o21_cancel_through_the_api_whole_partial_and_refused(web: WebApp) -> None:
    order_id, _ = _order(web, [("A", 3), ("B", 1)])
    other_id, _ = _order_on_same_book(web)
    operator = web.client("operator")
    url = f"/api/v1/orders/{order_id}/cancel"

    assert web.client("viewer").api("POST", url, json={}).status_code == 403
    partial = operator.api("POST", url, json={"rows": [{"sku": "A", "quantity": 2}]})
    assert partial.status_code == 200, partial.text
    body = partial.json()
    assert (body["cancelled"], body["status"], body["whole_order"]) == ({"SKU A": 2}, "New order", False)
    assert "Seller Central" in body["notice"]
    detail = operator.get(f"/api/v1/orders/{order_id}").json()
    assert [(r["quantity"], r["cancelled"]) for r in detail["rows"]] == [(1, 2), (1, 0)]

    too_many = operator.api("POST", url, json={"rows": [{"sku": "A", "quantity": 5}]}).json()["error"]
    assert (
        too_many["status"] == 409 and "SKU A: cannot cancel 5; 1 of 1 are not shipped" in too_many["message"]
    )
    unknown = operator.api("POST", url, json={"rows": [{"sku": "Z", "quantity": 1}]}).json()["error"]
    assert unknown["status"] == 422 and "no item has the SKU 'Z'" in unknown["message"]
    nothing = operator.api("POST", url, json={"rows": []}).json()["error"]
    assert nothing["status"] == 422

    whole = operator.api("POST", f"/api/v1/orders/{other_id}/cancel", json={}).json()
    assert (whole["status"], whole["whole_order"]) == ("Cancelled", True)
    again = operator.api("POST", f"/api/v1/orders/{other_id}/cancel", json={}).json()["error"]
    assert again["status"] == 409 and "is already cancelled" in again["message"]
    document = operator.get("/api/v1/openapi.json").json()
    assert "/api/v1/orders/{order_id}/cancel" in document["paths"]


def _order_on_same_book(web: WebApp) -> tuple[int, None]:
    from orderbridge.book.orders.booking import book_order
    from orderbridge.book.orders.commands import NewOrder, NewRow
    from orderbridge.book.orders.model import OrderStatus, RowKind

    with web.sessions.begin() as session:
        channel = session.scalar(select(Channel))
        first = session.scalar(select(SalesOrder))
        assert channel is not None and first is not None
        status = session.scalar(select(OrderStatus).where(OrderStatus.name == "New order"))
        assert status is not None
        new = NewOrder(
            channel_id=channel.id,
            external_ref="202-2222222-2222222",
            contact_id=first.contact_id,
            status_id=status.id,
            currency="GBP",
            placed_at=NOW,
            rows=(
                NewRow(kind=RowKind.FREE_TEXT, name="Engraving", sku="ENG", quantity=1, net=first.total_net),
            ),
        )
        return book_order(session, new, now=NOW).id, None


def test_the_channel_settings_name_the_statuses_for_shipped_and_cancelled_orders(web: WebApp) -> None:
    order_id, _ = _order(web, [("A", 1)])
    with web.sessions.begin() as session:
        add_status(session, "Dispatched")
        add_status(session, "Void", is_cancelled=True)
    admin = web.client("admin")
    page = admin.get("/channels/amazon-uk").text
    assert "Status for shipped orders" in page and 'value="Shipped"' in page

    refused = admin.submit(
        "/channels/amazon-uk", {"status_shipped": "Dispatched", "status_cancelled": "Shipped"}
    )
    assert refused.status_code == 422 and "is not a cancelled status" in refused.text
    saved = admin.submit("/channels/amazon-uk", {"status_shipped": "Dispatched", "status_cancelled": "Void"})
    assert saved.status_code == 303
    assert 'value="Dispatched"' in admin.get("/channels/amazon-uk").text

    operator = web.client("operator")
    shipped = operator.submit(
        f"/orders/{order_id}/ship", {"reference": "box-1", "carrier": "UPS", "tracking_number": "1Z0001"}
    )
    assert "done" in _outcome(shipped), _outcome(shipped)
    assert _state(web, order_id)[0] == "Dispatched"


def test_o24_late_and_due_today_on_the_list_the_api_and_the_dashboard(web: WebApp) -> None:
    # given orders due yesterday, later today and tomorrow, as the app's clock reads "today"
    ids = {}
    with web.sessions.begin() as session:
        book = make_book(session)
        book.receive("A", 10)
        for ref, delta in (("late-1", -1), ("today-1", 0), ("later-1", 1)):
            order = book.order(ref, [("A", 1)])
            ship_by = NOW + timedelta(days=delta, hours=2)
            session.execute(update(SalesOrder).where(SalesOrder.id == order.id).values(ship_by=ship_by))
            ids[ref] = order.id
    viewer = web.client("viewer")

    # when the lists are read, then again a day later
    def api(due: str) -> list[str]:
        page = web.clients[-1].get("/api/v1/orders", params={"due": due})
        assert page.status_code == 200, page.text
        return [item["reference"] for item in page.json()["items"]]

    assert (api("late"), api("today")) == (["late-1"], ["today-1"])
    listed = viewer.get("/orders", params={"due": "late"}).text
    assert "late-1" in listed and "today-1" not in listed and '<span class="tag bad">late</span>' in listed
    tile = viewer.get("/").text
    assert 'href="/orders?due=late"><span class="count">1</span>' in tile
    assert 'href="/orders?due=today"><span class="count">1</span>' in tile
    assert viewer.get("/orders", params={"due": "soon"}).status_code == 400
    assert viewer.get("/api/v1/orders", params={"due": "soon"}).status_code == 422

    web.clock.advance(days=1)
    web.client("viewer")  # signed in again: a day idle ends a session
    assert (api("late"), api("today")) == (["late-1", "today-1"], ["later-1"])


def test_O24_orders_filter_by_amazon_program_on_the_list_and_the_api(web: WebApp) -> None:
    # given orders carrying different programs (kept space-separated at booking)
    with web.sessions.begin() as session:
        book = make_book(session)
        book.receive("A", 10)
        for ref, programs in (
            ("prime-1", "AMAZON_BUSINESS PRIME"),
            ("easy-1", "AMAZON_EASY_SHIP"),
            ("none-1", None),
            ("pre-1", "PREORDER PRIMEX"),  # a longer name is not the program
        ):
            order = book.order(ref, [("A", 1)])
            session.execute(
                update(SalesOrder).where(SalesOrder.id == order.id).values(channel_programs=programs)
            )
    viewer = web.client("viewer")

    def api(program: str) -> list[str]:
        page = web.clients[-1].get("/api/v1/orders", params={"program": program})
        assert page.status_code == 200, page.text
        return sorted(item["reference"] for item in page.json()["items"])

    # when filtered, then only the orders carrying the program are listed
    assert api("PRIME") == ["prime-1"]
    assert api("AMAZON_EASY_SHIP") == ["easy-1"]
    assert api("AMAZON_BUSINESS") == ["prime-1"]
    listed = viewer.get("/orders", params={"program": "AMAZON_EASY_SHIP"}).text
    assert (
        "easy-1" in listed
        and "prime-1" not in listed
        and '<option value="AMAZON_EASY_SHIP" selected>' in listed
    )
    assert viewer.get("/orders", params={"program": "NOPE"}).status_code == 400
    assert web.clients[-1].get("/api/v1/orders", params={"program": "PR%ME"}).status_code == 422
