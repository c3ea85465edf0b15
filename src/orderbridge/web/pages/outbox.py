"""The outbox: what the book told (or still has to tell) Amazon, by status, with retrying failed messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from orderbridge.amazon.outbound.sender import OutboxError, retry_message
from orderbridge.book.errors import BookError
from orderbridge.outbox.models import MessageStatus
from orderbridge.outbox.queries import message, messages_page, parse_status
from orderbridge.web.deps import Db, Principal, require, web_context
from orderbridge.web.pages.rendering import back_to, page, pager
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
Reader = Annotated[Principal, require(Permission.ORDERS_READ)]
RecordId = Annotated[int, Path(ge=1, le=2**62)]  # beyond BIGINT is a bad address, never a store error
Writer = Annotated[Principal, require(Permission.ORDERS_WRITE)]


@router.get("/outbox", response_class=HTMLResponse)
def outbox(request: Request, session: Db, principal: Reader) -> Response:
    shown = request.query_params.get("status", "")
    try:
        status = parse_status(shown)
        found = messages_page(session, status=status, cursor=request.query_params.get("cursor"))
    except (ValueError, BookError) as error:
        return back_to("/outbox", problem=str(error))
    return page(
        request,
        "pages/outbox.html",
        {
            "found": found,
            "links": pager(request, found),
            "status": shown,
            "statuses": list(MessageStatus),
            "can_retry": principal.can(Permission.ORDERS_WRITE),
        },
    )


@router.get("/outbox/{message_id}", response_class=HTMLResponse)
def message_page(message_id: RecordId, request: Request, session: Db, principal: Reader) -> Response:
    found = message(session, message_id)
    if found is None:
        raise HTTPException(404, f"outbox message {message_id} does not exist")
    return page(
        request,
        "pages/outbox_message.html",
        {"m": found, "can_retry": principal.can(Permission.ORDERS_WRITE)},
    )


def _safe_next(value: str, message_id: int) -> str:
    """Only back to a page of this site (an order page or the outbox), never elsewhere."""
    if value.startswith(("/orders/", "/outbox")) and "//" not in value and "\\" not in value:
        return value
    return f"/outbox/{message_id}"


@router.post("/outbox/{message_id}/retry")
def retry(
    message_id: RecordId,
    request: Request,
    session: Db,
    principal: Writer,
    *,
    next_page: Annotated[str, Form(alias="next", max_length=200)] = "",
) -> RedirectResponse:
    """Send a failed or skipped message again (the sender picks it up on its next pass)."""
    target = _safe_next(next_page, message_id)
    try:
        retry_message(session, message_id, now=web_context(request).clock(), by=principal.actor)
    except OutboxError as error:
        return back_to(target, problem=str(error))
    return back_to(target, f"message {message_id} queued to be sent again")
