"""`orderbridge reports sync|import|list|quarantine|retry`, `settlements list|show` and `orders trail`."""

from __future__ import annotations

import csv
import itertools
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy import select

from orderbridge.amazon.accounts import list_accounts
from orderbridge.amazon.reports.booking import ImportResult, import_report_file, retry_quarantined_rows
from orderbridge.amazon.reports.handlers import load_handlers
from orderbridge.amazon.reports.inbox import AmazonReport, quarantined_rows
from orderbridge.book.alerts import Subject, open_alerts
from orderbridge.book.money_trail import order_trail
from orderbridge.book.settlements import Settlement, settlement_by_reference, totals_by_kind, unknown_orders
from orderbridge.cli.catalog import AsJson
from orderbridge.cli.context import console, errors, fail, read_only, sessions
from orderbridge.cli.orders import find_order
from orderbridge.cli.output import money, print_json, print_table
from orderbridge.clock import utc_now
from orderbridge.errors import OrderbridgeError

reports = typer.Typer(
    help="Amazon's reports: sync, import a downloaded file, see what was booked.", no_args_is_help=True
)
settlements = typer.Typer(
    help="Settlements: what Amazon paid out, reconciled to the deposit.", no_args_is_help=True
)
TypeOption = Annotated[
    str | None,
    typer.Option("--type", help="One report type, e.g. GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2."),
]
AccountOption = Annotated[
    str | None, typer.Option("--account", help="Account id or selling partner id (default: every account).")
]


def _known_type(report_type: str | None) -> None:
    known = load_handlers()
    if report_type is not None and report_type not in known:
        raise typer.BadParameter(
            f"{report_type!r} is not a report type orderbridge books; known: {', '.join(sorted(known))}",
            param_hint="--type",
        )


def _one_account(wanted: str | None, marketplace: str | None = None, file: Path | None = None) -> int:
    """The account a report file is for: the one named, else the only one, else the one selling in the
    file's marketplace (`--marketplace`, or the settlement's marketplace-name column)."""
    with read_only() as session:
        accounts = list_accounts(session)
        if wanted is not None:
            found = [a for a in accounts if str(a.id) == wanted or a.selling_partner_id == wanted]
            if not found:
                raise fail(f"reports import: no account {wanted} (see `orderbridge accounts list`)")
        elif len(accounts) > 1:
            market = marketplace or (_file_marketplace(file) if file is not None else None)
            found = [a for a in accounts if market in a.marketplace_ids] if market else accounts
        else:
            found = accounts
        if not found:
            raise fail("reports import: no Amazon account yet (add one with `orderbridge accounts add`)")
        if len(found) > 1:
            named = "; ".join(f"{a.selling_partner_id} ({', '.join(a.marketplace_ids)})" for a in found)
            raise fail(f"reports import: the file could be for {named}: name one with --account")
        return found[0].id


def _file_marketplace(file: Path) -> str | None:
    """The marketplace a report file names in its first rows (settlements' marketplace-name), if any."""
    from orderbridge.amazon.reports.locales import marketplace_by_name

    try:
        with file.open(encoding="utf-8", errors="replace", newline="") as text:
            rows = csv.DictReader(itertools.islice(text, 200), delimiter="\t")
            names = {(row.get("marketplace-name") or "").strip() for row in rows} - {""}
    except (OSError, csv.Error):
        return None
    markets = {marketplace_by_name(name) for name in names} - {None}
    return markets.pop() if len(markets) == 1 else None


@reports.command("sync")
def sync_reports_command(report_type: TypeOption = None, account: AccountOption = None) -> None:
    """Request, download and book Amazon's reports (settlements are discovered, never requested)."""
    from orderbridge.cli.sync import _account_ids, cli_runtime
    from orderbridge.jobs import tasks

    _known_type(report_type)
    ids = _account_ids(account)
    try:
        tasks.configure(cli_runtime())
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=errors
        ) as bar:
            for account_id in ids:
                task = bar.add_task(f"account {account_id}: reports", total=None)
                result = tasks.sync_account_reports(account_id, report_type)
                bar.update(task, completed=1, total=1)
                console.print(f"account {account_id}: {result['reports']}", highlight=False)
    except OrderbridgeError as error:
        raise fail(str(error)) from None


