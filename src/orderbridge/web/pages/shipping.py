"""Shipping from the browser beyond one order: the orders picked on the list (a carrier and tracking number
each), a CSV file of order id, carrier, tracking; and correcting a shipment's tracking (resent to Amazon)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select

from orderbridge.amazon.outbound.corrections import correct_tracking
from orderbridge.book.errors import BookError
from orderbridge.book.orders.bulk_shipping import BulkShipRefusedError, ShipRequest, ship_all
from orderbridge.book.orders.carriers import list_carriers
from orderbridge.book.orders.model import SalesOrder, Shipment
from orderbridge.imports.csv_source import parse_csv
from orderbridge.imports.errors import ImportRejectedError
from orderbridge.imports.shipments import ship_from_csv
from orderbridge.web.deps import Db, Principal, require, web_context
from orderbridge.web.pages.rendering import back_to, page
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Writer = Annotated[Principal, require(Permission.ORDERS_WRITE)]
MAX_SELECTED = 200  # orders shipped from one form: a page a person can still read
MAX_FILE_BYTES = 5 * 1024 * 1024


def _selected(session: Db, ids: list[int]) -> list[SalesOrder]:
    wanted = list(dict.fromkeys(ids))[:MAX_SELECTED]
    found = {o.id: o for o in session.scalars(select(SalesOrder).where(SalesOrder.id.in_(wanted)))}
    return [found[i] for i in wanted if i in found]


def _page(
    request: Request, session: Db, orders: list[SalesOrder], *, status: int = 200, **extra: Any
) -> HTMLResponse:
    lines = [
        {
            "order": order,
            "carrier": order.shipping_method.carrier if order.shipping_method else "",
        }
        for order in orders
    ]
    context = {"lines": lines, "carriers": list_carriers(session), "problems": {}, "file_problems": []}
    return page(request, "pages/ship_orders.html", context | extra, status=status)


@router.get("/orders/ship", response_class=HTMLResponse)
def ship_orders_page(request: Request, session: Db, principal: Writer) -> HTMLResponse:
    """The orders ticked on the list, each with a carrier and tracking number to fill in; the file form."""
    ids = [int(v) for v in request.query_params.getlist("order") if v.isdigit()]
    return _page(request, session, _selected(session, ids))


@router.post("/orders/ship", response_model=None)
async def ship_orders(request: Request, session: Db, principal: Writer) -> HTMLResponse | RedirectResponse:
    """Ship every listed order with its carrier and tracking, or none (each refused order named)."""
    form = await request.form()
    ids = [int(str(v)) for v in form.getlist("order") if str(v).isdigit()]
    orders = _selected(session, ids)
    if not orders:
        return back_to("/orders/ship", problem="tick the orders to ship on the order list first")
    requests = [
        ShipRequest(
            line=order.id,
            order=order,
            carrier=str(form.get(f"carrier-{order.id}") or "").strip() or None,
            tracking_number=str(form.get(f"tracking-{order.id}") or "").strip() or None,
        )
        for order in orders
    ]
    try:
        shipments = ship_all(session, requests, now=web_context(request).clock())
    except BulkShipRefusedError as error:
        problems = {refusal.line: refusal.message for refusal in error.refusals}
        fields = ("carrier-", "tracking-")
        entered = {key: str(value) for key, value in form.items() if key.startswith(fields)}
        return _page(request, session, orders, status=422, problems=problems, entered=entered)
    units = sum(row.quantity for shipment in shipments for row in shipment.rows)
    return back_to("/orders", f"shipped {len(shipments)} order(s), {units} unit(s)")


@router.post("/orders/ship-csv", response_model=None)
def ship_orders_from_file(
    request: Request,
    session: Db,
    principal: Writer,
    file: Annotated[UploadFile, File()],
) -> HTMLResponse | RedirectResponse:
    """Ship the orders of an uploaded CSV (order_id, carrier, tracking, ship_date): all, or none."""
    data = file.file.read(MAX_FILE_BYTES + 1)
    name = file.filename or "the file"
    if len(data) > MAX_FILE_BYTES:
        return back_to("/orders/ship", problem=f"{name}: larger than 5 MB; split it")
    try:
        with session.begin_nested():
            shipped = ship_from_csv(session, parse_csv(data, source=name), now=web_context(request).clock())
    except ImportRejectedError as error:
        summary = str(error)
        if not summary.endswith("nothing was shipped"):
            summary = f"{name}: {len(error.problems)} problem(s); nothing was shipped"
        lines = [str(problem) for problem in error.problems]
        return _page(request, session, [], status=422, file_problems=lines, file_error=summary)
    return back_to("/orders", f"{name}: shipped {len(shipped.orders)} order(s), {shipped.units} unit(s)")


@router.post("/orders/{order_id}/shipments/{shipment_id}/tracking")
def correct_shipment_tracking(
    order_id: int,
    shipment_id: int,
    request: Request,
    session: Db,
    principal: Writer,
    *,
    tracking_number: Annotated[str, Form(max_length=100)] = "",
    carrier: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """Correct a shipment's tracking number and carrier; its confirmation goes to Amazon again."""
    path = f"/orders/{order_id}"
    shipment = session.get(Shipment, shipment_id)
    order = session.get(SalesOrder, order_id)
    if order is None or shipment is None or shipment.order_id != order_id:
        return back_to("/orders", problem="that shipment is not on this order any more")
    try:
        with session.begin_nested():
            done = correct_tracking(
                session,
                order,
                reference=shipment.reference,
                tracking_number=tracking_number,
                carrier=carrier.strip() or None,
                now=web_context(request).clock(),
                by=principal.actor,
            )
    except BookError as error:
        return back_to(path, problem=f"not corrected: {error}")
    resent = "; the corrected confirmation goes to Amazon" if done.message_id is not None else ""
    return back_to(path, f"shipment {shipment.reference}: tracking {done.shipment.tracking_number}{resent}")
