"""The SP-API client: one typed method per operation over call() -> retries -> quota -> LWA token -> send.

A thin httpx client, not python-amazon-sp-api underneath, because that library (SPAPI.md §13) caches
LWA tokens in a module-global TTLCache keyed by refresh token that ignores `expires_in` (so neither a
per-account cache nor expiry on an injected virtual clock is possible), builds the Host header as
`endpoint[8:]` (https only; the sandbox and proxies may be plain http), offers no transport injection
(its clients make their own httpx.Client, so no in-process sandbox), raises on any `errors` body before
response headers such as `x-amzn-RateLimit-Limit` reach a limiter, and has no client-side quotas or
jittered retries. About a dozen operations are needed; their shapes are checked against Amazon's models.

Layering (as httpx: send -> auth -> ...): `call()` runs `_with_retries()` (tenacity, jittered exponential
backoff on 429 / 5xx / no response, Retry-After respected), each attempt runs `_with_quota()` (wait for a
token of the shared bucket; a 429 drains it; learns the rate header), then `_with_token()` (LWA access
token cached per account, refreshed before expiry and once on ExpiredTokenException), then `_send()`.
The quota sits inside the retries because every attempt spends a token at Amazon.
"""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt
from tenacity.wait import wait_random_exponential

from orderbridge.amazon import auth
from orderbridge.amazon.accounts import Credentials
from orderbridge.amazon.calls import CallEvent, CallLog
from orderbridge.amazon.client_types import (
    Document,
    DocumentLink,
    Feed,
    FeedDocumentLink,
    ListingsSubmission,
    OrdersPage,
    OrdersQuery,
    PackageDetail,
    Report,
    ReportsPage,
    ShipmentsPage,
    amazon_time,
    parse_amazon_time,
)
from orderbridge.amazon.errors import AmazonError, AmazonUnavailable, BadPayload, error_for_status
from orderbridge.amazon.quotas import QuotaLimiter
from orderbridge.clock import Clock, utc_now

USER_AGENT = "orderbridge/0.1 (Language=Python)"  # SPAPI.md §2.2: a user-agent is required
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
ORDERS = "/orders/2026-01-01/orders"
ORDERS_V0 = "/orders/v0/orders"
REPORTS = "/reports/2021-06-30"
FEEDS = "/feeds/2021-06-30"
INBOUND = "/fba/inbound/v0"
ModelT = TypeVar("ModelT", bound=BaseModel)


@dataclass(frozen=True)
class RetryPolicy:
    """Attempts per call and the jittered exponential backoff between them (seconds)."""

    attempts: int = 5
    base: float = 1.0
    cap: float = 60.0


@dataclass(frozen=True)
class Request:
    operation: str
    method: str
    path: str
    params: Mapping[str, str] | None = None
    body: Any = None