@reports.command("import")
def import_report_command(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The report file.")
    ],
    report_type: Annotated[str, typer.Option("--type", help="The file's report type (its Amazon name).")],
    account: AccountOption = None,
    marketplace: Annotated[
        str | None, typer.Option(help="Marketplace id the file is for (dates and decimals follow it).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Book a report file downloaded from Seller Central; importing it again books nothing twice."""
    from orderbridge.amazon.reports.booking import ReportSource

    _known_type(report_type)
    account_id = _one_account(account, marketplace, file)
    source = ReportSource(marketplace_ids=(marketplace,) if marketplace else ())
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), console=errors, disable=as_json
        ) as bar:
            task = bar.add_task(f"{file.name}: reading", total=None)
            result = import_report_file(
                sessions(),
                account_id=account_id,
                report_type=report_type,
                path=file,
                clock=utc_now,
                source=source,
                progress=lambda n: bar.update(task, description=f"{file.name}: {n} rows booked or checked"),
            )
    except OrderbridgeError as error:
        raise fail(str(error)) from None
    _print_result(result, as_json)


def _print_result(result: ImportResult, as_json: bool) -> None:
    if as_json:
        print_json(asdict(result))
        return
    console.print(result.line(), highlight=False)
    if result.quarantined:
        console.print("see them with `orderbridge reports quarantine`", highlight=False)


@reports.command("list")
def list_reports(report_type: TypeOption = None, limit: int = 30, as_json: AsJson = False) -> None:
    """The reports downloaded or imported, newest first, with their row counts."""
    with read_only() as session:
        query = select(AmazonReport).order_by(AmazonReport.created_at.desc()).limit(limit)
        if report_type is not None:
            query = query.where(AmazonReport.report_type == report_type)
        found = list(session.scalars(query))
        rows = [
            [
                r.id,
                r.report_type,
                r.report_id[:24],
                r.source,
                str(r.state),
                f"{r.data_start:%Y-%m-%d}" if r.data_start else "",
                f"{r.data_end:%Y-%m-%d}" if r.data_end else "",
                r.rows_read,
                r.rows_booked,
                r.rows_known,
                r.rows_quarantined,
            ]
            for r in found
        ]
    columns = [
        "id",
        "type",
        "report",
        "source",
        "state",
        "from",
        "to",
        "read",
        "booked",
        "known",
        "quarantined",
    ]
    if as_json:
        print_json([dict(zip(columns, row, strict=True)) for row in rows])
        return
    print_table("Reports", columns, rows, right=frozenset(columns[7:]))


@reports.command("quarantine")
def show_quarantine(report_type: TypeOption = None, as_json: AsJson = False) -> None:
    """Rows that could not be booked, with their report, line and reason."""
    with read_only() as session:
        rows = [
            [r.id, r.report_type, r.report_id, r.line, r.reason or ""]
            for r in quarantined_rows(session, report_type=report_type)
        ]
    columns = ["id", "type", "report", "line", "reason"]
    if as_json:
        print_json([dict(zip(columns, row, strict=True)) for row in rows])
        return
    print_table("Quarantined report rows", columns, rows)


@reports.command("retry")
def retry_quarantine(
    report_type: Annotated[str, typer.Option("--type")], account: AccountOption = None
) -> None:
    """Book quarantined rows of a report type again (after adding a product or fixing a setting), for
    every account or the one named."""
    _known_type(report_type)
    with read_only() as session:
        ids = [a.id for a in list_accounts(session)]
    ids = [_one_account(account)] if account is not None else ids
    booked = quarantined = 0
    for account_id in ids:
        try:
            result = retry_quarantined_rows(
                sessions(), account_id=account_id, report_type=report_type, clock=utc_now
            )
        except OrderbridgeError as error:
            raise fail(str(error)) from None
        booked, quarantined = booked + result.booked, quarantined + result.quarantined
    console.print(f"{booked} booked, {quarantined} still quarantined", highlight=False)


@settlements.command("list")
def list_settlements(limit: int = 30, as_json: AsJson = False) -> None:
    """Settlements, newest first, with their deposit and whether they reconcile."""
    with read_only() as session:
        found = list(session.scalars(select(Settlement).order_by(Settlement.period_end.desc()).limit(limit)))
        rows = [
            [
                s.reference,
                f"{s.period_start:%Y-%m-%d}" if s.period_start else "",
                f"{s.period_end:%Y-%m-%d}" if s.period_end else "",
                f"{s.deposit_date:%Y-%m-%d}" if s.deposit_date else "",
                s.currency,
                money(s.deposit_total, s.currency),
                money(s.difference, s.currency),
                str(s.status),
            ]
            for s in found
        ]
    columns = ["settlement", "from", "to", "deposit date", "currency", "deposit", "difference", "status"]
    if as_json:
        print_json([dict(zip(columns, row, strict=True)) for row in rows])
        return
    print_table("Settlements", columns, rows, right=frozenset({"deposit", "difference"}))


