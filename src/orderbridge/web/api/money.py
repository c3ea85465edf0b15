"""/api/v1/settlements and /api/v1/outbox: settlements with their reconciliation, messages for Amazon."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from orderbridge.amazon.outbox_sender import OutboxError, retry_message
from orderbridge.book.queries.settlements import SettlementLine, list_settlements, settlement_detail
from orderbridge.book.settlements import SettlementStatus
from orderbridge.outbox.models import MessageStatus
from orderbridge.outbox.queries import MessageLine, message, messages_page
from orderbridge.web.api.paging import ApiPage, CursorParam, SizeParam, cursor_checked, page_of
from orderbridge.web.deps import Context, CurrentUser, Db, require
from orderbridge.web.problems import ApiError
from orderbridge.web.roles import Permission

router = APIRouter(tags=["settlements and outbox"], dependencies=[require(Permission.ORDERS_READ)])
SettlementId = Annotated[int, Path(ge=1, le=2**62, description="The book's settlement id.")]
MessageId = Annotated[int, Path(ge=1, le=2**62, description="The outbox message id.")]


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


class AttemptOut(BaseModel):
    at: datetime
    outcome: str
    http_status: int
    detail: str


class MessageOut(BaseModel):
    id: int
    kind: str
    key: str
    order_id: int | None
    status: str
    attempts: int
    created_at: datetime
    due_at: datetime | None
    finished_at: datetime | None
    last_error: str | None
    result: dict[str, Any] | None
    history: list[AttemptOut]

    @classmethod
    def of(cls, line: MessageLine) -> MessageOut:
        return cls(
            id=line.id,
            kind=line.kind,
            key=line.key,
            order_id=line.order_id,
            status=line.status,
            attempts=line.attempts,
            created_at=line.created_at,
            due_at=line.due_at,
            finished_at=line.finished_at,
            last_error=line.last_error,
            result=line.result,
            history=[AttemptOut(**a.__dict__) for a in line.history],
        )


@router.get("/outbox", summary="Messages for Amazon (shipment confirmations, stock), newest first")
def outbox_list(
    db: Db,
    status: Annotated[MessageStatus | None, Query(description="Only messages in this status.")] = None,
    cursor: CursorParam = None,
    size: SizeParam = 50,
) -> ApiPage[MessageOut]:
    with cursor_checked():
        page = messages_page(db, status=status, cursor=cursor, size=size)
    return page_of(page, MessageOut.of)


@router.get("/outbox/{message_id}", summary="One outbox message with Amazon's answer and every attempt")
def outbox_get(db: Db, message_id: MessageId) -> MessageOut:
    found = message(db, message_id)
    if found is None:
        raise ApiError(404, f"outbox message {message_id} does not exist", field="path.message_id")
    return MessageOut.of(found)


@router.post(
    "/outbox/{message_id}/retry",
    summary="Send a failed or skipped message again",
    dependencies=[require(Permission.ORDERS_WRITE)],
)
def outbox_retry(db: Db, context: Context, principal: CurrentUser, message_id: MessageId) -> MessageOut:
    try:
        retry_message(db, message_id, now=context.clock(), by=principal.actor)
    except OutboxError as error:
        status = 404 if "does not exist" in str(error) else 409
        raise ApiError(status, str(error), field="path.message_id") from None
    db.flush()
    found = message(db, message_id)
    if found is None:  # pragma: no cover - retried just above, in this transaction
        raise ApiError(404, f"outbox message {message_id} does not exist", field="path.message_id")
    return MessageOut.of(found)
