"""`orderbridge orders list|show|ship|cancel`: the sales orders in the book, as tables or JSON; shipping and
cancelling them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import typer
from rich.panel import Panel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.book.alerts import Subject, open_alerts
from orderbridge.book.channels import Channel
from orderbridge.book.inventory import Warehouse
from orderbridge.book.orders.bulk_shipping import next_reference
from orderbridge.book.orders.cancel import cancel, units_by_sku
from orderbridge.book.orders.model import OrderRow, OrderStatus, RowKind, SalesOrder
from orderbridge.book.orders.shipping import ship_order
from orderbridge.cli.catalog import AsJson
from orderbridge.cli.context import console, read_only, unit_of_work
from orderbridge.cli.output import money, print_json, print_table, reported_errors
from orderbridge.clock import utc_now
from orderbridge.privacy.sealing import is_sealed

orders = typer.Typer(help="Sales orders: list them, show one, ship or cancel one.", no_args_is_help=True)


@dataclass(frozen=True)
class OrderLine:
    id: int
    channel: str
    reference: str
    placed_at: datetime
    status: str
    payment_status: str
    fulfilment: str
    currency: str
    rows: int
    total_gross: Decimal


@orders.command("list")
def list_orders(
    status: Annotated[str | None, typer.Option(help="Only orders in this status (its name).")] = None,
    channel: Annotated[str | None, typer.Option(help="Only orders of this channel (its code).")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many orders, newest first.")] = 50,
    as_json: AsJson = False,
) -> None:
    """List sales orders, newest first."""
    with read_only() as session:
        found = order_lines(session, status=status, channel=channel, limit=limit)
    if as_json:
        print_json([asdict(line) for line in found])
        return
    columns = ["id", "channel", "reference", "placed", "status", "payment", "rows", "gross"]
    rows = [
        [
            o.id,
            o.channel,
            o.reference,
            f"{o.placed_at:%Y-%m-%d %H:%M}",
            o.status,
            o.payment_status,
            o.rows,
            f"{o.total_gross} {o.currency}",
        ]
        for o in found
    ]
    print_table("Sales orders", columns, rows, right=frozenset({"id", "rows", "gross"}))


def order_lines(session: Session, *, status: str | None, channel: str | None, limit: int) -> list[OrderLine]:
    """One line per order, newest first; an unknown status or channel is a bad argument."""
    row_count = (
        select(func.count(OrderRow.id)).where(OrderRow.order_id == SalesOrder.id).correlate(SalesOrder)
    ).scalar_subquery()
    query = (
        select(SalesOrder, Channel.code, row_count)
        .join(Channel, Channel.id == SalesOrder.channel_id)
        .order_by(SalesOrder.placed_at.desc(), SalesOrder.id.desc())
        .limit(limit)
    )
    if status is not None:
        query = query.where(SalesOrder.status_id == _status_id(session, status))
    if channel is not None:
        query = query.where(SalesOrder.channel_id == _channel_id(session, channel))
    return [
        OrderLine(
            order.id,
            code,
            order.external_ref,
            order.placed_at,
            order.status.name,
            str(order.payment_status),
            str(order.fulfilment),
            order.currency,
            count,
            money(order.total_gross, order.currency),
        )
        for order, code, count in session.execute(query)
    ]


@dataclass(frozen=True)
class RowView:
    id: int
    position: int
    parent_row_id: int | None
    kind: str
    sku: str | None
    name: str
    quantity: int
    cancelled: int
    allocated: int
    shipped: int
    warehouse: str | None
    net: Decimal
    tax: Decimal
    gross: Decimal
    tax_code: str | None
    nominal_code: str | None


@dataclass(frozen=True)
class ShippedRow:
    row_id: int
    quantity: int


@dataclass(frozen=True)
class ShipmentView:
    reference: str
    shipped_at: datetime
    carrier: str | None
    tracking_number: str | None
    rows: list[ShippedRow]


@dataclass(frozen=True)
class NoteView:
    added_at: datetime
    source: str
    body: str | None


@dataclass(frozen=True)
class Totals:
    net: Decimal
    tax: Decimal
    gross: Decimal
    withheld_tax: Decimal
    paid: Decimal
    owed: Decimal


@dataclass(frozen=True)
class OrderDetail:
    id: int
    channel: str
    reference: str
    status: str
    payment_status: str
    fulfilment: str
    currency: str
    placed_at: datetime
    shipped_at: datetime | None
    cancelled_at: datetime | None
    ship_by: datetime | None
    deliver_by: datetime | None
    warehouse: str | None
    shipping_method: str | None
    contact_id: int
    delivery_country: str | None
    rows: list[RowView]
    shipments: list[ShipmentView]
    notes: list[NoteView]
    alerts: list[str]
    totals: Totals


@orders.command("show")
def show_order(
    id_or_ref: Annotated[
        str, typer.Argument(metavar="ID_OR_REF", help="The order's id or its channel reference.")
    ],
    channel: Annotated[
        str | None, typer.Option(help="The channel (code) when a reference is on several.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Show one order: its rows with allocation, shipments, notes, alerts and totals."""
    with read_only() as session:
        detail = order_detail(session, find_order(session, id_or_ref, channel=channel))
    if as_json:
        print_json(asdict(detail))
        return
    _render_detail(detail)