@settlements.command("show")
def show_settlement(
    reference: Annotated[
        str, typer.Argument(metavar="ID", help="The settlement id (Amazon's settlement-id).")
    ],
    as_json: AsJson = False,
) -> None:
    """One settlement's reconciliation: deposit, totals by kind and fee type, unknown orders, alerts."""
    with read_only() as session:
        settlement = settlement_by_reference(session, reference)
        if settlement is None:
            raise fail(f"settlement {reference!r} is not in the book (see `orderbridge settlements list`)")
        totals = totals_by_kind(session, settlement.id)
        unknown = unknown_orders(session, settlement.id)
        alerts = [a.message for a in open_alerts(session, Subject.SETTLEMENT, settlement.id)]
        cur = settlement.currency
        summary = {
            "settlement": settlement.reference,
            "period": f"{settlement.period_start:%Y-%m-%d} .. {settlement.period_end:%Y-%m-%d}",
            "deposit_date": settlement.deposit_date,
            "currency": cur,
            "deposit": money(settlement.deposit_total, cur),
            "lines_total": money(settlement.lines_total, cur),
            "difference": money(settlement.difference, cur),
            "status": str(settlement.status),
        }
    if as_json:
        print_json(
            {
                **summary,
                "totals": [
                    {
                        "kind": str(t.kind),
                        "type": t.description,
                        "nominal_code": t.nominal_code,
                        "amount": t.amount,
                        "lines": t.lines,
                    }
                    for t in totals
                ],
                "unknown_orders": unknown,
                "alerts": alerts,
            }
        )
        return
    for name, value in summary.items():
        console.print(f"{name.replace('_', ' ')}: {value}", highlight=False)
    print_table(
        "By kind and type",
        ["kind", "type", "nominal code", "amount", "lines"],
        [[str(t.kind), t.description, t.nominal_code, money(t.amount, cur), t.lines] for t in totals],
        right=frozenset({"amount", "lines"}),
    )
    if unknown:
        console.print(f"orders not in the book ({len(unknown)}): " + ", ".join(unknown), highlight=False)
    for message in alerts:
        console.print(f"[yellow]alert:[/yellow] {message}", highlight=False)


def trail_command(
    id_or_ref: Annotated[
        str, typer.Argument(metavar="ID_OR_REF", help="The order's id or channel reference.")
    ],
    channel: Annotated[
        str | None, typer.Option(help="The channel (code) when a reference is on several.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """The order's money trail: shipments, settlement lines (principal, fees, withheld tax), refunds,
    reimbursements, and why what reached you differs from the order's total."""
    with read_only() as session:
        trail = order_trail(session, find_order(session, id_or_ref, channel=channel))
    if as_json:
        print_json(asdict(trail) | {"released": trail.released, "received": trail.received})
        return
    cur = trail.currency
    console.print(
        f"order {trail.order_id} ({trail.reference}, {trail.fulfilment}) placed {trail.placed_at:%Y-%m-%d}: "
        f"gross {money(trail.total_gross, cur)} {cur}, withheld tax {money(trail.withheld_tax, cur)}, "
        f"owed {money(trail.amount_owed, cur)}, paid {money(trail.amount_paid, cur)} "
        f"({trail.payment_status})",
        highlight=False,
    )
    print_table(
        "Shipments",
        ["shipment", "shipped", "units"],
        [[s.reference, f"{s.shipped_at:%Y-%m-%d}", s.units] for s in trail.shipments],
    )
    for step in trail.settlements:
        print_table(
            f"Settlement {step.reference} ({step.status}): net {money(step.net, cur)} {cur}",
            ["line", "kind", "transaction", "type", "sku", "qty", "amount", "nominal code"],
            [
                [
                    x.line,
                    x.kind,
                    x.transaction_type,
                    x.description,
                    x.sku,
                    x.quantity,
                    money(x.amount, cur),
                    x.nominal_code,
                ]
                for x in step.lines
            ],
            right=frozenset({"amount", "qty"}),
        )
    if not trail.settlements:
        console.print("(in no settlement yet)", highlight=False)
    print_table(
        "Sales credits",
        ["credit", "reason", "created", "gross", "payment"],
        [
            [c.reference, c.reason, f"{c.created_at:%Y-%m-%d}", money(c.total_gross, cur), c.payment_status]
            for c in trail.credits
        ],
    )
    console.print(
        f"released for the sale {money(trail.released, cur)}, received after fees and refunds "
        f"{money(trail.received, cur)} {cur}",
        highlight=False,
    )
    for variance in trail.variances:
        console.print(f"  {money(variance.amount, cur):>10} {cur}  {variance.reason}", highlight=False)
