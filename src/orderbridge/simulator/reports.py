"""Reports API 2021-06-30: create / get / list reports, documents with pre-signed URLs, 14-day settlements."""

from __future__ import annotations

import gzip
import random
import secrets
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from orderbridge.simulator import report_formats
from orderbridge.simulator.clock import iso, parse_iso
from orderbridge.simulator.errors import invalid_input, not_found
from orderbridge.simulator.report_formats import Scope
from orderbridge.simulator.report_headers import SETTLEMENT
from orderbridge.simulator.routing import Ctx, Route, json_response, parse_int
from orderbridge.simulator.world import Scheduled, World

BASE = "/reports/2021-06-30"
DAY = 86400.0
SETTLEMENT_ANCHOR = parse_iso("2025-12-29T00:00:00Z")  # periods start every 14 days from here
URL_LIFETIME = 300.0  # SPAPI.md §7: the document URL expires after 5 minutes
KEEP = 90 * DAY  # reports are kept at most 90 days


@dataclass
class Report:
    """A report as getReport shows it, plus its scope."""

    report_id: str
    report_type: str
    seller_id: str
    marketplace_ids: list[str]
    created: float
    start: float
    end: float
    status: str = "IN_QUEUE"
    started: float | None = None
    finished: float | None = None
    document_id: str = ""
    options: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "reportId": self.report_id,
            "reportType": self.report_type,
            "marketplaceIds": self.marketplace_ids,
            "dataStartTime": iso(self.start),
            "dataEndTime": iso(self.end),
            "createdTime": iso(self.created),
            "processingStatus": self.status,
        }
        if self.started is not None:
            out["processingStartTime"] = iso(self.started)
        if self.finished is not None:
            out["processingEndTime"] = iso(self.finished)
        if self.document_id:
            out["reportDocumentId"] = self.document_id
        return out


@dataclass
class Document:
    seller_id: str
    content: bytes
    gzipped: bool


