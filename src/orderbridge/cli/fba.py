"""`orderbridge inbound list|show|sync`, `fba claims|stock|warehouses|map-warehouse|opening-balance` and
`notices list|send`."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select

from orderbridge.amazon.accounts import SellerAccount
from orderbridge.amazon.fba import inbound as inbound_shipments
from orderbridge.amazon.fba.claims import claims as open_claims
from orderbridge.amazon.fba.ledger_booking import stock_by_centre
from orderbridge.amazon.fba_warehouses import fba_mappings, map_fba_warehouse
from orderbridge.book.catalog import Product
from orderbridge.book.inventory import Warehouse
from orderbridge.book.transfers import WarehouseTransfer
from orderbridge.cli.catalog import AsJson
from orderbridge.cli.context import console, errors, fail, sessions, settings, unit_of_work
from orderbridge.cli.output import print_json, print_table
from orderbridge.clock import utc_now
from orderbridge.errors import OrderbridgeError
from orderbridge.notify.mail import mail_settings, send_pending
from orderbridge.notify.notices import notices as all_notices

inbound = typer.Typer(
    help="FBA inbound shipments and the transfers they became (F3-F5).", no_args_is_help=True
)
fba = typer.Typer(
    help="FBA stock per fulfilment centre and account, its warehouses, and reimbursement claims.",
    no_args_is_help=True,
)
notices = typer.Typer(help="E-mails the book queued for you (F5): list, send.", no_args_is_help=True)
AccountOption = Annotated[
    str | None, typer.Option("--account", help="Account id or selling partner id (default: every account).")
]


@inbound.command("list")
def list_inbound(
    open_only: Annotated[bool, typer.Option("--open", help="Only shipments not closed yet.")] = False,
    as_json: AsJson = False,
) -> None:
    """Every inbound shipment seen at Amazon: status, transfer, and what waits (e.g. short stock)."""
    with sessions()() as session:
        records = inbound_shipments.shipments(session, open_only=open_only)
        refs = {t.id: t.reference for t in session.scalars(select(WarehouseTransfer))}
        rows = [
            {
                "shipment": r.shipment_id,
                "name": r.name or "",
                "centre": r.destination or "",
                "status": r.status,
                "transfer": refs.get(r.transfer_id or 0, ""),
                "waiting": r.problem or "",
            }
            for r in records
        ]
    if as_json:
        print_json(rows)
        return
    columns = ["shipment", "name", "centre", "status", "transfer", "waiting"]
    print_table("Inbound shipments", columns, [[row[c] for c in columns] for row in rows])


@inbound.command("show")
def show_inbound(
    shipment_id: Annotated[str, typer.Argument(help="Amazon's shipment id, e.g. FBA15DF2763D.")],
    as_json: AsJson = False,
) -> None:
    """One shipment: per SKU what was sent, received, over, short or unexpected."""
    with sessions()() as session:
        record = inbound_shipments.shipment(session, shipment_id)
        if record is None:
            raise fail(f"inbound shipment {shipment_id!r} is not known (see `orderbridge inbound list`)")
        transfer = session.get(WarehouseTransfer, record.transfer_id) if record.transfer_id else None
        lines = []
        if transfer is not None:
            source = session.get(Warehouse, transfer.source_warehouse_id)
            target = session.get(Warehouse, transfer.target_warehouse_id)
            route = f"{source.code if source else '?'} -> {target.code if target else '?'}"
            for row in transfer.rows:
                product = session.get(Product, row.product_id)
                over = max(row.quantity_received - row.quantity_sent, 0) if not row.unexpected else 0
                lines.append(
                    {
                        "sku": product.sku if product else str(row.product_id),
                        "sent": row.quantity_sent,
                        "received": row.quantity_received,
                        "in_transit": row.in_transit,
                        "over": over,
                        "short": row.quantity_short,
                        "unexpected": row.unexpected,
                    }
                )
        head = {
            "shipment": record.shipment_id,
            "name": record.name,
            "status": record.status,
            "centre": record.destination,
            "transfer": f"{transfer.reference} ({transfer.status}, {route})" if transfer else None,
            "waiting": record.problem,
        }
    if as_json:
        print_json({**head, "lines": lines})
        return
    for key, value in head.items():
        if value:
            console.print(f"{key:>9}: {value}", highlight=False)
    columns = ["sku", "sent", "received", "in_transit", "over", "short", "unexpected"]
    print_table(
        f"Shipment {shipment_id}",
        columns,
        [[line[c] for c in columns] for line in lines],
        right=frozenset(columns[1:6]),
    )


@inbound.command("sync")
def sync_inbound_command(account: AccountOption = None) -> None:
    """Poll Amazon's inbound shipments now (`orderbridge run` does it every 30 minutes)."""
    from orderbridge.cli.sync import _account_ids, cli_runtime
    from orderbridge.jobs import tasks

    ids = _account_ids(account)
    try:
        tasks.configure(cli_runtime())
        for account_id in ids:
            console.print(f"account {account_id}: {tasks.sync_account_inbound(account_id)['inbound']}")
    except OrderbridgeError as error:
        raise fail(str(error)) from None
    finally:
        tasks.configure(None)


