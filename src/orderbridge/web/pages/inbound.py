"""Inbound: warehouse transfers (FBA inbound shipments among them), with what arrived short, over or
unexpected."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from orderbridge.book.errors import BookError
from orderbridge.book.queries.transfers import list_transfers
from orderbridge.web.deps import Db, Principal, require
from orderbridge.web.pages.rendering import back_to, page, pager
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.STOCK_READ)]


@router.get("/inbound", response_class=HTMLResponse)
def inbound(request: Request, session: Db, principal: Reader) -> Response:
    show = request.query_params.get("show", "")
    try:
        found = list_transfers(
            session,
            discrepancies_only=show == "discrepancies",
            open_only=show == "open",
            cursor=request.query_params.get("cursor"),
        )
    except BookError as error:
        return back_to("/inbound", problem=str(error))
    return page(request, "pages/inbound.html", {"found": found, "links": pager(request, found), "show": show})