def find_order(session: Session, id_or_ref: str, *, channel: str | None = None) -> SalesOrder:
    """The order with this id, else the one with this channel reference; otherwise a bad argument."""
    query = select(SalesOrder).where(SalesOrder.external_ref == id_or_ref)
    if channel is not None:
        query = query.where(SalesOrder.channel_id == _channel_id(session, channel))
    by_ref = list(session.scalars(query))
    if id_or_ref.isdigit() and not by_ref:
        order = session.get(SalesOrder, int(id_or_ref))
        if order is not None and (channel is None or order.channel_id == _channel_id(session, channel)):
            return order
    if len(by_ref) > 1:
        raise typer.BadParameter(
            f"reference {id_or_ref!r} is on {len(by_ref)} channels: give --channel", param_hint="ID_OR_REF"
        )
    if not by_ref:
        raise typer.BadParameter(f"no order has the id or reference {id_or_ref!r}", param_hint="ID_OR_REF")
    return by_ref[0]


def order_detail(session: Session, order: SalesOrder) -> OrderDetail:
    """Everything `orders show` tells about an order, as plain values."""
    codes = dict(session.execute(select(Warehouse.id, Warehouse.code)).all())
    channel = session.get(Channel, order.channel_id)
    return OrderDetail(
        id=order.id,
        channel=channel.code if channel is not None else str(order.channel_id),
        reference=order.external_ref,
        status=order.status.name,
        payment_status=str(order.payment_status),
        fulfilment=str(order.fulfilment),
        currency=order.currency,
        placed_at=order.placed_at,
        shipped_at=order.shipped_at,
        cancelled_at=order.cancelled_at,
        ship_by=order.ship_by,
        deliver_by=order.deliver_by,
        warehouse=codes.get(order.warehouse_id) if order.warehouse_id is not None else None,
        shipping_method=order.shipping_method.name if order.shipping_method else None,
        contact_id=order.contact_id,
        delivery_country=order.delivery_country,
        rows=[_row_view(row, codes, order.currency) for row in order.rows],
        shipments=[
            ShipmentView(
                s.reference,
                s.shipped_at,
                s.carrier,
                s.tracking_number,
                [ShippedRow(r.row_id, r.quantity) for r in s.rows],
            )
            for s in order.shipments
        ],
        notes=[NoteView(note.added_at, note.source, masked(note.body)) for note in order.notes],
        alerts=[alert.message for alert in open_alerts(session, Subject.ORDER, order.id)],
        totals=Totals(
            *(
                money(amount, order.currency)
                for amount in (
                    order.total_net,
                    order.total_tax,
                    order.total_gross,
                    order.withheld_tax,
                    order.amount_paid,
                    order.amount_owed,
                )
            )
        ),
    )


