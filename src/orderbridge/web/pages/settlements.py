"""Settlements: the list with each one's reconciliation, and one settlement's lines by kind."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, Response

from orderbridge.book.errors import BookError
from orderbridge.book.queries.settlements import (
    list_settlements,
    parse_settlement_status,
    settlement_detail,
    unknown_orders_page,
)
from orderbridge.book.settlements import SettlementStatus
from orderbridge.web.deps import Db, Principal, require
from orderbridge.web.pages.rendering import back_to, page, pager
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.ORDERS_READ)]
RecordId = Annotated[int, Path(ge=1, le=2**62)]  # beyond BIGINT is a bad address, never a store error


@router.get("/settlements", response_class=HTMLResponse)
def settlements(request: Request, session: Db, principal: Reader) -> Response:
    shown = request.query_params.get("status", "")
    try:
        found = list_settlements(
            session, status=parse_settlement_status(shown), cursor=request.query_params.get("cursor")
        )
    except BookError as error:
        return back_to("/settlements", problem=str(error))
    return page(
        request,
        "pages/settlements.html",
        {"found": found, "links": pager(request, found), "status": shown, "statuses": list(SettlementStatus)},
    )


@router.get("/settlements/{settlement_id}", response_class=HTMLResponse)
def settlement_page(settlement_id: RecordId, request: Request, session: Db, principal: Reader) -> Response:
    detail = settlement_detail(session, settlement_id, list_unknown=False)
    if detail is None:
        raise HTTPException(404, f"settlement {settlement_id} does not exist")
    try:
        unknown = unknown_orders_page(session, settlement_id, cursor=request.query_params.get("cursor"))
    except BookError as error:
        return back_to(f"/settlements/{settlement_id}", problem=str(error))
    return page(
        request,
        "pages/settlement.html",
        {"d": detail, "s": detail.settlement, "unknown": unknown, "links": pager(request, unknown)},
    )
