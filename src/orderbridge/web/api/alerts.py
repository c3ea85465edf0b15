"""/api/v1/alerts and /api/v1/quarantine: what needs a person, and retrying quarantined orders."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.queries import QuarantineLine, quarantine_page
from orderbridge.book.alerts import kind_name
from orderbridge.book.queries.attention import AlertLine, open_alerts_page
from orderbridge.web.alert_actions import clear_and_record
from orderbridge.web.api.paging import ApiPage, CursorParam, SizeParam, cursor_checked, page_of
from orderbridge.web.deps import Context, CurrentUser, Db, reads_first, require
from orderbridge.web.problems import ApiError
from orderbridge.web.roles import Permission
from orderbridge.web.subjects import name_subjects, subject_key

router = APIRouter(tags=["attention"], dependencies=[require(Permission.ORDERS_READ)])
RETRY_HOOK = "retry_quarantine"  # WebContext.extras: account id -> report (run passes jobs.tasks')


class AlertOut(BaseModel):
    id: int
    subject: str
    subject_id: int
    kind: str
    kind_name: str = Field(description="The kind in plain words.")
    about: str = Field(description="What it is about: the Amazon order id, the SKU, the account's name.")
    link: str | None = Field(description="The web page that shows what it is about.")
    message: str
    raised_at: datetime


@router.get("/alerts", summary="Open alerts, newest first")
def alerts_list(
    db: Db,
    kind: Annotated[str | None, Query(max_length=60)] = None,
    cursor: CursorParam = None,
    size: SizeParam = 50,
) -> ApiPage[AlertOut]:
    with cursor_checked():
        page = open_alerts_page(db, kind=kind or None, cursor=cursor, size=size)
    names = name_subjects(db, ((line.subject, line.subject_id) for line in page.items))

    def convert(line: AlertLine) -> AlertOut:
        about = names[subject_key(line.subject, line.subject_id)]
        return AlertOut(**line.__dict__, kind_name=kind_name(line.kind), about=about.text, link=about.href)

    return page_of(page, convert)


class ClearIn(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=2**62)]] = Field(
        default_factory=list, max_length=500, description="The open alerts to clear."
    )
    kind: str | None = Field(
        default=None, min_length=1, max_length=60, description="Clear every open alert of this kind."
    )


class ClearOut(BaseModel):
    cleared: int


@router.post(
    "/alerts/clear",
    summary="Clear open alerts: by id, or every open one of a kind (recorded in the audit log)",
    dependencies=[require(Permission.ORDERS_WRITE)],
)
def alerts_clear(db: Db, context: Context, principal: CurrentUser, body: ClearIn) -> ClearOut:
    if bool(body.ids) == (body.kind is not None):
        raise ApiError(422, "give either ids or a kind, not both and not neither", field="ids")
    cleared = clear_and_record(db, ids=body.ids, kind=body.kind, actor=principal.actor, clock=context.clock)
    return ClearOut(cleared=cleared)


class QuarantinedOut(BaseModel):
    id: int
    account: str
    marketplace_id: str
    order_id: str
    version_time: datetime
    reason: str | None
    attempts: int
    processed_at: datetime | None


@router.get("/quarantine", summary="Quarantined Amazon orders and why")
def quarantine_list(db: Db, cursor: CursorParam = None, size: SizeParam = 50) -> ApiPage[QuarantinedOut]:
    with cursor_checked():
        page = quarantine_page(db, cursor=cursor, size=size)

    def convert(line: QuarantineLine) -> QuarantinedOut:
        return QuarantinedOut(**line.__dict__)

    return page_of(page, convert)


class RetryIn(BaseModel):
    account_id: int = Field(ge=1, le=2**62, description="The seller account whose quarantine to retry.")


@router.post(
    "/quarantine/retry",
    summary="Map and book an account's quarantined orders again",
    dependencies=[require(Permission.ORDERS_WRITE)],
)
@reads_first  # the retry writes in transactions of its own, which the request's would keep waiting
def quarantine_retry(db: Db, context: Context, body: RetryIn) -> dict[str, Any]:
    if db.get(SellerAccount, body.account_id) is None:
        raise ApiError(404, f"no seller account {body.account_id}", field="account_id")
    retry = context.extras.get(RETRY_HOOK)
    if retry is None:
        raise ApiError(409, "retrying needs `orderbridge run` (the job runtime is not running here)")
    report: dict[str, Any] = retry(body.account_id)
    return report
