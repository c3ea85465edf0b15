"""/api/v1/warehouses and their stock levels."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from pydantic import BaseModel

from orderbridge.book.inventory import Warehouse
from orderbridge.book.queries.stock import LevelLine, levels, warehouses
from orderbridge.web.api.paging import ApiPage, CursorParam, SizeParam, cursor_checked, page_of
from orderbridge.web.deps import Db, require
from orderbridge.web.problems import ApiError
from orderbridge.web.roles import Permission

router = APIRouter(prefix="/warehouses", tags=["stock"], dependencies=[require(Permission.STOCK_READ)])


class WarehouseOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    region: str | None
    products: int
    on_hand: int
    allocated: int
    in_transit: int


@router.get("", summary="Warehouses with their stock totals")
def warehouses_list(db: Db) -> list[WarehouseOut]:
    return [WarehouseOut(**line.__dict__) for line in warehouses(db)]


class LevelOut(BaseModel):
    product_id: int
    sku: str
    name: str
    on_hand: int
    allocated: int
    in_transit: int
    available: int


@router.get("/{warehouse_id}/stock", summary="A warehouse's stock levels by SKU")
def warehouse_stock(
    db: Db,
    warehouse_id: Annotated[int, Path(ge=1, le=2**62)],
    cursor: CursorParam = None,
    size: SizeParam = 50,
) -> ApiPage[LevelOut]:
    if db.get(Warehouse, warehouse_id) is None:
        raise ApiError(404, f"no warehouse {warehouse_id}", field="path.warehouse_id")
    with cursor_checked():
        page = levels(db, warehouse_id, cursor=cursor, size=size)

    def convert(line: LevelLine) -> LevelOut:
        return LevelOut(**line.__dict__, available=line.available)

    return page_of(page, convert)
