"""`orderbridge orders tracking|ship-csv` and `orderbridge carriers ...`: correcting a shipment's
tracking (the confirmation goes to Amazon again), shipping from a file, and the carrier list."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from orderbridge.amazon.outbound.corrections import correct_tracking
from orderbridge.book.orders.carriers import list_carriers, save_carrier
from orderbridge.cli.catalog import AsJson, CsvFile
from orderbridge.cli.context import console, unit_of_work
from orderbridge.cli.orders import find_order
from orderbridge.cli.output import print_json, print_table, reported_errors, yes_no
from orderbridge.clock import utc_now
from orderbridge.imports.csv_source import read_csv
from orderbridge.imports.shipments import ship_from_csv

carriers = typer.Typer(
    help="Carriers: the list shipments choose from, and which have no tracking numbers.",
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