def _row_view(row: OrderRow, codes: dict[int, str], currency: str) -> RowView:
    return RowView(
        id=row.id,
        position=row.position,
        parent_row_id=row.parent_row_id,
        kind=str(row.kind),
        sku=row.sku,
        name=row.name,
        quantity=row.quantity,
        cancelled=row.cancelled_quantity,
        allocated=row.allocated,
        shipped=row.shipped,
        warehouse=codes.get(row.warehouse_id) if row.warehouse_id is not None else None,
        net=money(row.net, currency),
        tax=money(row.tax, currency),
        gross=money(row.gross, currency),
        tax_code=row.tax_code,
        nominal_code=row.nominal_code,
    )


def _render_detail(order: OrderDetail) -> None:
    facts = [
        f"channel {order.channel}, reference {order.reference}",
        f"status {order.status}, payment {order.payment_status}, fulfilment {order.fulfilment}",
        f"placed {order.placed_at:%Y-%m-%d %H:%M}"
        + (f", shipped {order.shipped_at:%Y-%m-%d %H:%M}" if order.shipped_at else "")
        + (f", cancelled {order.cancelled_at:%Y-%m-%d %H:%M}" if order.cancelled_at else ""),
        f"ship by {order.ship_by:%Y-%m-%d %H:%M}" if order.ship_by else "ship by -",
        f"deliver by {order.deliver_by:%Y-%m-%d %H:%M}" if order.deliver_by else "deliver by -",
        f"warehouse {order.warehouse or '-'}, shipping method {order.shipping_method or '-'}",
        f"contact {order.contact_id}, delivery country {order.delivery_country or '-'}",
    ]
    console.print(Panel("\n".join(facts), title=f"Sales order {order.id}", expand=False), highlight=False)
    columns = ["#", "kind", "SKU", "name", "qty", "cancelled", "allocated", "shipped", "net", "tax", "gross"]
    rows = [
        [
            r.position + 1,
            r.kind,
            ("  " if r.parent_row_id else "") + (r.sku or ""),
            r.name,
            r.quantity,
            r.cancelled,
            r.allocated,
            r.shipped,
            r.net,
            r.tax,
            r.gross,
        ]
        for r in order.rows
    ]
    print_table("Rows", columns, rows, right=frozenset(columns[4:]))
    positions = {r.id: r.position + 1 for r in order.rows}
    shipped = [
        [
            s.reference,
            f"{s.shipped_at:%Y-%m-%d %H:%M}",
            s.carrier,
            s.tracking_number,
            ", ".join(f"#{positions.get(r.row_id, r.row_id)} x {r.quantity}" for r in s.rows),
        ]
        for s in order.shipments
    ]
    print_table("Shipments", ["reference", "shipped", "carrier", "tracking", "rows"], shipped)
    notes = [[f"{n.added_at:%Y-%m-%d %H:%M}", n.source, n.body] for n in order.notes]
    print_table("Notes", ["added", "source", "note"], notes)
    for alert in order.alerts:
        console.print(f"[yellow]alert:[/yellow] {alert}", highlight=False)
    t = order.totals
    console.print(
        f"net {t.net}  tax {t.tax}  gross {t.gross} {order.currency}  "
        f"withheld {t.withheld_tax}  paid {t.paid}  owed {t.owed}",
        highlight=False,
    )


def _status_id(session: Session, name: str) -> int:
    found = session.scalar(select(OrderStatus.id).where(func.lower(OrderStatus.name) == name.lower()))
    if found is None:
        known = ", ".join(session.scalars(select(OrderStatus.name).order_by(OrderStatus.position)))
        raise typer.BadParameter(
            f"no status is named {name!r}; the statuses are: {known}", param_hint="--status"
        )
    return found


def _channel_id(session: Session, code: str) -> int:
    found = session.scalar(select(Channel.id).where(Channel.code == code))
    if found is None:
        raise typer.BadParameter(f"no channel has the code {code!r}", param_hint="--channel")
    return found


def masked(value: str | None) -> str | None:
    """Buyer data as a list shows it: sealed values are never decrypted here (`privacy reveal` is
    the audited way to read them); redacted ones read [Redacted] (P3)."""
    return "[protected]" if is_sealed(value) else value


