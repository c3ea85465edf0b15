"""The order list (filters, the late and due-today lists, searches, keyset pages) and the order page (rows,
allocation, shipments, notes, custom fields, credits, payments, the raw Amazon versions), with shipping and
cancelling from the page."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.orders.programs import PROGRAMS
from orderbridge.amazon.queries import payload_history
from orderbridge.book.channels import Channel
from orderbridge.book.contacts import Contact
from orderbridge.book.errors import BookError, NotFoundError
from orderbridge.book.money_trail import order_trail
from orderbridge.book.orders.cancel import cancel, cancellable_units, goods_rows
from orderbridge.book.orders.carriers import list_carriers
from orderbridge.book.orders.model import Fulfilment, RowKind, SalesOrder
from orderbridge.book.orders.shipping import ship_order, tells_amazon
from orderbridge.book.queries.orders import (
    Due,
    OrderFilter,
    SearchUnavailableError,
    list_orders,
    order_detail,
    statuses,
)
from orderbridge.book.settlements import Settlement
from orderbridge.outbox.queries import order_messages
from orderbridge.privacy.errors import PrivacyError
from orderbridge.web.deps import Db, Principal, require, web_context
from orderbridge.web.names import LiveNameIndex
from orderbridge.web.pages.rendering import REMOVED, back_to, buyer_data, not_found, page, pager
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.ORDERS_READ)]
Writer = Annotated[Principal, require(Permission.ORDERS_WRITE)]
SEARCH_KINDS = {"order": "Order id", "sku": "SKU", "name": "Buyer name"}
DUE_LABELS = {"late": "Late (ship-by passed)", "today": "Due today"}
# Alerts about a buyer's or Amazon's cancellation: the order page offers the cancel form beside them.
CANCEL_ALERTS = frozenset({"cancellation_requested", "cancelled_after_ready"})
ADDRESS = ("name", "company", "line1", "line2", "city", "region", "postcode", "country", "phone")


def _date(value: str | None, field: str, problems: dict[str, str]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        problems[field] = f"{value!r} is not a date (YYYY-MM-DD)"
        return None


def _int(value: str | None, field: str, problems: dict[str, str]) -> int | None:
    if not value:
        return None
    if not value.isdigit():
        problems[field] = f"{value!r} is not a choice of this list"
        return None
    return int(value)


def parse_filter(params: dict[str, str], problems: dict[str, str]) -> OrderFilter:
    """The list's filter from the query string; each bad value is named beside its field."""
    fulfilment = params.get("fulfilment") or None
    if fulfilment is not None and fulfilment not in {f.value for f in Fulfilment}:
        problems["fulfilment"] = f"{fulfilment!r} is not seller or channel"
        fulfilment = None
    text = (params.get("q") or "").strip()
    due = params.get("due") or None
    if due is not None and due not in DUE_LABELS:
        problems["due"] = f"{due!r} is not late or today"
        due = None
    program = params.get("program") or None
    if program is not None and program not in PROGRAMS:
        problems["program"] = f"{program!r} is not an Amazon program"
        program = None
    by = params.get("by") or "order"
    if by not in SEARCH_KINDS:
        problems["q"] = f"cannot search by {by!r}"
        text = ""
    return OrderFilter(
        channel_id=_int(params.get("channel"), "channel", problems),
        status_id=_int(params.get("status"), "status", problems),
        fulfilment=Fulfilment(fulfilment) if fulfilment else None,
        placed_from=_date(params.get("from"), "from", problems),
        placed_to=_date(params.get("to"), "to", problems),
        reference=text if by == "order" and text else None,
        sku=text if by == "sku" and text else None,
        name=text if by == "name" and text else None,
        due=Due(due) if due else None,
        program=program,
    )


