"""Mapping Amazon orders (v2026-01-01) to book commands: pure functions of the order, settings and facts."""

from orderbridge.amazon.orders.mapping.commands import (
    AlertSpec,
    AmazonState,
    ContactMatch,
    FieldValue,
    ListingFact,
    MappedOrder,
    OrderFacts,
    Outcome,
    TaxChoice,
)
from orderbridge.amazon.orders.mapping.fields import MappingError
from orderbridge.amazon.orders.mapping.order import map_order, status_name

__all__ = [
    "AlertSpec",
    "AmazonState",
    "ContactMatch",
    "FieldValue",
    "ListingFact",
    "MappedOrder",
    "MappingError",
    "OrderFacts",
    "Outcome",
    "TaxChoice",
    "map_order",
    "status_name",
]
