"""The SP-API client: one typed method per operation over call() -> retries -> quota -> LWA token -> send.

A thin httpx client, not python-amazon-sp-api underneath, because that library (SPAPI.md §13) caches
LWA tokens in a module-global TTLCache keyed by refresh token that ignores `expires_in` (so neither a
per-account cache nor expiry on an injected virtual clock is possible), builds the Host header as
`endpoint[8:]` (https only; the sandbox and proxies may be plain http), offers no transport injection
(its clients make their own httpx.Client, so no in-process sandbox), raises on any `errors` body before
response headers such as `x-amzn-RateLimit-Limit` reach a limiter, and has no client-side quotas or
jittered retries. About a dozen operations are needed; their shapes are checked against Amazon's models.

The call path under every method lives in `layers.py`: call() -> retries (tenacity, jittered
backoff, Retry-After) -> quota (the shared bucket in the store) -> LWA token (per account) -> send.
"""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx

from orderbridge.amazon.api import auth
from orderbridge.amazon.api.inbound_types import InboundShipmentInfo, InboundShipmentItem, parse_rows
from orderbridge.amazon.api.layers import (
    TIMEOUT,
    USER_AGENT,
    CallLayers,
    Request,
    RetryPolicy,
    _raise_for_status,
)
from orderbridge.amazon.api.types import (
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
from orderbridge.amazon.errors import AmazonUnavailable, BadPayload

__all__ = ["TIMEOUT", "USER_AGENT", "Request", "RetryPolicy", "SpApiClient"]
ORDERS = "/orders/2026-01-01/orders"
ORDERS_V0 = "/orders/v0/orders"
REPORTS = "/reports/2021-06-30"
FEEDS = "/feeds/2021-06-30"
INBOUND = "/fba/inbound/v0"


class SpApiClient(CallLayers):
    """SP-API for one seller account: one typed method per operation orderbridge uses.

    Build it with the account's `Credentials`, the shared `QuotaLimiter` and optionally a `CallLog`
    (stored), a `TokenCache`, `RetryPolicy`, `transport` (sandbox, mocks), `clock` and `sleep`.
    """

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

    def orders_updated_since(
        self,
        after: datetime,
        *,
        until: datetime | None = None,
        marketplace_ids: Sequence[str] | None = None,
        included_data: Sequence[str] = OrdersQuery.included_data,
    ) -> Iterator[OrdersPage]:
        """Pages of every order changed after `after` (and, if given, before `until`, which Amazon wants
        at least two minutes in the past). Each page's `high_water_mark` is where the next run can start."""
        query = OrdersQuery(
            marketplace_ids=self.creds.marketplace_ids if marketplace_ids is None else marketplace_ids,
            last_updated_after=after,
            last_updated_before=until,
            included_data=included_data,
        )
        return self.search_orders_pages(query)

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

    def reports_pages(
        self,
        report_types: Sequence[str],
        *,
        statuses: Sequence[str] = (),
        created_since: datetime | None = None,
        page_size: int = 100,
    ) -> Iterator[ReportsPage]:
        """Every getReports page (settlements are found this way; SPAPI.md §7)."""
        page = self.get_reports(
            report_types, statuses=statuses, created_since=created_since, page_size=page_size
        )
        yield page
        while page.next_token:
            page = self.get_reports(next_token=page.next_token)
            yield page

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

    def download_to(self, url: str, target: BinaryIO, *, compression: str | None = None) -> str | None:
        """Stream a pre-signed document URL into `target`, gunzipping on the fly, in constant memory
        whatever its size; returns the charset the server declared. A retry starts the file again."""
        request = Request("download", "GET", url)
        charset: list[str | None] = [None]

        def attempt(_: Request) -> httpx.Response:
            target.seek(0)
            target.truncate()
            response, charset[0] = self._stream_into(url, target, compression=compression)
            return response

        self._with_retries(request, attempt)
        return charset[0]

    def _stream_into(
        self, url: str, target: BinaryIO, *, compression: str | None
    ) -> tuple[httpx.Response, str | None]:
        unzip: Any = None
        started = time.perf_counter()
        try:
            with self._http.stream("GET", url, extensions={"operation": "download"}) as response:
                self._record("download", response.status_code, started, "", "")
                if response.status_code >= 400:
                    response.read()
                    _raise_for_status("download", response)
                for chunk in _raw_chunks(response):
                    if unzip is None:
                        # Raw bytes are gzip when the document is GZIP or S3 sent Content-Encoding: gzip;
                        # the magic number decides (a transport may have decoded them already).
                        unzip = zlib.decompressobj(15 + 32) if chunk[:2] == b"\x1f\x8b" else False
                    target.write(unzip.decompress(chunk) if unzip else chunk)
                if unzip:
                    target.write(unzip.flush())
                    if not unzip.eof:
                        raise BadPayload("download", response.status_code, "the document's gzip is cut short")
                return response, response.charset_encoding
        except zlib.error:
            raise BadPayload("download", 200, "the document is not valid gzip") from None
        except httpx.TransportError as error:
            self._record("download", 0, started, "", type(error).__name__)
            raise AmazonUnavailable("download", 0, f"no response ({type(error).__name__})") from error

    def wait_for_report(self, report_id: str, *, poll: float = 30.0, limit: float = 4 * 3600.0) -> Report:
        """Poll getReport (2 rps, so cheap) until DONE / CANCELLED / FATAL; sleeps on the injected clock."""
        waited = 0.0
        report = self.get_report(report_id)
        while not report.finished:
            if waited >= limit:
                raise AmazonUnavailable(
                    "getReport", 0, f"report {report_id} not finished after {limit:.0f} s"
                )
            self._sleep(poll)
            waited += poll
            report = self.get_report(report_id)
        return report

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

    def shipments_pages(self, marketplace_id: str, *, params: Mapping[str, str]) -> Iterator[ShipmentsPage]:
        """Every getShipments page of one query."""
        page = self.get_shipments(marketplace_id, params=params)
        yield page
        while page.next_token:
            page = self.get_shipments(marketplace_id, params=params, next_token=page.next_token)
            yield page

    def get_shipment_items(self, shipment_id: str, marketplace_id: str) -> list[dict[str, Any]]:
        """getShipmentItemsByShipmentId: the shipment's ItemData rows (QuantityShipped / Received)."""
        path = f"{INBOUND}/shipments/{_seg(shipment_id)}/items"
        request = Request("getShipmentItemsByShipmentId", "GET", path, {"MarketplaceId": marketplace_id})
        return _v0_page(self._json(self.call(request)), "ItemData", request.operation).rows

    def inbound_shipments_updated(
        self, marketplace_id: str, *, after: datetime, before: datetime
    ) -> list[InboundShipmentInfo]:
        """Every shipment changed in [after, before] (getShipments DATE_RANGE, all pages), typed."""
        params = {
            "QueryType": "DATE_RANGE",
            "LastUpdatedAfter": amazon_time(after),
            "LastUpdatedBefore": amazon_time(before),
        }
        rows = [row for page in self.shipments_pages(marketplace_id, params=params) for row in page.rows]
        return parse_rows(InboundShipmentInfo, rows, "getShipments", "shipment")

    def inbound_shipments_by_id(
        self, marketplace_id: str, shipment_ids: Sequence[str]
    ) -> list[InboundShipmentInfo]:
        """The named shipments (getShipments SHIPMENT, at most 999 ids a call), typed."""
        found: list[InboundShipmentInfo] = []
        for start in range(0, len(shipment_ids), 999):
            params = {"QueryType": "SHIPMENT", "ShipmentIdList": ",".join(shipment_ids[start : start + 999])}
            rows = [row for page in self.shipments_pages(marketplace_id, params=params) for row in page.rows]
            found += parse_rows(InboundShipmentInfo, rows, "getShipments", "shipment")
        return found

    def inbound_items(self, shipment_id: str, marketplace_id: str) -> list[InboundShipmentItem]:
        """A shipment's items with QuantityShipped and QuantityReceived (the only source of receipts, §9)."""
        rows = self.get_shipment_items(shipment_id, marketplace_id)
        return parse_rows(InboundShipmentItem, rows, "getShipmentItemsByShipmentId", "item")

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


def _raw_chunks(response: httpx.Response) -> Iterator[bytes]:
    """The body as it came over the wire, in chunks (a response already read gives its bytes)."""
    try:
        yield from response.iter_raw(1 << 20)
    except httpx.StreamConsumed:
        yield response.content


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