class SpApiClient:
    """SP-API for one seller account. Inject `transport` (sandbox, mocks), `clock` and `sleep` in tests."""

    def __init__(
        self,
        creds: Credentials,
        *,
        quotas: QuotaLimiter,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        calls: CallLog | None = None,
        tokens: auth.TokenCache | None = None,
        retry: RetryPolicy = RetryPolicy(),
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self.creds = creds
        self.quotas = quotas
        self.calls = calls or CallLog()
        self.tokens = tokens or auth.TokenCache()
        self.retry = retry
        self._clock = clock
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, timeout=timeout, headers={"user-agent": USER_AGENT})
        self._attempt = 0

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SpApiClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- Orders v2026-01-01 and v0 confirmShipment --------------------------------------------------

    def search_orders(self, query: OrdersQuery, *, pagination_token: str | None = None) -> OrdersPage:
        """One searchOrders page; a follow-up page repeats the query with the page's token."""
        params = query.params()
        if pagination_token is not None:
            params["paginationToken"] = pagination_token
        body = self._json(self.call(Request("searchOrders", "GET", ORDERS, params)))
        orders = body.get("orders")
        if not isinstance(orders, list) or not all(_is_order(o) for o in orders):
            raise BadPayload("searchOrders", 200, "orders is not a list of orders with id and times")
        pagination = body.get("pagination") or {}
        token = pagination.get("nextToken") if isinstance(pagination, dict) else None
        return OrdersPage(
            orders,
            token if isinstance(token, str) and token else None,
            _time_or_none(body, "lastUpdatedBefore", "searchOrders"),
            _time_or_none(body, "createdBefore", "searchOrders"),
        )

    def search_orders_pages(self, query: OrdersQuery) -> Iterator[OrdersPage]:
        """Every page of one search, following nextToken."""
        page = self.search_orders(query)
        yield page
        while page.next_token:
            page = self.search_orders(query, pagination_token=page.next_token)
            yield page

    def get_order(
        self, order_id: str, *, included_data: Sequence[str] = OrdersQuery.included_data
    ) -> dict[str, Any]:
        """getOrder v2026-01-01: the raw order with the includedData sections."""
        params = {"includedData": ",".join(included_data)} if included_data else None
        body = self._json(self.call(Request("getOrder", "GET", f"{ORDERS}/{_seg(order_id)}", params)))
        order = body.get("order")
        if not isinstance(order, dict) or not _is_order(order):
            raise BadPayload("getOrder", 200, "the answer holds no order with id and times")
        return order

    def confirm_shipment(self, order_id: str, marketplace_id: str, package: PackageDetail) -> None:
        """v0 confirmShipment (204; also edits an already confirmed package; SPAPI.md §4.4)."""
        body = {"marketplaceId": marketplace_id, "packageDetail": package.body()}
        path = f"{ORDERS_V0}/{_seg(order_id)}/shipmentConfirmation"
        self.call(Request("confirmShipment", "POST", path, body=body))

    def create_restricted_data_token(self, resources: Sequence[Mapping[str, Any]]) -> auth.AccessToken:
        """Tokens API: an RDT for v0 restricted resources (SPAPI.md §6)."""
        request = Request(
            "createRestrictedDataToken",
            "POST",
            "/tokens/2021-03-01/restrictedDataToken",
            body={"restrictedResources": list(resources)},
        )
        body = self._json(self.call(request))
        token, expires = body.get("restrictedDataToken"), body.get("expiresIn")
        if not isinstance(token, str) or not isinstance(expires, int):
            raise BadPayload("createRestrictedDataToken", 200, "no restrictedDataToken and expiresIn")
        return auth.AccessToken(token, self._now() + timedelta(seconds=expires))

    # -- Reports 2021-06-30 -----------------------------------------------------------------------

    def create_report(
        self,
        report_type: str,
        marketplace_ids: Sequence[str],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        options: Mapping[str, str] | None = None,
    ) -> str:
        """Request a report; returns its reportId."""
        body: dict[str, Any] = {"reportType": report_type, "marketplaceIds": list(marketplace_ids)}
        if start is not None:
            body["dataStartTime"] = amazon_time(start)
        if end is not None:
            body["dataEndTime"] = amazon_time(end)
        if options:
            body["reportOptions"] = dict(options)
        answer = self._json(self.call(Request("createReport", "POST", f"{REPORTS}/reports", body=body)))
        return _str(answer, "reportId", "createReport")

    def get_report(self, report_id: str) -> Report:
        path = f"{REPORTS}/reports/{_seg(report_id)}"
        return self._model(Report, self.call(Request("getReport", "GET", path)))

    def get_reports(
        self,
        report_types: Sequence[str] = (),
        *,
        statuses: Sequence[str] = (),
        marketplace_ids: Sequence[str] = (),
        created_since: datetime | None = None,
        page_size: int = 100,
        next_token: str | None = None,
    ) -> ReportsPage:
        """One getReports page; with `next_token` that is the only parameter sent (SPAPI.md §7)."""
        params: dict[str, str] = {}
        if next_token is not None:
            params["nextToken"] = next_token
        else:
            params["reportTypes"] = ",".join(report_types)
            params["pageSize"] = str(page_size)
            if statuses:
                params["processingStatuses"] = ",".join(statuses)
            if marketplace_ids:
                params["marketplaceIds"] = ",".join(marketplace_ids)
            if created_since is not None:
                params["createdSince"] = amazon_time(created_since)
        response = self.call(Request("getReports", "GET", f"{REPORTS}/reports", params))
        return self._model(ReportsPage, response)

    def get_report_document(self, document_id: str) -> DocumentLink:
        path = f"{REPORTS}/documents/{_seg(document_id)}"
        return self._model(DocumentLink, self.call(Request("getReportDocument", "GET", path)))

    def download(self, url: str, *, compression: str | None = None) -> Document:
        """Fetch a pre-signed document URL (S3, no token, no quota) and gunzip it if it says GZIP."""
        response = self._with_retries(Request("download", "GET", url), self._send_plain)
        data = response.content
        if compression == "GZIP" or data[:2] == b"\x1f\x8b":
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError, zlib.error):
                raise BadPayload("download", response.status_code, "the document is not valid gzip") from None
        return Document(data, response.charset_encoding)

    def download_report(self, document_id: str) -> Document:
        """getReportDocument, then its download (the URL lives 5 minutes, so fetched right away)."""
        link = self.get_report_document(document_id)
        return self.download(link.url, compression=link.compression_algorithm)

    # -- Fulfillment Inbound v0 ---------------------------------------------------------------------

    def get_shipments(
        self, marketplace_id: str, *, params: Mapping[str, str], next_token: str | None = None
    ) -> ShipmentsPage:
        """getShipments; `params` holds QueryType and its filters (ShipmentStatusList, LastUpdatedAfter)."""
        query = {"MarketplaceId": marketplace_id, **params}
        if next_token is not None:
            query = {"MarketplaceId": marketplace_id, "QueryType": "NEXT_TOKEN", "NextToken": next_token}
        response = self.call(Request("getShipments", "GET", f"{INBOUND}/shipments", query))
        return _v0_page(self._json(response), "ShipmentData", "getShipments")

    def get_shipment_items(self, shipment_id: str, marketplace_id: str) -> list[dict[str, Any]]:
        """getShipmentItemsByShipmentId: the shipment's ItemData rows (QuantityShipped / Received)."""
        path = f"{INBOUND}/shipments/{_seg(shipment_id)}/items"
        request = Request("getShipmentItemsByShipmentId", "GET", path, {"MarketplaceId": marketplace_id})
        return _v0_page(self._json(self.call(request)), "ItemData", request.operation).rows

    # -- Listings Items 2021-08-01 and Feeds 2021-06-30 ---------------------------------------------

    def patch_listings_item(
        self,
        sku: str,
        marketplace_ids: Sequence[str],
        product_type: str,
        patches: Sequence[Mapping[str, Any]],
    ) -> ListingsSubmission:
        path = f"/listings/2021-08-01/items/{_seg(self.creds.selling_partner_id)}/{_seg(sku)}"
        params = {"marketplaceIds": ",".join(marketplace_ids)}
        body = {"productType": product_type, "patches": list(patches)}
        response = self.call(Request("patchListingsItem", "PATCH", path, params, body))
        return self._model(ListingsSubmission, response)

    def create_feed_document(self, content_type: str) -> FeedDocumentLink:
        body = {"contentType": content_type}
        response = self.call(Request("createFeedDocument", "POST", f"{FEEDS}/documents", body=body))
        return self._model(FeedDocumentLink, response)

    def upload_feed_document(self, link: FeedDocumentLink, content: bytes, content_type: str) -> None:
        """PUT the feed to its pre-signed URL (no token, no quota)."""
        request = Request("upload", "PUT", link.url, body=(content, content_type))
        self._with_retries(request, self._send_plain)

    def create_feed(
        self,
        feed_type: str,
        marketplace_ids: Sequence[str],
        document_id: str,
        *,
        options: Mapping[str, str] | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "feedType": feed_type,
            "marketplaceIds": list(marketplace_ids),
            "inputFeedDocumentId": document_id,
        }
        if options:
            body["feedOptions"] = dict(options)
        return _str(
            self._json(self.call(Request("createFeed", "POST", f"{FEEDS}/feeds", body=body))),
            "feedId",
            "createFeed",
        )

    def get_feed(self, feed_id: str) -> Feed:
        return self._model(Feed, self.call(Request("getFeed", "GET", f"{FEEDS}/feeds/{_seg(feed_id)}")))

    def get_feed_document(self, document_id: str) -> FeedDocumentLink:
        path = f"{FEEDS}/documents/{_seg(document_id)}"
        return self._model(FeedDocumentLink, self.call(Request("getFeedDocument", "GET", path)))

    # -- the layers ---------------------------------------------------------------------------------

    def call(self, request: Request, *, token: str | None = None) -> httpx.Response:
        """One SP-API operation with everything around it; `token` sends an RDT instead of LWA's."""
        return self._with_retries(request, lambda r: self._with_quota(r, token))

    def _with_retries(self, request: Request, attempt: Callable[[Request], httpx.Response]) -> httpx.Response:
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._backoff,
            retry=retry_if_exception(lambda e: isinstance(e, AmazonError) and e.retryable),
            sleep=self._sleep,
            reraise=True,
        )
        for state in retrying:
            with state:
                self._attempt = state.retry_state.attempt_number
                return attempt(request)
        raise AssertionError("unreachable: tenacity re-raises the last error")  # pragma: no cover

    def _backoff(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, AmazonError) and error.retry_after is not None:
            return min(error.retry_after, self.retry.cap)
        return float(wait_random_exponential(multiplier=self.retry.base, max=self.retry.cap)(state))

    def _with_quota(self, request: Request, token: str | None) -> httpx.Response:
        partner, region = self.creds.selling_partner_id, self.creds.region
        while (wait := self.quotas.acquire(partner, region, request.operation)) > 0:
            self._sleep(wait)
        response = self._with_token(request, token)
        if response.status_code == 429:
            self.quotas.drain(partner, region, request.operation)
        else:
            self.quotas.learn(
                partner, region, request.operation, response.headers.get("x-amzn-RateLimit-Limit")
            )
        _raise_for_status(request.operation, response)
        return response

    def _with_token(self, request: Request, rdt: str | None) -> httpx.Response:
        if rdt is not None:
            return self._send(request, rdt)
        response = self._send(request, self._access_token())
        if (
            response.status_code == 403
            and response.headers.get("x-amzn-ErrorType") == "ExpiredTokenException"
        ):
            self.tokens.forget(self.creds)  # the hour ran out sooner than we counted: refresh once
            response = self._send(request, self._access_token())
        return response

    def _access_token(self) -> str:
        token = self.tokens.get(self.creds, self._now())
        if token is None:
            response = self._exchange(auth.token_request(self.creds))
            token = auth.read_token(response, self._now())
            self.tokens.put(self.creds, token)
        return token.value

    def _send(self, request: Request, token: str) -> httpx.Response:
        headers = {"x-amz-access-token": token, "x-amz-date": time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())}
        built = self._http.build_request(
            request.method,
            self.creds.endpoint + request.path,
            params=request.params,
            json=request.body,
            headers=headers,
            extensions={"operation": request.operation},
        )
        return self._exchange(built, request.operation)

    def _send_plain(self, request: Request) -> httpx.Response:
        content, kind = request.body if request.body is not None else (None, None)
        headers = {"content-type": kind} if kind else None
        built = self._http.build_request(
            request.method,
            request.path,
            content=content,
            headers=headers,
            extensions={"operation": request.operation},
        )
        response = self._exchange(built, request.operation)
        _raise_for_status(request.operation, response)
        return response

    def _exchange(self, built: httpx.Request, operation: str = auth.LWA) -> httpx.Response:
        """Send, time, log and count one HTTP exchange; no response becomes AmazonUnavailable."""
        started = time.perf_counter()
        try:
            response = self._http.send(built)
            response.read()
        except httpx.TransportError as error:
            self._record(operation, 0, started, "", type(error).__name__)
            raise AmazonUnavailable(operation, 0, f"no response ({type(error).__name__})") from error
        code = response.headers.get("x-amzn-ErrorType", "") if response.status_code >= 400 else ""
        self._record(
            operation, response.status_code, started, response.headers.get("x-amzn-RequestId", ""), code
        )
        return response

    def _record(self, operation: str, status: int, started: float, request_id: str, code: str) -> None:
        elapsed = (time.perf_counter() - started) * 1000.0
        self.calls.record(
            CallEvent(
                self._now(),
                self.creds.selling_partner_id,
                self.creds.region,
                operation,
                status,
                elapsed,
                self._attempt or 1,
                request_id,
                code,
            )
        )

    def _now(self) -> datetime:
        return self._clock()

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            raise BadPayload(_operation(response), response.status_code, "the answer is not JSON") from None
        if not isinstance(body, dict):
            raise BadPayload(_operation(response), response.status_code, "the answer is not a JSON object")
        return body

    def _model(self, model: type[ModelT], response: httpx.Response) -> ModelT:
        body = self._json(response)
        try:
            return model.model_validate(body)
        except ValidationError as error:
            fields = sorted({".".join(map(str, e["loc"])) for e in error.errors()})
            raise BadPayload(_operation(response), response.status_code, f"bad fields {fields}") from None


