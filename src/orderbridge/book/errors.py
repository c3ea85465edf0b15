"""Errors of the book. Each carries the ids and the bad value, never buyer data."""

from __future__ import annotations

from orderbridge.errors import OrderbridgeError


class BookError(OrderbridgeError):
    """A book command was refused because it would break an invariant or refers to nothing."""


class NotFoundError(BookError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} does not exist")
        self.kind = kind
        self.key = key


class DuplicateError(BookError):
    def __init__(self, kind: str, key: object) -> None:
        super().__init__(f"{kind} {key!r} already exists")
        self.kind = kind
        self.key = key


class InsufficientStockError(BookError):
    def __init__(self, sku: str, warehouse: str, wanted: int, available: int) -> None:
        super().__init__(f"SKU {sku!r} in warehouse {warehouse!r}: wanted {wanted}, available {available}")
        self.sku = sku
        self.warehouse = warehouse
        self.wanted = wanted
        self.available = available


class InvalidValueError(BookError):
    """A value is wrong for its field: the message names the field and the value."""
