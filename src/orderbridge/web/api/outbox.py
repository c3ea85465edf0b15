"""/api/v1/outbox: messages for Amazon (shipment confirmations, stock) with every attempt, and retrying."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from orderbridge.amazon.outbound.sender import OutboxError, retry_message
from orderbridge.outbox.models import MessageStatus
from orderbridge.outbox.queries import MessageLine, message, messages_page
from orderbridge.web.api.paging import ApiPage, CursorParam, SizeParam, cursor_checked, page_of
from orderbridge.web.deps import Context, CurrentUser, Db, require
from orderbridge.web.problems import ApiError
from orderbridge.web.roles import Permission

router = APIRouter(tags=["outbox"], dependencies=[require(Permission.ORDERS_READ)])
MessageId = Annotated[int, Path(ge=1, le=2**62, description="The outbox message id.")]


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
    order_ref: str | None
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
            order_ref=line.order_ref,
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
