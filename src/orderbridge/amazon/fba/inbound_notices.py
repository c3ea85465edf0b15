"""The seller's e-mails about an inbound shipment (F5): plain text, one per event, naming SKUs and units."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from orderbridge.amazon.fba.records import InboundShipmentRecord
from orderbridge.notify.notices import queue_notice


@dataclass(frozen=True)
class Line:
    """One SKU of a shipment in a notice."""

    sku: str
    shipped: int = 0
    received: int = 0
    short: int = 0
    available: int = 0


class InboundNotices:
    """Queues the notices of one shipment; event keys make each notice once per event."""

    def __init__(
        self, session: Session, account_id: int, record: InboundShipmentRecord, *, now: datetime
    ) -> None:
        self.session = session
        self.record = record
        self.now = now
        self.prefix = f"inbound:{account_id}:{record.shipment_id}"

    @property
    def title(self) -> str:
        name = f" ({self.record.name})" if self.record.name else ""
        return f"Inbound shipment {self.record.shipment_id}{name}"

    def _queue(self, event: str, kind: str, subject: str, text: str) -> bool:
        where = f"to {self.record.destination}" if self.record.destination else "to Amazon"
        body = f"{self.title} {where}, status {self.record.status}.\n\n{text}\n\n-- orderbridge\n"
        notice = queue_notice(
            self.session,
            event_key=f"{self.prefix}:{event}",
            kind=kind,
            subject=f"{subject}: {self.record.shipment_id}",
            body=body,
            now=self.now,
        )
        return notice is not None

    def not_enough_stock(self, warehouse: str, lines: list[Line]) -> bool:
        table = _table(
            ["SKU", "Shipped", f"In {warehouse}"], [[x.sku, x.shipped, x.available] for x in lines]
        )
        text = (
            f"Not enough stock in warehouse {warehouse} to create the transfer for this shipment:\n\n"
            f"{table}\n\nThe transfer is created as soon as the stock is there."
        )
        return self._queue("not_enough_stock", "inbound_not_enough_stock", "Not enough stock for", text)

    def started(self, lines: list[Line]) -> bool:
        text = "Amazon has started receiving this shipment.\n\n" + _progress(lines)
        return self._queue("started", "inbound_receiving_started", "Receiving started", text)

    def in_progress(self, lines: list[Line], total: int) -> bool:
        text = f"Amazon has received {total} units so far.\n\n" + _progress(lines)
        return self._queue(f"progress:{total}", "inbound_receiving_progress", "Receiving in progress", text)

    def over_received(self, line: Line) -> bool:
        text = (
            f"More units of SKU {line.sku} were received than shipped:\n\n"
            + _table(["SKU", "Shipped", "Received", "Over"],
                     [[line.sku, line.shipped, line.received, f"+{line.received - line.shipped}"]])
        )  # fmt: skip
        return self._queue(f"over:{line.sku}", "inbound_over_receipt", "Over-receipt", text)

    def unexpected(self, line: Line) -> bool:
        text = f"SKU {line.sku} was received but was not in the shipment:\n\n" + _table(
            ["SKU", "Shipped", "Received"], [[line.sku, 0, line.received]]
        )
        return self._queue(f"unexpected:{line.sku}", "inbound_unexpected_sku", "Unexpected SKU", text)

    def complete(self, lines: list[Line]) -> bool:
        short = [x for x in lines if x.short]
        summary = "Amazon has finished receiving this shipment."
        if short:
            summary += " Units that never arrived were written off the transfer as short."
        return self._queue("complete", "inbound_receiving_complete", "Receiving complete",
                           summary + "\n\n" + _progress(lines))  # fmt: skip


def _progress(lines: list[Line]) -> str:
    rows = []
    for line in lines:
        difference = line.received - line.shipped
        note = "unexpected" if line.shipped == 0 else f"+{difference}" if difference > 0 else ""
        if line.short:
            note = f"short {line.short}"
        rows.append([line.sku, line.shipped, line.received, note])
    return _table(["SKU", "Shipped", "Received", ""], rows)


def _table(header: list[str], rows: list[list[object]]) -> str:
    cells = [header, *[[str(value) for value in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for row in cells:
        first = row[0].ljust(widths[0])
        rest = [value.rjust(width) for value, width in zip(row[1:], widths[1:], strict=True)]
        lines.append("  ".join([first, *rest]).rstrip())
    return "\n".join(lines)
