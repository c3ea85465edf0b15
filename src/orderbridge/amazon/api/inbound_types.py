"""Fulfillment Inbound v0 shapes (SPAPI.md §9.1, `fulfillmentInboundV0.json`) as orderbridge reads them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orderbridge.amazon.errors import BadPayload

# ShipmentStatus enum of the v0 model: before the carrier has it, stock is still the seller's (F3).
NOT_SHIPPED = frozenset({"WORKING", "READY_TO_SHIP"})
ABANDONED = frozenset({"DELETED", "CANCELLED", "ERROR"})
RECEIVING = frozenset({"CHECKED_IN", "RECEIVING", "CLOSED"})
Model = TypeVar("Model", bound=BaseModel)


class InboundShipmentInfo(BaseModel):
    """One `InboundShipmentInfo` (getShipments); a shipment without ShipmentId or status is refused."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    shipment_id: str = Field(alias="ShipmentId", min_length=1, max_length=40)
    status: str = Field(alias="ShipmentStatus", min_length=1)
    name: str | None = Field(default=None, alias="ShipmentName")
    destination: str | None = Field(default=None, alias="DestinationFulfillmentCenterId")


class InboundShipmentItem(BaseModel):
    """One `InboundShipmentItem` (getShipmentItems*): SellerSKU and QuantityShipped are required."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    seller_sku: str = Field(alias="SellerSKU", min_length=1, max_length=100)
    quantity_shipped: int = Field(alias="QuantityShipped", ge=0)
    quantity_received: int = Field(default=0, alias="QuantityReceived", ge=0)
    fnsku: str | None = Field(default=None, alias="FulfillmentNetworkSKU")
    shipment_id: str | None = Field(default=None, alias="ShipmentId")


def parse_rows(
    model: type[Model], rows: Iterable[Mapping[str, Any]], operation: str, label: str
) -> list[Model]:
    """Rows as typed models; BadPayload names the operation, the row and the field that is wrong."""
    parsed = []
    for number, row in enumerate(rows, start=1):
        try:
            parsed.append(model.model_validate(row))
        except ValidationError as error:
            issue = error.errors()[0]
            where = ".".join(str(part) for part in issue["loc"])
            raise BadPayload(operation, 200, f"{label} {number}: {where}: {issue['msg']}") from None
    return parsed
