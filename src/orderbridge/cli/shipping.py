"""`orderbridge orders tracking|ship-csv`, `orderbridge carriers ...` and `orderbridge shipping-methods
...`: correcting a shipment's tracking (the confirmation goes to Amazon again), shipping from a file, the
carrier list, and the carrier each shipping method ships with."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

import typer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.amazon.outbound.corrections import correct_tracking
from orderbridge.book.orders.carriers import find_carrier, list_carriers, save_carrier
from orderbridge.book.orders.model import SalesOrder, ShippingMethod
from orderbridge.book.orders.statuses import set_carrier
from orderbridge.cli.catalog import AsJson, CsvFile
from orderbridge.cli.context import console, fail, unit_of_work
from orderbridge.cli.orders import find_order
from orderbridge.cli.output import print_json, print_table, reported_errors, yes_no
from orderbridge.clock import utc_now
from orderbridge.imports.csv_source import read_csv
from orderbridge.imports.shipments import ship_from_csv

carriers = typer.Typer(
    help="Carriers: the list shipments choose from, and which have no tracking numbers.",
    no_args_is_help=True,
)
shipping_methods = typer.Typer(
    help="Shipping methods, as the channels name them, and the carrier each ships with.",
    no_args_is_help=True,
)


def tracking_command(
    id_or_ref: Annotated[
        str, typer.Argument(metavar="ID_OR_REF", help="The order's id or its channel (Amazon) order id.")
    ],
    tracking: Annotated[str, typer.Option(help="The corrected tracking number.")],
    carrier: Annotated[
        str | None, typer.Option(help="The corrected carrier (default: the shipment's carrier).")
    ] = None,
    shipment: Annotated[
        str | None, typer.Option(help="The shipment's reference (default: the order's latest shipment).")
    ] = None,
    channel: Annotated[
        str | None, typer.Option(help="The channel (code) when a reference is on several.")
    ] = None,
) -> None:
    """Correct a shipment's tracking number (and carrier) and send its confirmation to Amazon again.

    A confirmation of that shipment not yet sent (or failed) is replaced by the corrected one."""
    with reported_errors(), unit_of_work() as session:
        order = find_order(session, id_or_ref, channel=channel)
        done = correct_tracking(
            session,
            order,
            reference=shipment,
            tracking_number=tracking,
            carrier=carrier,
            now=utc_now(),
            by="cli",
        )
        line = (
            f"order {order.external_ref or order.id}: shipment {done.shipment.reference} now "
            f"{done.shipment.carrier or 'no carrier'} {done.shipment.tracking_number or ''}".rstrip()
        )
        if done.message_id is not None:
            line += f"; the corrected confirmation is queued for Amazon (outbox message {done.message_id})"
    console.print(line, highlight=False)


def ship_csv_command(file: CsvFile) -> None:
    """Ship the orders of a CSV file, each whole: all of them, or none.

    Columns: order_id (the channel's order id, e.g. Amazon's), carrier (from `orderbridge carriers
    list`), tracking (needed unless the carrier has none; always for Amazon orders), ship_date
    (optional, YYYY-MM-DD). Every line is checked first; any bad line (named by its number) means
    nothing ships; exit code 1."""
    with reported_errors():
        table = read_csv(file)
        with unit_of_work() as session:
            shipped = ship_from_csv(session, table, now=utc_now())
    console.print(
        f"{shipped.source}: shipped {len(shipped.orders)} order(s), {shipped.units} unit(s)", highlight=False
    )


@carriers.command("list")
def carriers_list(as_json: AsJson = False) -> None:
    """Every carrier, and whether its shipments carry tracking numbers."""
    with unit_of_work() as session:
        found = list_carriers(session)
    if as_json:
        print_json([asdict(c) for c in found])
        return
    rows = [[c.name, yes_no(c.has_tracking)] for c in found]
    print_table("Carriers", ["carrier", "tracking numbers"], rows)


@carriers.command("add")
def carriers_add(
    name: Annotated[str, typer.Argument(help="The carrier's name, as shipments give it.")],
    no_tracking: Annotated[
        bool, typer.Option("--no-tracking", help="Its shipments have no tracking number.")
    ] = False,
) -> None:
    """Add a carrier, or change whether an existing one has tracking numbers."""
    with reported_errors(), unit_of_work() as session:
        carrier = save_carrier(session, name, has_tracking=not no_tracking)
        line = f"carrier {carrier.name}: " + (
            "tracking numbers required" if carrier.has_tracking else "no tracking numbers"
        )
    console.print(line, highlight=False)


@shipping_methods.command("list")
def shipping_methods_list(as_json: AsJson = False) -> None:
    """Every shipping method the channels have sent, its carrier and how many orders use it."""
    with unit_of_work() as session:
        found = shipping_method_listing(session)
    if as_json:
        print_json([asdict(m) for m in found])
        return
    rows = [[m.name, m.carrier, m.orders] for m in found]
    print_table(
        "Shipping methods", ["shipping method", "carrier", "orders"], rows, right=frozenset({"orders"})
    )


@shipping_methods.command("set-carrier")
def shipping_methods_set_carrier(
    name: Annotated[str, typer.Argument(help="The shipping method, as `shipping-methods list` shows it.")],
    carrier: Annotated[str | None, typer.Argument(help="A carrier from `orderbridge carriers list`.")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove the method's carrier.")] = False,
) -> None:
    """Name the carrier a shipping method's orders ship with (O8): shipping such an order without a
    carrier uses it. A method not seen on an order yet is added, e.g. Amazon's STANDARD or NEXT_DAY."""
    if (carrier is None) == (not clear):
        raise fail("give a CARRIER, or --clear to remove the method's carrier")
    method_name = name.strip()
    if not method_name or len(method_name) > 200:
        raise fail(f"shipping method {name!r}: must be 1 to 200 characters")
    with reported_errors(), unit_of_work() as session:
        known = session.scalar(select(ShippingMethod.id).where(ShippingMethod.name == method_name))
        chosen = None
        if carrier is not None:
            found = find_carrier(session, carrier)
            if found is None:
                raise fail(
                    f"carrier {carrier!r} is not on the carrier list (see `orderbridge carriers list`)"
                )
            chosen = found.name
        set_carrier(session, method_name, chosen)
    line = f"shipping method {method_name}: " + (f"carrier {chosen}" if chosen else "no carrier")
    if known is None:
        line += " (a new shipping method: no order has it yet)"
    console.print(line, highlight=False)


@dataclass(frozen=True)
class ShippingMethodView:
    name: str
    carrier: str | None
    orders: int


def shipping_method_listing(session: Session) -> list[ShippingMethodView]:
    orders = (
        select(func.count(SalesOrder.id))
        .where(SalesOrder.shipping_method_id == ShippingMethod.id)
        .scalar_subquery()
    )
    query = select(ShippingMethod.name, ShippingMethod.carrier, orders).order_by(ShippingMethod.name)
    return [ShippingMethodView(name, carrier, int(count)) for name, carrier, count in session.execute(query)]