@fba.command("claims")
def claims_command(
    include_settled: Annotated[
        bool, typer.Option("--all", help="Also losses Amazon has reconciled or reimbursed.")
    ] = False,
    window_days: Annotated[
        int, typer.Option(min=1, max=548, help="Days Amazon accepts a claim after the loss (policy: 60).")
    ] = 60,
    as_json: AsJson = False,
) -> None:
    """Lost or damaged FBA units Amazon has not reimbursed yet, with the date each claim window closes."""
    from datetime import timedelta

    now = utc_now()
    with sessions()() as session:
        found = open_claims(session, window=timedelta(days=window_days), include_settled=include_settled)
    rows = [
        {
            "sku": c.sku,
            "centre": c.fulfillment_center,
            "kind": c.kind,
            "happened": c.happened_at.date().isoformat(),
            "reference": c.reference_id,
            "units": c.units,
            "reimbursed": c.reimbursed,
            "open": c.open_units,
            "claim_by": c.window_closes.date().isoformat(),
            "expired": c.expired(now),
        }
        for c in found
    ]
    if as_json:
        print_json(rows)
        return
    if not rows:
        console.print("No open claims: every lost or damaged unit is reconciled or reimbursed.")
        return
    columns = ["sku", "centre", "kind", "happened", "reference", "units", "reimbursed", "open", "claim_by"]
    table = [[row[c] for c in columns] + (["expired"] if row["expired"] else [""]) for row in rows]
    print_table("FBA claims", [*columns, ""], table, right=frozenset({"units", "reimbursed", "open"}))


@fba.command("stock")
def stock_command(account: AccountOption = None, as_json: AsJson = False) -> None:
    """Sellable FBA units per SKU and fulfilment centre, from the inventory ledger."""
    with sessions()() as session:
        query = select(SellerAccount)
        if account is not None:
            query = query.where(
                (SellerAccount.selling_partner_id == account) | (SellerAccount.id == _int(account))
            )
        rows = [
            {"account": a.label, "sku": sku, "centre": fc, "units": units}
            for a in session.scalars(query)
            for (sku, fc), units in sorted(stock_by_centre(session, a.id).items())
        ]
    if as_json:
        print_json(rows)
        return
    columns = ["account", "sku", "centre", "units"]
    print_table(
        "FBA stock by centre", columns, [[r[c] for c in columns] for r in rows], right=frozenset({"units"})
    )


@fba.command("warehouses")
def warehouses_command(as_json: AsJson = False) -> None:
    """Which warehouse holds each account's FBA stock per FBA region (made on first need)."""
    with sessions()() as session:
        rows = [mapping.__dict__ for mapping in fba_mappings(session)]
    if as_json:
        print_json(rows)
        return
    columns = ["account", "region", "warehouse"]
    print_table("FBA warehouses per account", columns, [[r[c] for c in columns] for r in rows])


