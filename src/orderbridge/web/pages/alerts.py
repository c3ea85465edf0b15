"""Open alerts (things a person must look at), by kind, and clearing one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from orderbridge.book.alerts import Alert, clear_alert
from orderbridge.book.errors import BookError, NotFoundError
from orderbridge.book.queries.attention import open_alert_counts, open_alerts_page
from orderbridge.web.deps import Db, Principal, require, web_context
from orderbridge.web.pages.rendering import back_to, not_found, page, pager
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.ORDERS_READ)]
Writer = Annotated[Principal, require(Permission.ORDERS_WRITE)]


@router.get("/alerts", response_class=HTMLResponse)
def alerts(request: Request, session: Db, principal: Reader) -> Response:
    kind = request.query_params.get("kind") or None
    try:
        found = open_alerts_page(session, kind=kind, cursor=request.query_params.get("cursor"))
    except BookError as error:
        return back_to("/alerts", problem=str(error))
    return page(
        request,
        "pages/alerts.html",
        {"found": found, "links": pager(request, found), "kind": kind, "kinds": open_alert_counts(session)},
    )


@router.post("/alerts/{alert_id}/clear")
def clear(alert_id: int, request: Request, session: Db, principal: Writer) -> RedirectResponse:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise not_found(NotFoundError("alert", alert_id))
    try:
        clear_alert(alert, by=principal.actor, now=web_context(request).clock())
    except BookError as error:
        return back_to("/alerts", problem=str(error))
    return back_to(f"/alerts?kind={alert.kind}", f"alert {alert_id} cleared")
