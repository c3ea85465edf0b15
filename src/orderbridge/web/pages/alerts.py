"""Open alerts (things a person must look at), by kind, each naming its Amazon order, SKU or account with
a link; clearing one, a selection, or every open alert of a kind."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from orderbridge.book.alerts import Alert, kind_name
from orderbridge.book.errors import BookError, NotFoundError
from orderbridge.book.queries.attention import open_alert_counts, open_alerts_page
from orderbridge.web.alert_actions import clear_and_record
from orderbridge.web.deps import Db, Principal, require, web_context
from orderbridge.web.pages.rendering import back_to, not_found, page, pager
from orderbridge.web.roles import Permission
from orderbridge.web.subjects import name_subjects

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.ORDERS_READ)]
Writer = Annotated[Principal, require(Permission.ORDERS_WRITE)]
MAX_SELECTED = 500  # alerts one form may clear by id (a page shows at most 200)


def _back(kind: str | None) -> str:
    return f"/alerts?kind={quote(kind)}" if kind else "/alerts"


@router.get("/alerts", response_class=HTMLResponse)
def alerts(request: Request, session: Db, principal: Reader) -> Response:
    kind = request.query_params.get("kind") or None
    try:
        found = open_alerts_page(session, kind=kind, cursor=request.query_params.get("cursor"))
    except BookError as error:
        return back_to("/alerts", problem=str(error))
    kinds = {k: (kind_name(k), n) for k, n in open_alert_counts(session).items()}
    return page(
        request,
        "pages/alerts.html",
        {
            "found": found,
            "links": pager(request, found),
            "kind": kind,
            "kind_label": kind_name(kind) if kind else None,
            "kinds": kinds,
            "names": name_subjects(session, ((a.subject, a.subject_id) for a in found.items)),
        },
    )


@router.post("/alerts/clear")
async def clear_many(request: Request, session: Db, principal: Writer) -> RedirectResponse:
    """Clear the alerts ticked on the page, or (`all_of_kind`) every open alert of the page's kind."""
    form = await request.form()
    kind = str(form.get("kind") or "") or None
    back = _back(kind)
    if form.get("all_of_kind") == "yes":
        if kind is None:
            return back_to(
                back, problem="choose a kind of alert first: clearing every open alert at once is not offered"
            )
        ids: list[int] = []
    else:
        try:
            ids = [int(str(value)) for value in form.getlist("alert")][:MAX_SELECTED]
        except ValueError:
            return back_to(back, problem="the selection holds something that is not an alert number")
        if not ids:
            return back_to(back, problem="tick the alerts to clear first")
        kind = None
    cleared = clear_and_record(
        session, ids=ids, kind=kind, actor=principal.actor, clock=web_context(request).clock
    )
    return back_to(back, f"{cleared} alert{'' if cleared == 1 else 's'} cleared")


@router.post("/alerts/{alert_id}/clear")
def clear(alert_id: int, request: Request, session: Db, principal: Writer) -> RedirectResponse:
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise not_found(NotFoundError("alert", alert_id))
    if alert.cleared_at is not None:
        return back_to(_back(alert.kind), problem=f"that alert was already cleared by {alert.cleared_by}")
    clear_and_record(session, ids=[alert_id], actor=principal.actor, clock=web_context(request).clock)
    return back_to(_back(alert.kind), "alert cleared")