class ReportStore:
    """Reports and documents; settlements appear on their own every settlement period (14 days unless
    the world says otherwise), per seller and marketplace."""

    def __init__(self) -> None:
        self.reports: dict[str, Report] = {}
        self.documents: dict[str, Document] = {}
        self.settled: dict[str, float] = {}
        self.rng = random.Random(0)
        self.world = World(now=0.0)

    def attach(self, world: World) -> None:
        self.reports.clear()
        self.documents.clear()
        self.settled.clear()
        self.world = world
        # Ids come from the store's own random source so that reading reports never shifts the world's,
        # seeded by where the world is so that a sandbox restarted on a saved world never repeats an id.
        self.rng = random.Random(f"{len(world.accounts)}:{world.now:.0f}:{len(world.orders)}")
        world.handlers["report"] = self._on_step
        if self._settle not in world.listeners:
            world.listeners.append(self._settle)
        self._settle(world)

    def _next_id(self) -> str:
        return str(self.rng.randint(10**10, 10**11 - 1))

    def create(
        self,
        seller_id: str,
        report_type: str,
        marketplace_ids: list[str],
        start: float,
        end: float,
        *,
        options: dict[str, str] | None = None,
    ) -> Report:
        world = self.world
        report = Report(self._next_id(), report_type, seller_id, marketplace_ids, world.now, start, end)
        report.options = dict(options or {})
        self.reports[report.report_id] = report
        world.schedule(world.now + 30, "report", report.report_id)
        return report

    def _on_step(self, world: World, event: Scheduled) -> None:
        report = self.reports.get(event.key)
        if report is None or report.status not in ("IN_QUEUE", "IN_PROGRESS"):
            return
        if report.status == "IN_QUEUE":
            report.status, report.started = "IN_PROGRESS", world.now
            world.schedule(world.now + 30, "report", report.report_id)
            return
        scope = Scope(
            report.seller_id,
            frozenset(report.marketplace_ids),
            report.start,
            report.end,
            tuple(sorted(report.options.items())),
            report.marketplace_ids[0],
        )
        rows = report_formats.BUILDERS[report.report_type](world, scope)
        report.finished = world.now
        if not rows:
            report.status = "CANCELLED"  # SPAPI.md §7: automatic cancellation when there is no data
            return
        report.document_id = self._store(
            report.seller_id, report_formats.to_tsv(report.report_type, rows), True
        )
        report.status = "DONE"

    def _store(self, seller_id: str, content: bytes, compress: bool) -> str:
        document_id = f"amzn1.spdoc.1.4.na.{secrets.token_hex(16)}"
        data = gzip.compress(content, compresslevel=5, mtime=0) if compress else content
        self.documents[document_id] = Document(seller_id, data, compress)
        return document_id

    def _settle(self, world: World) -> None:
        """Write every settlement whose period has ended (never requested, only listed). Periods run every
        `world.settlement_days` from SETTLEMENT_ANCHOR; a period without money moving has no settlement."""
        period = world.settlement_days * DAY
        for account in world.accounts.values():
            done = self.settled.get(account.seller_id)
            if done is None:
                first = min(
                    (e.ts for e in world.financial_events if e.seller_id == account.seller_id),
                    default=world.now,
                )
                since = max(first, world.now - KEEP)
                done = SETTLEMENT_ANCHOR + ((since - SETTLEMENT_ANCHOR) // period) * period
            while done + period <= world.now:
                start, end = done, done + period
                for marketplace_id in account.marketplace_ids:
                    self._settlement(world, account.seller_id, marketplace_id, start, end)
                done = end
            self.settled[account.seller_id] = done

    def _settlement(
        self, world: World, seller_id: str, marketplace_id: str, start: float, end: float
    ) -> None:
        # Ids follow from the seller, marketplace and period: a sandbox restarted on the same world
        # publishes the same settlement under the same ids, as Amazon never rewrites one.
        ids = random.Random(f"settlement:{seller_id}:{marketplace_id}:{start:.0f}:{end:.0f}")
        settlement_id = str(ids.randint(10**10, 10**11 - 1))
        scope = Scope(seller_id, frozenset([marketplace_id]), start, end, marketplace_id=marketplace_id)
        rows = report_formats.settlement(world, scope, settlement_id)
        if len(rows) < 2:
            return  # nothing sold, refunded or charged in the period
        report = Report(
            str(ids.randint(10**10, 10**11 - 1)),
            SETTLEMENT,
            seller_id,
            [marketplace_id],
            end,
            start,
            end,
            "DONE",
            end,
            end,
        )
        report.document_id = self._store(seller_id, report_formats.to_tsv(SETTLEMENT, rows), False)
        self.reports[report.report_id] = report


def _report(ctx: Ctx) -> Report:
    report = ctx.sandbox.reports.reports.get(ctx.params["reportId"])
    if report is None or report.seller_id != ctx.principal.seller_id:
        raise not_found(f"Report {ctx.params['reportId']} was not found.")
    return report


async def create_report(ctx: Ctx) -> Response:
    body = await ctx.json_body()
    report_type, marketplaces = body.get("reportType"), body.get("marketplaceIds")
    if not report_type or not isinstance(marketplaces, list) or not marketplaces:
        raise invalid_input("reportType and marketplaceIds are required.")
    if report_type == SETTLEMENT:
        raise invalid_input("Settlement reports cannot be requested or scheduled; use getReports.")
    if report_type not in report_formats.BUILDERS:
        raise invalid_input(f"Report type {report_type} is not supported by the sandbox.")
    account = ctx.sandbox.world.accounts[ctx.principal.seller_id]
    if any(m not in account.marketplace_ids for m in marketplaces):
        raise invalid_input("Invalid marketplaceIds.")
    end = parse_iso(body["dataEndTime"]) if body.get("dataEndTime") else ctx.now
    start = parse_iso(body["dataStartTime"]) if body.get("dataStartTime") else end - 30 * DAY
    options = body.get("reportOptions") or {}
    if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
        raise invalid_input("reportOptions must be an object of strings.")
    if report_type == SUMMARY:
        _check_summary_options(options)
    report = ctx.sandbox.reports.create(
        ctx.principal.seller_id, report_type, marketplaces, start, end, options=options
    )
    return json_response({"reportId": report.report_id}, 202)


SUMMARY = "GET_LEDGER_SUMMARY_VIEW_DATA"
SUMMARY_OPTIONS = {
    "aggregateByLocation": ("COUNTRY", "FC"),
    "aggregatedByTimePeriod": ("DAILY", "WEEKLY", "MONTHLY"),
}


def _check_summary_options(options: dict[str, str]) -> None:
    """SPAPI.md §8.3: the summary view's reportOptions; the sandbox aggregates by day only."""
    for name, value in options.items():
        allowed = SUMMARY_OPTIONS.get(name)
        if allowed is None or value not in allowed:
            raise invalid_input(f"reportOptions {name}={value!r} is not valid for {SUMMARY}.")
    if options.get("aggregatedByTimePeriod", "DAILY") != "DAILY":
        raise invalid_input("The sandbox serves aggregatedByTimePeriod DAILY only.")


async def get_report(ctx: Ctx) -> Response:
    return json_response(_report(ctx).body())


async def cancel_report(ctx: Ctx) -> Response:
    report = _report(ctx)
    if report.status in ("IN_QUEUE", "IN_PROGRESS"):
        report.status = "CANCELLED"
    return Response(status_code=200)


async def get_reports(ctx: Ctx) -> Response:
    store = ctx.sandbox.reports
    token = ctx.q("nextToken")
    if token is not None:
        # SPAPI.md §7: on follow-up pages nextToken must be the only parameter.
        if len(ctx.request.query_params) != 1 or token not in store.reports:
            raise invalid_input("nextToken must be the only parameter and must be valid.")
        params: dict[str, Any] = dict(ctx.sandbox.pages.report_queries.get(token, {}))
    else:
        types = ctx.qlist("reportTypes")
        if not types:
            raise invalid_input("reportTypes or nextToken is required.")
        params = {
            "types": types,
            "statuses": ctx.qlist("processingStatuses"),
            "markets": ctx.qlist("marketplaceIds"),
            "since": parse_iso(ctx.q("createdSince") or iso(ctx.now - KEEP)),
            "until": parse_iso(ctx.q("createdUntil") or iso(ctx.now)),
            "size": parse_int(ctx.q("pageSize"), "pageSize", 1, 100, 10),
            "after": None,
        }
    found = sorted(
        (
            r
            for r in store.reports.values()
            if r.seller_id == ctx.principal.seller_id
            and r.report_type in params["types"]
            and params["since"] <= r.created <= params["until"]
            and (not params["statuses"] or r.status in params["statuses"])
            and (not params["markets"] or set(r.marketplace_ids) & set(params["markets"]))
        ),
        key=lambda r: (-r.created, r.report_id),
    )
    if params["after"] is not None:
        found = found[[r.report_id for r in found].index(params["after"]) + 1 :]
    page = found[: params["size"]]
    out: dict[str, Any] = {"reports": [r.body() for r in page]}
    if len(found) > len(page):
        out["nextToken"] = page[-1].report_id
        ctx.sandbox.pages.report_queries[page[-1].report_id] = {**params, "after": page[-1].report_id}
    return json_response(out)


async def get_report_document(ctx: Ctx) -> Response:
    store = ctx.sandbox.reports
    document_id = ctx.params["reportDocumentId"]
    document = store.documents.get(document_id)
    if document is None or document.seller_id != ctx.principal.seller_id:
        raise not_found(f"Report document {document_id} was not found.")
    base = ctx.document_base()
    url = f"{base}/_sandbox/documents/{document_id}?expires={int(ctx.now + URL_LIFETIME)}"
    if ctx.q("enableContentEncodingUrlHeader") == "true":
        url += "&contentEncoding=gzip"  # SPAPI.md §7: S3 then answers with Content-Encoding: gzip
    out = {"reportDocumentId": document_id, "url": url}
    if document.gzipped:
        out["compressionAlgorithm"] = "GZIP"
    return json_response(out)


async def download(ctx: Ctx) -> Response:
    """The pre-signed document URL (S3's part, not an SP-API operation)."""
    document = ctx.sandbox.reports.documents.get(ctx.params["documentId"])
    expires = ctx.q("expires") or "0"
    if document is None:
        return Response(b"NoSuchKey", status_code=404, media_type="application/xml")
    if not expires.isdigit() or int(expires) < ctx.now:
        return Response(
            b"<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>",
            status_code=403,
            media_type="application/xml",
        )
    data = ctx.sandbox.faults.damage_document(document.content)
    headers = (
        {"Content-Encoding": "gzip"} if document.gzipped and ctx.q("contentEncoding") == "gzip" else None
    )
    return Response(data, media_type="text/plain; charset=UTF-8", headers=headers)


def routes() -> list[Route]:
    return [
        Route("POST", BASE + "/reports", "createReport", create_report),
        Route("GET", BASE + "/reports", "getReports", get_reports),
        Route("GET", BASE + "/reports/{reportId}", "getReport", get_report),
        Route("DELETE", BASE + "/reports/{reportId}", "cancelReport", cancel_report),
        Route("GET", BASE + "/documents/{reportDocumentId}", "getReportDocument", get_report_document),
        Route("GET", "/_sandbox/documents/{documentId}", "admin", download, admin=True),
    ]
