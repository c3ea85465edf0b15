"""Shipping in the browser and the API (both stores, privacy on): a shipment is checked before anything
ships, a tracking correction resends one confirmation, a selection or a CSV ships all or none (O23)."""

from __future__ import annotations

from sqlalchemy import func, select

from orderbridge.book.inventory import StockMovement
from orderbridge.book.orders.model import SalesOrder, Shipment
from orderbridge.outbox.models import MessageKind, OutboxMessage
from tests.book.builders import make_book
from tests.web.conftest import WebApp

REFS = ("202-0000001-0000001", "202-0000002-0000002", "202-0000003-0000003")


def _book(web: WebApp) -> list[int]:
    """Three allocated Amazon orders of one unit each, to a named buyer (sealed on the way in)."""
    with web.sessions.begin() as session:
        book = make_book(session)
        book.receive("A", 10)
        return [book.order(ref, [("A", 1)]).id for ref in REFS]


def _counts(web: WebApp) -> tuple[int, int, int]:
    """(stock movements, shipments, shipment confirmations queued)."""
    with web.sessions() as session:
        movements = session.scalar(select(func.count()).select_from(StockMovement))
        shipments = session.scalar(select(func.count()).select_from(Shipment))
        messages = session.scalar(select(func.count()).where(OutboxMessage.kind == MessageKind.ORDER_SHIPPED))
        return int(movements or 0), int(shipments or 0), int(messages or 0)


def _confirmations(web: WebApp) -> list[tuple[str, dict[str, object]]]:
    with web.sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.kind == MessageKind.ORDER_SHIPPED)
        return [(str(m.status), dict(m.payload)) for m in session.scalars(query.order_by(OutboxMessage.id))]


def test_O23_the_ship_form_and_the_api_refuse_a_missing_tracking_number_before_anything_ships(
    web: WebApp,
) -> None:
    order_id, *_ = _book(web)
    before = _counts(web)
    operator = web.client("operator")
    # the web form: the page says why, nothing left the warehouse
    refused = operator.submit(f"/orders/{order_id}/ship", {"reference": "web-1", "carrier": "UPS"})
    assert refused.status_code == 303
    page = operator.get(refused.headers["location"]).text
    assert "not shipped: order 202-0000001-0000001: enter a tracking number; Amazon needs one" in page
    # the API: 422 naming the problem; an unknown carrier likewise
    body = {"reference": "api-1", "carrier": "UPS"}
    api = operator.api("POST", f"/api/v1/orders/{order_id}/ship", json=body)
    assert api.status_code == 422 and "enter a tracking number" in api.text
    unknown = operator.api(
        "POST", f"/api/v1/orders/{order_id}/ship", json={**body, "carrier": "Pigeon", "tracking_number": "P1"}
    )
    assert unknown.status_code == 422 and "'Pigeon' is not on the carrier list" in unknown.text
    assert _counts(web) == before
    # with a tracking number it ships, and one confirmation is queued
    shipped = operator.submit(
        f"/orders/{order_id}/ship", {"reference": "web-1", "carrier": "UPS", "tracking_number": "1Z1"}
    )
    assert "shipped+1+unit" in shipped.headers["location"]
    assert _counts(web) == (before[0] + 1, 1, 1)


