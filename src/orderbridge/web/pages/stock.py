"""Stock: warehouses with their totals, a warehouse's levels, and movements (all or one warehouse or SKU)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from orderbridge.book.errors import BookError, NotFoundError
from orderbridge.book.inventory import Warehouse
from orderbridge.book.queries.stock import levels, movements, warehouses
from orderbridge.web.deps import Db, Principal, require
from orderbridge.web.pages.rendering import back_to, not_found, page, pager
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.STOCK_READ)]


@router.get("/stock", response_class=HTMLResponse)
def stock(request: Request, session: Db, principal: Reader) -> Response:
    return page(request, "pages/stock.html", {"warehouses": warehouses(session)})


@router.get("/stock/movements", response_class=HTMLResponse)
def stock_movements(request: Request, session: Db, principal: Reader) -> Response:
    params = request.query_params
    code = params.get("warehouse") or None
    warehouse = session.scalar(select(Warehouse).where(Warehouse.code == code)) if code else None
    if code and warehouse is None:
        raise not_found(NotFoundError("warehouse", code))
    try:
        found = movements(
            session,
            warehouse_id=warehouse.id if warehouse else None,
            sku=params.get("sku") or None,
            cursor=params.get("cursor"),
        )
    except BookError as error:
        return back_to("/stock/movements", problem=str(error))
    return page(
        request,
        "pages/movements.html",
        {
            "found": found,
            "links": pager(request, found),
            "warehouse": warehouse,
            "sku": params.get("sku", ""),
        },
    )


@router.get("/stock/{code}", response_class=HTMLResponse)
def warehouse_stock(code: str, request: Request, session: Db, principal: Reader) -> Response:
    warehouse = session.scalar(select(Warehouse).where(Warehouse.code == code))
    if warehouse is None:
        raise not_found(NotFoundError("warehouse", code))
    try:
        found = levels(session, warehouse.id, cursor=request.query_params.get("cursor"))
    except BookError as error:
        return back_to(f"/stock/{code}", problem=str(error))
    return page(
        request, "pages/warehouse.html", {"w": warehouse, "found": found, "links": pager(request, found)}
    )