def _operation(response: httpx.Response) -> str:
    return str(response.request.extensions.get("operation", "sp-api"))


def _raise_for_status(operation: str, response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    code, message = "", "Amazon refused the call"
    try:
        errors = response.json().get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            code = str(errors[0].get("code", ""))
            message = str(errors[0].get("message", message))[:200]
    except (ValueError, AttributeError):
        pass
    raise error_for_status(
        operation,
        response.status_code,
        message,
        code=code,
        request_id=response.headers.get("x-amzn-RequestId", ""),
        retry_after=_retry_after(response.headers.get("Retry-After")),
    )


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (Amazon does not send it on 429, SPAPI.md §3.2; proxies may)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


def _seg(value: str) -> str:
    return quote(value, safe="")


def _is_order(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("orderId"), str)
        and isinstance(value.get("lastUpdatedTime"), str)
        and isinstance(value.get("orderItems"), list)
    )


def _str(body: Mapping[str, Any], name: str, operation: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise BadPayload(operation, 200, f"the answer has no {name}")
    return value


def _time_or_none(body: Mapping[str, Any], name: str, operation: str) -> datetime | None:
    value = body.get(name)
    if value is None:
        return None
    try:
        return parse_amazon_time(str(value))
    except ValueError:
        raise BadPayload(operation, 200, f"{name} is not an ISO 8601 time") from None


def _v0_page(body: Mapping[str, Any], key: str, operation: str) -> ShipmentsPage:
    payload = body.get("payload")
    rows = payload.get(key) if isinstance(payload, dict) else None
    if not isinstance(payload, dict) or not isinstance(rows, list):
        raise BadPayload(operation, 200, f"payload.{key} is not a list")
    token = payload.get("NextToken")
    return ShipmentsPage(rows, token if isinstance(token, str) and token else None)
