"""Returns and credits: sales credits newest first, returns (restocked) and refunds apart."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from orderbridge.book.errors import BookError
from orderbridge.book.queries.credits import list_credits
from orderbridge.web.deps import Db, Principal, require
from orderbridge.web.pages.rendering import back_to, page, pager
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.ORDERS_READ)]


@router.get("/returns", response_class=HTMLResponse)
def returns(request: Request, session: Db, principal: Reader) -> Response:
    show = request.query_params.get("show", "")
    restock = {"returns": True, "refunds": False}.get(show)
    try:
        found = list_credits(session, restock=restock, cursor=request.query_params.get("cursor"))
    except BookError as error:
        return back_to("/returns", problem=str(error))
    return page(request, "pages/returns.html", {"found": found, "links": pager(request, found), "show": show})