@router.get("/orders", response_class=HTMLResponse)
def orders(request: Request, session: Db, principal: Reader) -> HTMLResponse:
    params = dict(request.query_params)
    problems: dict[str, str] = {}
    wanted = parse_filter(params, problems)
    if wanted.name and not principal.can(Permission.PII_READ):
        problems["q"] = "searching by buyer name needs the pii:read permission"
        wanted = OrderFilter(**{**wanted.__dict__, "name": None})
    found = None
    clock = web_context(request).clock
    names = LiveNameIndex(actor=principal.actor, channel=principal.channel, clock=clock)
    try:
        found = list_orders(session, wanted, cursor=params.get("cursor"), size=50, names=names, now=clock())
    except (SearchUnavailableError, PrivacyError) as error:
        problems["q"] = str(error)
    except BookError as error:
        problems["cursor" if "cursor" in str(error) else "from"] = str(error)
    channels = list(session.scalars(select(Channel).order_by(Channel.code)))
    return page(
        request,
        "pages/orders.html",
        {
            "found": found,
            "links": pager(request, found) if found else {},
            "params": params,
            "problems": problems,
            "channels": channels,
            "statuses": statuses(session),
            "search_kinds": {
                k: v for k, v in SEARCH_KINDS.items() if k != "name" or principal.can(Permission.PII_READ)
            },
            "filtered": not wanted.is_empty,
            "programs": PROGRAMS,
            "can_ship": principal.can(Permission.ORDERS_WRITE),
            "due_labels": DUE_LABELS,
            "now": clock(),
        },
        status=400 if problems else 200,
    )


def _address(order: SalesOrder, values: dict[str, str | None], prefix: str) -> dict[str, str | None]:
    """The address as shown: PII parts as revealed (or masked), region and country as stored (not PII)."""
    return {
        part: getattr(order, f"{prefix}_{part}")
        if part in ("region", "country")
        else values.get(f"{prefix}_{part}")
        for part in ADDRESS
    }


def _payload_versions(
    request: Request, session: Db, principal: Principal, order: SalesOrder, channel: Channel
) -> list[dict[str, Any]]:
    if not channel.is_amazon:
        return []
    versions = []
    for item in payload_history(session, order.external_ref):
        if order.pii_redacted_at is not None:
            # The order's buyer data is gone: its raw versions are never opened again, whatever the inbox
            # still holds (the sweep does not redact the inbox yet).
            versions.append({"item": item, "payload": REMOVED})
            continue
        text = buyer_data(request, session, principal, item, ["payload"], purpose="order_page_amazon_payload")
        raw = text.get("payload")
        pretty = raw
        if raw and raw.startswith("{"):
            try:
                pretty = json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
            except ValueError:
                pretty = raw
        versions.append({"item": item, "payload": pretty})
    return versions


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(order_id: int, request: Request, session: Db, principal: Reader) -> HTMLResponse:
    try:
        detail = order_detail(session, order_id)
    except NotFoundError as error:
        raise not_found(error) from None
    order = detail.order
    pii_fields = [name for name in _order_pii_fields() if hasattr(order, name)]
    values = buyer_data(request, session, principal, order, pii_fields, purpose="order_page")
    contact = session.get(Contact, order.contact_id)
    contact_values = (
        buyer_data(
            request,
            session,
            principal,
            contact,
            ["first_name", "last_name", "company_name", "email", "phone"],
            purpose="order_page_customer",
        )
        if contact is not None
        else {}
    )
    notes = [
        (
            note,
            buyer_data(request, session, principal, note, ["body"], purpose="order_page_notes").get("body"),
        )
        for note in order.notes
    ]
    fields = [
        (
            line,
            buyer_data(
                request, session, principal, line.value, ["value"], purpose="order_page_custom_fields"
            ).get("value")
            if line.value is not None
            else None,
        )
        for line in detail.custom_fields
    ]
    trail = order_trail(session, order)
    unshipped = sum(
        line.row.quantity - line.row.shipped for line in detail.rows if line.row.kind == RowKind.PRODUCT
    )
    return page(
        request,
        "pages/order.html",
        {
            "d": detail,
            "o": order,
            "delivery": _address(order, values, "delivery"),
            "billing": _address(order, values, "billing"),
            "contact": contact_values,
            "notes": notes,
            "fields": fields,
            "versions": _payload_versions(request, session, principal, order, detail.channel),
            "can_ship": principal.can(Permission.ORDERS_WRITE) and not order.is_cancelled and unshipped > 0,
            "unshipped": unshipped,
            "next_reference": f"web-{len(order.shipments) + 1}",
            "row_names": {line.row.id: line.row.sku or line.row.name for line in detail.rows},
            "trail": trail,
            "settlement_ids": _settlement_ids(session, [step.reference for step in trail.settlements]),
            "messages": order_messages(session, order.id),
            "can_retry": principal.can(Permission.ORDERS_WRITE),
            "can_correct": principal.can(Permission.ORDERS_WRITE) and not order.is_cancelled,
            "carriers": list_carriers(session),
            "tells_amazon": tells_amazon(session, order),
            "cancellable": _cancellable(order) if principal.can(Permission.ORDERS_WRITE) else [],
            "cancel_alerts": CANCEL_ALERTS,
            "now": web_context(request).clock(),
        },
    )