def test_O23_correcting_tracking_queues_exactly_one_new_confirmation_with_the_new_tracking(
    web: WebApp,
) -> None:
    order_id, second_id, _ = _book(web)
    operator = web.client("operator")
    operator.submit(
        f"/orders/{order_id}/ship", {"reference": "web-1", "carrier": "UPS", "tracking_number": "1Z1"}
    )
    with web.sessions() as session:
        shipment = session.scalars(select(Shipment).where(Shipment.order_id == order_id)).one()
        shipment_id = shipment.id
    page = operator.get(f"/orders/{order_id}").text
    assert (
        f'action="/orders/{order_id}/shipments/{shipment_id}/tracking"' in page
        and "Correct and resend" in page
    )
    # when: the order page corrects the tracking number
    corrected = operator.submit(
        f"/orders/{order_id}/shipments/{shipment_id}/tracking", {"carrier": "UPS", "tracking_number": "1Z2"}
    )
    assert "tracking+1Z2" in corrected.headers["location"]
    # then: one new confirmation, for this shipment's first correction
    assert [payload for _, payload in _confirmations(web)] == [
        {"shipment_id": shipment_id, "revision": 0},
        {"shipment_id": shipment_id, "revision": 1},
    ]
    # the API corrects the carrier and tracking too; a viewer may not
    path = f"/api/v1/orders/{order_id}/shipments/web-1/tracking"
    assert web.client("viewer").api("POST", path, json={"tracking_number": "X"}).status_code == 403
    api = operator.api("POST", path, json={"tracking_number": "DHL-3", "carrier": "DHL"})
    assert api.status_code == 200, api.text
    assert (api.json()["carrier"], api.json()["tracking_number"], api.json()["confirmation_queued"]) == (
        "DHL",
        "DHL-3",
        True,
    )
    assert len(_confirmations(web)) == 3
    refused = operator.api("POST", path, json={"tracking_number": "DHL-3"})
    assert refused.status_code == 422 and "nothing to correct" in refused.text
    no_shipment = operator.api(
        "POST", f"/api/v1/orders/{second_id}/shipments/S1/tracking", json={"tracking_number": "X"}
    )
    assert no_shipment.status_code == 422 and "has no shipment to correct" in no_shipment.text
    assert len(_confirmations(web)) == 3


def test_O23_shipping_a_selection_checks_every_order_and_ships_all_or_none(web: WebApp) -> None:
    ids = _book(web)
    operator = web.client("operator")
    listing = operator.get("/orders").text
    assert 'name="order"' in listing and "Ship selected" in listing
    picked = operator.get("/orders/ship", params=[("order", str(i)) for i in ids])
    assert picked.status_code == 200 and all(ref in picked.text for ref in REFS)
    before = _counts(web)
    form = {"order": [str(i) for i in ids]}
    form |= {f"carrier-{i}": "Royal Mail" for i in ids} | {f"tracking-{i}": f"RM{i}" for i in ids}
    # when: one order lacks its tracking number
    refused = operator.submit("/orders/ship", {**form, f"tracking-{ids[1]}": ""})
    # then: nothing ships and that order is named
    assert refused.status_code == 422
    assert "1 order(s) cannot ship; nothing was shipped" in refused.text
    assert "order 202-0000002-0000002: enter a tracking number" in refused.text
    assert f'value="RM{ids[0]}"' in refused.text  # what was typed is kept
    assert _counts(web) == before
    shipped = operator.submit("/orders/ship", form)
    assert shipped.status_code == 303 and "shipped+3+order" in shipped.headers["location"]
    assert _counts(web)[1:] == (3, 3)
    assert web.client("viewer").get("/orders/ship").status_code == 403


def test_O23_a_csv_upload_names_each_bad_line_and_ships_nothing_then_ships_a_good_file(web: WebApp) -> None:
    _book(web)
    operator = web.client("operator")
    before = _counts(web)
    bad = f"order_id,carrier,tracking\n{REFS[0]},UPS,1Z1\n{REFS[1]},UPS,\n{REFS[0]},UPS,1Z3\n".encode()
    refused = operator.submit("/orders/ship-csv", files={"file": ("ship.csv", bad, "text/csv")})
    assert refused.status_code == 422
    assert "ship.csv: 2 problem(s); nothing was shipped" in refused.text
    assert "line 3: order 202-0000002-0000002: enter a tracking number" in refused.text
    assert "line 4, column order_id: is also on line 2" in refused.text
    assert _counts(web) == before
    good = f"order_id,carrier,tracking\n{REFS[0]},UPS,1Z1\n{REFS[1]},UPS,1Z2\n".encode()
    shipped = operator.submit("/orders/ship-csv", files={"file": ("ship.csv", good, "text/csv")})
    assert shipped.status_code == 303 and "shipped+2+order" in shipped.headers["location"]
    with web.sessions() as session:
        done = session.scalars(select(SalesOrder.external_ref).where(SalesOrder.shipped_at.is_not(None)))
        assert sorted(done) == sorted(REFS[:2])
    viewer = web.client("viewer")
    assert (
        viewer.submit("/orders/ship-csv", files={"file": ("ship.csv", good, "text/csv")}).status_code == 403
    )
