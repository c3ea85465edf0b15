"""The dashboard: what needs a person now, how each Amazon account's sync is doing, and two charts."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from orderbridge.amazon.outbound.sender_pass import ALERT_KIND as REFUSED_BY_AMAZON
from orderbridge.amazon.queries import quarantined_count, sync_health, unconnected_count
from orderbridge.book.alerts import kind_name
from orderbridge.book.queries.attention import open_alert_counts, orders_past_retention
from orderbridge.book.queries.orders import due_counts, orders_per_day
from orderbridge.book.queries.settlements import unreconciled_count
from orderbridge.book.queries.stock import fba_movements_per_day
from orderbridge.book.settlements import UNBALANCED
from orderbridge.clock import as_utc
from orderbridge.outbox.models import MessageKind
from orderbridge.outbox.queries import failed_counts
from orderbridge.privacy.incidents import overdue_incidents
from orderbridge.privacy.sealing import privacy_of
from orderbridge.privacy.sweep.due import amazon_channel_ids
from orderbridge.web.deps import Db, Principal, require, web_context
from orderbridge.web.pages.charts import line_chart
from orderbridge.web.pages.rendering import page
from orderbridge.web.roles import Permission

router = APIRouter(include_in_schema=False)
# Alerts with a tile of their own (counted from the outbox and settlements), not listed twice.
SHOWN_APART = frozenset({REFUSED_BY_AMAZON, UNBALANCED})
CHART_DAYS = 30


@router.get("/", response_class=HTMLResponse)
def dashboard(
    request: Request, session: Db, principal: Annotated[Principal, require(Permission.ORDERS_READ)]
) -> HTMLResponse:
    context = web_context(request)
    now = as_utc(context.clock())
    privacy = privacy_of(session)
    period = privacy.period if privacy is not None else timedelta(days=context.settings.retention_days)
    alerts = open_alert_counts(session)
    failed = failed_counts(session)
    needs = [
        ("Quarantined Amazon orders", quarantined_count(session), "/quarantine"),
        ("Unconnected listings", unconnected_count(session), "/listings?unconnected=1"),
        *[
            (kind_name(kind), n, f"/alerts?kind={quote(kind)}")
            for kind, n in sorted(alerts.items())
            if kind not in SHOWN_APART
        ],
        (
            "Failed shipment confirmations to Amazon",
            failed.get(MessageKind.ORDER_SHIPPED, 0),
            "/outbox?status=failed",
        ),
        (
            "Failed stock updates to Amazon",
            failed.get(MessageKind.STOCK_CHANGED, 0) + failed.get(MessageKind.STOCK_RECOUNT, 0),
            "/outbox?status=failed",
        ),
        ("Unreconciled settlements", unreconciled_count(session), "/settlements?status=unbalanced"),
        (
            "Orders holding buyer data past retention",
            orders_past_retention(session, amazon_channel_ids(session), cutoff=now - period),
            "/privacy",
        ),
        (
            "Security incidents past Amazon's 24-hour deadline",
            len(overdue_incidents(session, clock=context.clock)),
            "/privacy#incidents",
        ),
    ]
    last_day = now.date()
    first_day = last_day - timedelta(days=CHART_DAYS - 1)
    charts = [
        line_chart("Orders per day per marketplace", orders_per_day(session, first=first_day, last=last_day)),
        line_chart(
            "FBA stock movements per day (units)",
            fba_movements_per_day(session, first=first_day, last=last_day),
        ),
    ]
    return page(
        request,
        "pages/dashboard.html",
        {
            "needs": needs,
            "due": due_counts(session, now=now),
            "open_needs": sum(count for _, count, _ in needs),
            "accounts": sync_health(session, now=now),
            "charts": charts,
            "now": now,
        },
    )
