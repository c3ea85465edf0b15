"""Privacy: the retention report (AC-1), the redaction ledger, the incident register; and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from orderbridge.book.errors import BookError
from orderbridge.privacy.incidents import list_incidents
from orderbridge.privacy.models import AuditAction
from orderbridge.privacy.queries import audit_page, ledger_page
from orderbridge.privacy.report import retention_report
from orderbridge.privacy.sealing import privacy_of
from orderbridge.web.deps import Db, Principal, require, web_context
from orderbridge.web.pages.rendering import back_to, page, pager
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.PRIVACY_READ)]
Auditor = Annotated[Principal, require(Permission.AUDIT_READ)]


@router.get("/privacy", response_class=HTMLResponse)
def privacy(request: Request, session: Db, principal: Reader) -> Response:
    context = web_context(request)
    wired = privacy_of(session)
    report = (
        retention_report(
            session,
            wired,
            context.settings.archive_dir,
            clock=context.clock,
            legal_basis=context.settings.non_pii_legal_basis,
        )
        if wired is not None
        else None
    )
    try:
        ledger = ledger_page(session, cursor=request.query_params.get("cursor"), size=25)
    except BookError as error:
        return back_to("/privacy", problem=str(error))
    return page(
        request,
        "pages/privacy.html",
        {
            "report": report,
            "ledger": ledger,
            "links": pager(request, ledger),
            "incidents": list_incidents(session, clock=context.clock),
        },
    )


@router.get("/audit", response_class=HTMLResponse)
def audit_log(request: Request, session: Db, principal: Auditor) -> Response:
    params = request.query_params
    action = params.get("action") or None
    if action is not None and action not in {a.value for a in AuditAction}:
        return back_to("/audit", problem=f"no audit action {action!r}")
    try:
        found = audit_page(
            session, action=action, actor=params.get("actor") or None, cursor=params.get("cursor")
        )
    except BookError as error:
        return back_to("/audit", problem=str(error))
    return page(
        request,
        "pages/audit.html",
        {
            "found": found,
            "links": pager(request, found),
            "actions": [a.value for a in AuditAction],
            "action": action or "",
            "actor": params.get("actor", ""),
        },
    )
