"""What the SP-API client takes and returns: queries, pages and models checked against Amazon's shapes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

# Orders v2026-01-01 includedData (SPAPI.md §5); the download asks for everything a booking needs.
ORDER_DATA = ("BUYER", "RECIPIENT", "PROCEEDS", "PROMOTION", "CANCELLATION", "FULFILLMENT", "TAX")


def amazon_time(moment: datetime) -> str:
    """ISO 8601 in UTC with whole seconds and `Z`, as Amazon writes it (fractions dropped: rounds down)."""
    if moment.tzinfo is None:
        raise ValueError("SP-API times must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_amazon_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class OrdersQuery:
    """searchOrders filters. Every page of one search repeats them unchanged (model: paginationToken)."""

    marketplace_ids: Sequence[str] = ()
    last_updated_after: datetime | None = None
    last_updated_before: datetime | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    fulfillment_statuses: Sequence[str] = ()
    fulfilled_by: Sequence[str] = ()
    included_data: Sequence[str] = ORDER_DATA
    max_results_per_page: int = 100

    def params(self) -> dict[str, str]:
        by_update = self.last_updated_after is not None
        if by_update == (self.created_after is not None):
            raise ValueError("searchOrders needs exactly one of last_updated_after and created_after")
        times = {
            "lastUpdatedAfter": self.last_updated_after,
            "lastUpdatedBefore": self.last_updated_before,
            "createdAfter": self.created_after,
            "createdBefore": self.created_before,
        }
        out = {name: amazon_time(value) for name, value in times.items() if value is not None}
        lists = {
            "marketplaceIds": self.marketplace_ids,
            "fulfillmentStatuses": self.fulfillment_statuses,
            "fulfilledBy": self.fulfilled_by,
            "includedData": self.included_data,
        }
        out.update({name: ",".join(values) for name, values in lists.items() if values})
        out["maxResultsPerPage"] = str(self.max_results_per_page)
        return out


@dataclass(frozen=True)
class OrdersPage:
    """One searchOrders page: raw orders (for the inbox) and what comes next."""

    orders: list[dict[str, Any]]
    next_token: str | None
    last_updated_before: datetime | None = None
    created_before: datetime | None = None

    @property
    def high_water_mark(self) -> datetime | None:
        """The upper bound Amazon applied: the next incremental search may start there."""
        return self.last_updated_before or self.created_before


@dataclass(frozen=True)
class PackageItem:
    order_item_id: str
    quantity: int


@dataclass(frozen=True)
class PackageDetail:
    """One package of a v0 confirmShipment (SPAPI.md §4.4)."""

    package_reference_id: str
    carrier_code: str
    tracking_number: str
    ship_date: datetime
    items: Sequence[PackageItem]
    carrier_name: str = ""
    shipping_method: str = ""

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "packageReferenceId": self.package_reference_id,
            "carrierCode": self.carrier_code,
            "trackingNumber": self.tracking_number,
            "shipDate": amazon_time(self.ship_date),
            "orderItems": [{"orderItemId": i.order_item_id, "quantity": i.quantity} for i in self.items],
        }
        if self.carrier_name:
            out["carrierName"] = self.carrier_name
        if self.shipping_method:
            out["shippingMethod"] = self.shipping_method
        return out


class _Model(BaseModel):
    # Unknown fields are ignored (Amazon adds fields); required fields and types are enforced.
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")


class Report(_Model):
    report_id: str = Field(alias="reportId")
    report_type: str = Field(alias="reportType")
    processing_status: str = Field(alias="processingStatus")
    created_time: datetime = Field(alias="createdTime")
    marketplace_ids: list[str] = Field(default_factory=list, alias="marketplaceIds")
    data_start_time: datetime | None = Field(default=None, alias="dataStartTime")
    data_end_time: datetime | None = Field(default=None, alias="dataEndTime")
    processing_end_time: datetime | None = Field(default=None, alias="processingEndTime")
    report_document_id: str | None = Field(default=None, alias="reportDocumentId")

    @property
    def finished(self) -> bool:
        """DONE, CANCELLED (Amazon's "no data": empty, not a failure) or FATAL (SPAPI.md §7)."""
        return self.processing_status in ("DONE", "CANCELLED", "FATAL")


class ReportsPage(_Model):
    reports: list[Report]
    next_token: str | None = Field(default=None, alias="nextToken")


class DocumentLink(_Model):
    """A report or feed document: a pre-signed URL that expires after 5 minutes (SPAPI.md §7)."""

    document_id: str = Field(alias="reportDocumentId")
    url: str
    compression_algorithm: str | None = Field(default=None, alias="compressionAlgorithm")


class FeedDocumentLink(_Model):
    document_id: str = Field(alias="feedDocumentId")
    url: str
    compression_algorithm: str | None = Field(default=None, alias="compressionAlgorithm")


class Feed(_Model):
    feed_id: str = Field(alias="feedId")
    feed_type: str = Field(alias="feedType")
    processing_status: str = Field(alias="processingStatus")
    created_time: datetime = Field(alias="createdTime")
    marketplace_ids: list[str] = Field(default_factory=list, alias="marketplaceIds")
    result_feed_document_id: str | None = Field(default=None, alias="resultFeedDocumentId")


class ListingsIssue(_Model):
    code: str
    message: str
    severity: str


class ListingsSubmission(_Model):
    sku: str
    status: str
    submission_id: str = Field(alias="submissionId")
    issues: list[ListingsIssue] = Field(default_factory=list)


@dataclass(frozen=True)
class ShipmentsPage:
    """Fulfillment Inbound v0 rows as Amazon sends them (PascalCase dicts) and the next token."""

    rows: list[dict[str, Any]]
    next_token: str | None = None


@dataclass(frozen=True)
class Document:
    """A downloaded document: bytes (gunzipped) and the charset the server named, if any."""

    data: bytes
    charset: str | None = None

    def text(self, fallback: str = "cp1252") -> str:
        """Decoded by the named charset, else UTF-8, else `fallback` (cp1252 EU/NA, cp932 JP; §7)."""
        for encoding in (self.charset, "utf-8"):
            if encoding:
                try:
                    return self.data.decode(encoding)
                except (UnicodeDecodeError, LookupError):
                    continue
        return self.data.decode(fallback, errors="replace")
