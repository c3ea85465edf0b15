"""/api/v1/settlements: settlements with their reconciliation, one with its lines by kind."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from orderbridge.book.queries.settlements import SettlementLine, list_settlements, settlement_detail
from orderbridge.book.settlements import SettlementStatus
from orderbridge.web.api.paging import ApiPage, CursorParam, SizeParam, cursor_checked, page_of
from orderbridge.web.deps import Db, require
from orderbridge.web.problems import ApiError
from orderbridge.web.roles import Permission

router = APIRouter(tags=["settlements"], dependencies=[require(Permission.ORDERS_READ)])
SettlementId = Annotated[int, Path(ge=1, le=2**62, description="The book's settlement id.")]


class SettlementOut(BaseModel):
    id: int
    reference: str
    marketplace: str | None
    currency: str
    period_start: datetime | None
    period_end: datetime | None
    deposit_date: datetime | None
    deposit_total: Decimal
    lines_total: Decimal
    difference: Decimal
    status: str

    @classmethod
    def of(cls, line: SettlementLine) -> SettlementOut:
        return cls(
            id=line.id,
            reference=line.reference,
            marketplace=line.channel,
            currency=line.currency,
            period_start=line.period_start,
            period_end=line.period_end,
            deposit_date=line.deposit_date,
            deposit_total=line.deposit_total,
            lines_total=line.lines_total,
            difference=line.difference,
            status=line.status,
        )


class KindTotalOut(BaseModel):
    kind: str
    description: str
    nominal_code: str | None
    amount: Decimal
    lines: int


class SettlementDetailOut(SettlementOut):
    reconciled_at: datetime | None
    totals: list[KindTotalOut]
    unknown_orders: list[str]


@router.get("/settlements", summary="Settlements, newest first, with their reconciliation status")
def settlements_list(
    db: Db,
    status: Annotated[SettlementStatus | None, Query(description="Only settlements in this status.")] = None,
    cursor: CursorParam = None,
    size: SizeParam = 50,
) -> ApiPage[SettlementOut]:
    with cursor_checked():
        page = list_settlements(db, status=status, cursor=cursor, size=size)
    return page_of(page, SettlementOut.of)


@router.get("/settlements/{settlement_id}", summary="One settlement: lines by kind, orders not in the book")
def settlement_get(db: Db, settlement_id: SettlementId) -> SettlementDetailOut:
    detail = settlement_detail(db, settlement_id)
    if detail is None:
        raise ApiError(404, f"settlement {settlement_id} does not exist", field="path.settlement_id")
    return SettlementDetailOut(
        **SettlementOut.of(detail.settlement).model_dump(),
        reconciled_at=detail.reconciled_at,
        totals=[
            KindTotalOut(
                kind=str(t.kind),
                description=t.description,
                nominal_code=t.nominal_code,
                amount=t.amount,
                lines=t.lines,
            )
            for t in detail.totals
        ],
        unknown_orders=detail.unknown_orders,
    )