@orders.command("ship")
def ship(
    id_or_ref: Annotated[
        str, typer.Argument(metavar="ID_OR_REF", help="The order's id or its channel reference.")
    ],
    tracking: Annotated[
        str | None,
        typer.Option(help="The package's tracking number (needed unless the carrier has none)."),
    ] = None,
    carrier: Annotated[
        str | None,
        typer.Option(help="The carrier, from `orderbridge carriers list` (default: the shipping method's)."),
    ] = None,
    rows: Annotated[
        str | None,
        typer.Option(help="Rows shipped as #[:QTY],... with # as `orders show` numbers them (default: all)."),
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="The channel (code) when a reference is on several.")
    ] = None,
) -> None:
    """Ship an order (all of it, or some rows): stock leaves the warehouse, and an Amazon order's
    shipment confirmation goes to Amazon once, through the outbox.

    The carrier and tracking number are checked first: a carrier not on the carrier list, or no
    tracking number where one is needed (always for an Amazon order), ships nothing; exit code 1."""
    with reported_errors(), unit_of_work() as session:
        order = find_order(session, id_or_ref, channel=channel)
        quantities = parse_rows(order, rows) if rows else None
        shipment = ship_order(
            session,
            order,
            reference=next_reference(order),
            now=utc_now(),
            quantities=quantities,
            tracking_number=tracking,
            carrier=carrier,
        )
        session.flush()
        units = sum(r.quantity for r in shipment.rows)
        line = f"order {order.external_ref or order.id}: shipment {shipment.reference} ({units} units)"
    console.print(line, highlight=False)


def parse_rows(order: SalesOrder, text: str) -> dict[int, int]:
    """`#[:QTY],...` (rows numbered as `orders show` prints them) -> row id -> units.

    A bundle row ships its component rows in proportion."""
    by_position = {row.position + 1: row for row in order.rows}
    wanted: dict[int, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        number, _, count = part.partition(":")
        if not number.isdigit() or (count and not count.isdigit()):
            raise typer.BadParameter(f"{part!r} is not #[:QTY]", param_hint="--rows")
        row = by_position.get(int(number))
        if row is None:
            raise typer.BadParameter(f"order {order.id} has no row #{number}", param_hint="--rows")
        units = int(count) if count else row.quantity - row.shipped
        if row.kind == RowKind.BUNDLE:
            for part_row in (r for r in order.rows if r.parent_row_id == row.id):
                wanted[part_row.id] = wanted.get(part_row.id, 0) + units * (part_row.quantity // row.quantity)
        else:
            wanted[row.id] = wanted.get(row.id, 0) + units
    return wanted


@orders.command("cancel")
def cancel_command(
    id_or_ref: Annotated[
        str, typer.Argument(metavar="ID_OR_REF", help="The order's Amazon order id (or id).")
    ],
    sku: Annotated[
        list[str] | None,
        typer.Option("--sku", help="An item to cancel (repeat for several). Default: every item."),
    ] = None,
    quantity: Annotated[
        list[int] | None,
        typer.Option(
            "--quantity",
            min=1,
            help="Units to cancel of the --sku in the same place (repeat with each --sku). "
            "Default: every unit not shipped.",
        ),
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="The channel (code) when a reference is on several.")
    ] = None,
) -> None:
    """Cancel an order, or some units of its items: their stock allocation is freed and the order moves to
    its channel's status for cancelled orders. Shipped units cannot be cancelled. Amazon is not told:
    cancel an Amazon order in Seller Central too."""
    skus, counts = sku or [], quantity or []
    if counts and len(counts) != len(skus):
        raise typer.BadParameter(
            f"{len(counts)} --quantity for {len(skus)} --sku: give one --quantity after each --sku",
            param_hint="--quantity",
        )
    with reported_errors(), unit_of_work() as session:
        order = find_order(session, id_or_ref, channel=channel)
        lines = [(code, counts[n] if counts else None) for n, code in enumerate(skus)]
        quantities = units_by_sku(order, lines) if lines else None
        done = cancel(session, order, now=utc_now(), quantities=quantities)
        session.flush()
        what = ", ".join(f"{name} x {units}" for name, units in done.units.items())
        line = f"order {order.external_ref}: cancelled {what}; status {order.status.name}"
        amazon = session.get(Channel, order.channel_id)
        if amazon is not None and amazon.is_amazon:
            line += "\nAmazon is not told by the book: cancel it in Seller Central too"
    console.print(line, highlight=False, markup=False)
