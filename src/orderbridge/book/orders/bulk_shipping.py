"""Shipping many orders at once (a file of tracking numbers, a selection on the order list): all or none.

Every order is shipped as `ship_order` ships one, inside a savepoint; when any is refused, the savepoint
is rolled back, so no stock moved and no confirmation was queued, and the error names every order
refused and why. The rules are exactly the single shipment's: nothing is checked twice in two ways.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from orderbridge.book.errors import BookError, InvalidValueError
from orderbridge.book.orders.model import SalesOrder, Shipment
from orderbridge.book.orders.shipping import ship_order


@dataclass(frozen=True)
class ShipRequest:
    """One order to ship whole: where the request came from (a file's line), the carrier and tracking."""

    line: int
    order: SalesOrder
    carrier: str | None
    tracking_number: str | None
    shipped_at: datetime | None = None  # default: now


@dataclass(frozen=True)
class Refusal:
    """One request that cannot ship: its line (0: a selection has no lines) and the reason."""

    line: int
    message: str


class BulkShipRefusedError(BookError):
    """Some orders cannot ship, so none was shipped; `refusals` names each."""

    def __init__(self, refusals: list[Refusal]) -> None:
        super().__init__(f"{len(refusals)} order(s) cannot ship; nothing was shipped")
        self.refusals = refusals


def next_reference(order: SalesOrder) -> str:
    """The next free shipment reference of an order: S1, S2 ..."""
    taken = {shipment.reference for shipment in order.shipments}
    number = len(order.shipments) + 1
    while f"S{number}" in taken:
        number += 1
    return f"S{number}"


def ship_all(session: Session, requests: list[ShipRequest], *, now: datetime) -> list[Shipment]:
    """Ship every requested order whole, or none (BulkShipRefusedError naming each one refused)."""
    refusals, shipments = _try_all(session, requests, now=now, keep=True)
    if refusals:
        raise BulkShipRefusedError(refusals)
    return shipments


def check_all(session: Session, requests: list[ShipRequest], *, now: datetime) -> list[Refusal]:
    """The requests that shipping would refuse; nothing is kept."""
    refusals, _ = _try_all(session, requests, now=now, keep=False)
    return refusals


def _try_all(
    session: Session, requests: list[ShipRequest], *, now: datetime, keep: bool
) -> tuple[list[Refusal], list[Shipment]]:
    refusals: list[Refusal] = []
    shipments: list[Shipment] = []
    savepoint = session.begin_nested()
    try:
        for request in requests:
            try:
                shipments.append(_ship(session, request, now=now))
            except InvalidValueError as error:
                refusals.append(Refusal(request.line, str(error)))
    except BaseException:
        savepoint.rollback()
        raise
    if refusals or not keep:
        savepoint.rollback()
        return refusals, []
    savepoint.commit()
    return refusals, shipments


def _ship(session: Session, request: ShipRequest, *, now: datetime) -> Shipment:
    order = request.order
    if order.shipped_at is not None:
        raise InvalidValueError(f"order {order.external_ref or order.id}: is already shipped")
    with session.begin_nested():  # a refused order leaves nothing half-done for the next ones' checks
        shipment = ship_order(
            session,
            order,
            reference=next_reference(order),
            now=request.shipped_at or now,
            carrier=request.carrier,
            tracking_number=request.tracking_number,
        )
        session.flush()
    return shipment