def _cancellable(order: SalesOrder) -> list[dict[str, Any]]:
    """The items the cancel form offers: each goods row with units not shipped yet (none once cancelled)."""
    if order.is_cancelled:
        return []
    found = []
    for row in goods_rows(order):
        units = cancellable_units(order, row)
        if units:
            found.append({"id": row.id, "name": row.sku or row.name, "title": row.name, "units": units})
    return found


def _settlement_ids(session: Session, references: list[str]) -> dict[str, int]:
    if not references:
        return {}
    query = select(Settlement.reference, Settlement.id).where(Settlement.reference.in_(references))
    return {reference: found for reference, found in session.execute(query)}


def _order_pii_fields() -> list[str]:
    from orderbridge.book.pii import pii_fields

    return pii_fields(SalesOrder.__table__)


@router.post("/orders/{order_id}/ship")
def ship(
    order_id: int,
    request: Request,
    session: Db,
    principal: Writer,
    *,
    reference: Annotated[str, Form(max_length=100)] = "",
    tracking_number: Annotated[str, Form(max_length=100)] = "",
    carrier: Annotated[str, Form(max_length=100)] = "",
) -> RedirectResponse:
    """Ship everything allocated and unshipped under one shipment reference (idempotent by reference)."""
    order = session.get(SalesOrder, order_id)
    if order is None:
        raise not_found(NotFoundError("sales order", order_id))
    path = f"/orders/{order_id}"
    if not reference.strip():
        return back_to(path, problem="ship: the shipment reference is empty")
    try:
        with session.begin_nested():
            shipment = ship_order(
                session,
                order,
                reference=reference.strip(),
                now=web_context(request).clock(),
                tracking_number=tracking_number.strip() or None,
                carrier=carrier.strip() or None,
            )
    except BookError as error:
        return back_to(path, problem=f"not shipped: {error}")
    units = sum(row.quantity for row in shipment.rows)
    return back_to(path, f"shipped {units} unit(s) as {shipment.reference}")


@router.post("/orders/{order_id}/cancel")
async def cancel_rows(order_id: int, request: Request, session: Db, principal: Writer) -> RedirectResponse:
    """The cancel form: `whole=yes` cancels everything not shipped; else `units-<row id>` per item."""
    order = session.get(SalesOrder, order_id)
    if order is None:
        raise not_found(NotFoundError("sales order", order_id))
    path = f"/orders/{order_id}"
    form = await request.form()
    quantities: dict[int, int] | None = None
    if form.get("whole") != "yes":
        quantities = {}
        for key, value in form.multi_items():
            if not key.startswith("units-") or not isinstance(value, str) or not value.strip():
                continue
            row_id, text = key.removeprefix("units-"), value.strip()
            if not row_id.isdigit() or not text.isdigit():
                return back_to(path, problem=f"not cancelled: {text!r} is not a number of units")
            if int(text):
                quantities[int(row_id)] = int(text)
        if not quantities:
            return back_to(path, problem="not cancelled: give the units to cancel of at least one item")
    try:
        with session.begin_nested():
            done = cancel(session, order, now=web_context(request).clock(), quantities=quantities)
    except BookError as error:
        return back_to(path, problem=f"not cancelled: {error}")
    what = ", ".join(f"{name} x {units}" for name, units in done.units.items())
    return back_to(path, f"cancelled {what}; the order is now {order.status.name}")