@fba.command("map-warehouse")
def map_warehouse_command(
    account: Annotated[str, typer.Argument(help="Selling partner id (or account id).")],
    region: Annotated[
        str, typer.Argument(help="The FBA region: as `fba warehouses` lists it (e.g. EU, FBA).")
    ],
    warehouse: Annotated[str, typer.Argument(help="Code of an FBA warehouse.")],
    as_json: AsJson = False,
) -> None:
    """Hold an account's FBA stock of a region in this warehouse (another account's too, to keep them
    together). Map before the account's first FBA sync: stock already booked stays where it is."""
    from orderbridge.cli.sync import _accounts

    try:
        with unit_of_work() as session:
            (found,) = _accounts(session, account)
            mapping = map_fba_warehouse(session, found, region, warehouse)
    except OrderbridgeError as error:
        raise fail(str(error)) from None
    if as_json:
        print_json(mapping.__dict__)
        return
    console.print(
        f"account {mapping.account}: FBA stock of {mapping.region} is held in {mapping.warehouse}",
        highlight=False,
    )


@fba.command("opening-balance")
def opening_balance_command(
    account: AccountOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show Amazon's count and the changes; book nothing.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Set FBA stock per SKU and centre to Amazon's count (ledger summary view, end of yesterday).

    The first report sync of an account does this by itself; run it to re-count, e.g. after fixing a
    listing connection. Ledger rows dated before the count never move stock again."""
    from orderbridge.cli.sync import _account_ids, cli_runtime
    from orderbridge.jobs import tasks

    ids = _account_ids(account)
    out = []
    try:
        tasks.configure(cli_runtime())
        for account_id in ids:
            out.append({"account": account_id, **tasks.take_fba_opening(account_id, dry_run=dry_run)})
    except OrderbridgeError as error:
        raise fail(str(error)) from None
    finally:
        tasks.configure(None)
    if as_json:
        print_json(out)
        return
    for result in out:
        console.print(f"account {result['account']}: {result['opening']}", highlight=False)
        columns = ["sku", "centre", "amazon", "book", "change"]
        changed = [[line[c] for c in columns] for line in result["lines"] if line["change"]]
        if changed:
            print_table("FBA opening balance", columns, changed, right=frozenset(columns[2:]))
        for problem in result["refused"]:
            errors.print(f"refused: {problem}", highlight=False)


def _int(text: str) -> int:
    return int(text) if text.isdigit() else -1


@notices.command("list")
def list_notices(
    pending: Annotated[bool, typer.Option("--pending", help="Only notices not sent yet.")] = False,
    as_json: AsJson = False,
) -> None:
    with sessions()() as session:
        rows = [
            {
                "id": n.id,
                "kind": n.kind,
                "subject": n.subject,
                "queued": n.created_at.isoformat(timespec="minutes"),
                "sent": n.sent_at.isoformat(timespec="minutes") if n.sent_at else "",
                "error": n.last_error or "",
            }
            for n in all_notices(session)
            if not pending or n.sent_at is None
        ]
    if as_json:
        print_json(rows)
        return
    columns = ["id", "kind", "subject", "queued", "sent", "error"]
    print_table("Notices", columns, [[r[c] for c in columns] for r in rows])


@notices.command("send")
def send_notices_command() -> None:
    """Send every pending notice now over the SMTP server in the settings (smtp_host, mail_to ...)."""
    mail = mail_settings(settings())
    if mail is None:
        raise fail("no smtp_host is set: set ORDERBRIDGE_SMTP_HOST, _MAIL_FROM and _MAIL_TO (see README)")
    try:
        report = send_pending(sessions(), mail, clock=utc_now)
    except OrderbridgeError as error:
        raise fail(str(error)) from None
    console.print(f"{report.sent} sent, {report.failed} failed")
    for line in report.errors[:5]:
        errors.print(line, highlight=False)
    if report.failed:
        raise typer.Exit(1)
