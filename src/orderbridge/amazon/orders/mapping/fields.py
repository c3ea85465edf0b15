"""Reading a v2026-01-01 Order document by field path; a bad field raises MappingError without its value."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from orderbridge.errors import OrderbridgeError

Doc = dict[str, Any]


class MappingError(OrderbridgeError):
    """An order that cannot be mapped: names the order id and the field path, never the buyer's data."""

    def __init__(self, order_id: str, path: str, problem: str) -> None:
        super().__init__(f"order {order_id}: {path}: {problem}")
        self.order_id = order_id
        self.path = path
        self.problem = problem


_PARTS: dict[str, tuple[str, ...]] = {}  # the paths read are a few hundred constants


def _parts(path: str) -> tuple[str, ...]:
    parts = _PARTS.get(path)
    if parts is None:
        parts = tuple(path.split("."))
        if len(_PARTS) < 4096:
            _PARTS[path] = parts
    return parts


class Reader:
    """Typed access to one order document; every failure names `orderId` and the path read."""

    def __init__(self, doc: object) -> None:
        if not isinstance(doc, dict):
            raise MappingError("(unknown)", "$", f"an order must be an object, not {type(doc).__name__}")
        order_id = doc.get("orderId")
        if not isinstance(order_id, str) or not order_id.strip():
            raise MappingError("(unknown)", "orderId", "missing or not a string")
        self.doc: Doc = doc
        self.order_id = order_id

    def fail(self, path: str, problem: str) -> MappingError:
        return MappingError(self.order_id, path, problem)

    def get(self, node: object, path: str) -> Any:
        """The value at a dotted path under `node` (list indexes as numbers), or None where absent."""
        if isinstance(node, dict) and "." not in path:  # most reads are one key of an object
            return node.get(path)
        current: Any = node
        parts = _PARTS.get(path) or _parts(path)
        for part in parts:
            if isinstance(current, dict):
                current = current.get(part)
            elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
                current = current[int(part)]
            else:
                return None
            if current is None:
                return None
        return current

    def obj(self, node: object, path: str, where: str) -> Doc:
        value = self.get(node, path)
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, got {type(value).__name__}")
        return value

    def items(self, node: object, path: str, where: str) -> list[Doc]:
        value = self.get(node, path)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, "expected a list of objects")
        for item in value:
            if not isinstance(item, dict):
                raise self.fail(where, "expected a list of objects")
        return value

    def text(self, node: object, path: str, where: str, *, required: bool = False) -> str | None:
        value = self.get(node, path)
        if isinstance(value, str):
            value = value.strip()
            if value:
                return value
            value = None
        if value is None:
            if required:
                raise self.fail(where, "missing")
            return None
        raise self.fail(where, f"expected a string, got {type(value).__name__}")

    def texts(self, node: object, path: str, where: str) -> list[str]:
        value = self.get(node, path)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(where, "expected a list of strings")
        return value

    def integer(self, node: object, path: str, where: str) -> int:
        value = self.get(node, path)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(where, "missing or not an integer")
        if value < 0:
            raise self.fail(where, "negative")
        return value

    def money(self, node: object, path: str, where: str) -> tuple[Decimal, str] | None:
        """A `Money` object as (amount, currency), or None when absent."""
        value = self.get(node, path)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.fail(where, "expected a Money object")
        amount, currency = value.get("amount"), value.get("currencyCode")
        if not isinstance(currency, str) or len(currency) != 3:
            raise self.fail(f"{where}.currencyCode", "missing or not a 3-letter currency code")
        if not isinstance(amount, str):
            raise self.fail(f"{where}.amount", "missing or not a decimal string")
        try:
            parsed = Decimal(amount)
        except InvalidOperation:
            raise self.fail(f"{where}.amount", "not a decimal number") from None
        if not parsed.is_finite():
            raise self.fail(f"{where}.amount", "not a finite number")
        return parsed, currency.upper()

    def timestamp(self, node: object, path: str, where: str) -> datetime:
        text = self.text(node, path, where, required=True)
        assert text is not None
        return self._moment(text, where)

    def optional_timestamp(self, node: object, path: str, where: str) -> datetime | None:
        text = self.text(node, path, where)
        return self._moment(text, where) if text else None

    def _moment(self, text: str, where: str) -> datetime:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise self.fail(where, "not an ISO 8601 date-time") from None
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
