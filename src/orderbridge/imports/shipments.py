"""Shipping orders from a CSV of order id, carrier, tracking [, ship date]: every line checked, then all ship.

The order id is the channel's (Amazon's) order id. A line is refused when its order does not exist
(or is on several channels), appears on an earlier line too, cannot ship (cancelled, already shipped,
not allocated), names a carrier not on the carrier list, or lacks a tracking number its carrier (or
Amazon) needs. One refused line and nothing ships; every refused line is named with its number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import BeforeValidator
from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.book.orders.bulk_shipping import BulkShipRefusedError, ShipRequest, check_all, ship_all
from orderbridge.book.orders.model import SalesOrder
from orderbridge.clock import as_utc
from orderbridge.imports.csv_source import CsvTable
from orderbridge.imports.errors import ImportRejectedError, Problem
from orderbridge.imports.rows import Row, validate_rows


class ShipmentsRejectedError(ImportRejectedError):
    """The file has problems, so no order of it was shipped."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        super().__init__(source, problems)
        self.args = (f"{source}: {len(self.problems)} problem(s); nothing was shipped",)


def _ship_date(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value[:10]) if len(value) <= 10 else datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a date (YYYY-MM-DD) or a date and time (ISO 8601)") from None
    return value


def _text(max_length: int) -> BeforeValidator:
    def check(value: Any) -> Any:
        if isinstance(value, str) and len(value) > max_length:
            raise ValueError(f"is longer than {max_length} characters")
        return value

    return BeforeValidator(check)


class ShipmentLine(Row):
    order_id: Annotated[str, _text(100)]
    carrier: Annotated[str, _text(100)]
    tracking: Annotated[str, _text(100)] | None = None
    ship_date: Annotated[date | datetime, BeforeValidator(_ship_date)] | None = None


@dataclass(frozen=True)
class ShippedFile:
    """What a file shipped: the orders by their channel's order id, and the units."""

    source: str
    orders: tuple[str, ...]
    units: int


def ship_from_csv(session: Session, table: CsvTable, *, now: datetime) -> ShippedFile:
    """Check every line of the file, then ship every order in it whole (ShipmentsRejectedError if any
    line is wrong: nothing shipped)."""
    valid = validate_rows(table, ShipmentLine)
    problems = list(valid.problems)
    requests: list[ShipRequest] = []
    first_line: dict[str, int] = {}
    valid_lines = {line for line, _ in valid.rows}
    for line, row in valid.checkable:
        if row.order_id is None:
            continue
        if row.order_id in first_line:
            earlier = f"is also on line {first_line[row.order_id]}"
            problems.append(Problem(line, "order_id", earlier, row.order_id))
            continue
        first_line[row.order_id] = line
        order, problem = _order(session, row.order_id)
        if problem is not None:
            problems.append(Problem(line, "order_id", problem, row.order_id))
            continue
        assert order is not None
        if line not in valid_lines:
            continue  # its bad cells are problems already; the order is still checked for duplicates
        shipped_at = _shipped_at(row.ship_date, order, now=now)
        if shipped_at > now:
            problems.append(Problem(line, "ship_date", "is in the future", str(row.ship_date)))
            continue
        requests.append(ShipRequest(line, order, row.carrier, row.tracking, shipped_at))
    if problems:
        problems.extend(_refusals(session, requests, now=now))
        raise ShipmentsRejectedError(table.source, problems)
    try:
        shipments = ship_all(session, requests, now=now)
    except BulkShipRefusedError as error:
        raise ShipmentsRejectedError(
            table.source, [Problem(r.line, None, r.message) for r in error.refusals]
        ) from None
    units = sum(row.quantity for shipment in shipments for row in shipment.rows)
    return ShippedFile(table.source, tuple(r.order.external_ref for r in requests), units)


def _refusals(session: Session, requests: list[ShipRequest], *, now: datetime) -> list[Problem]:
    """The lines that shipping would refuse, found by trying them all (and rolling back)."""
    return [Problem(r.line, None, r.message) for r in check_all(session, requests, now=now)]


def _order(session: Session, order_id: str) -> tuple[SalesOrder | None, str | None]:
    found = list(session.scalars(select(SalesOrder).where(SalesOrder.external_ref == order_id).limit(2)))
    if not found:
        return None, "no order has this order id"
    if len(found) > 1:
        return None, "is the order id of orders on several channels; ship them one by one"
    return found[0], None


def _shipped_at(value: date | datetime | None, order: SalesOrder, *, now: datetime) -> datetime:
    """A date ships at noon UTC that day, but never before the order was placed nor after now."""
    if value is None:
        return now
    if isinstance(value, datetime):
        return as_utc(value) if value.tzinfo is not None else value.replace(tzinfo=UTC)
    noon = max(datetime.combine(value, time(12), tzinfo=UTC), as_utc(order.placed_at))
    return min(noon, now) if value <= now.date() else noon
