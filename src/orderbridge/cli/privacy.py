"""`orderbridge privacy|archive|incidents|keys|seller ...`: sweep, proof, archive, incident register, keys.

Thin commands over `orderbridge.privacy`: parse, call one function, render. Nothing here prints PII
except `privacy reveal`, which is audited (AC-21).
"""

from __future__ import annotations

import os
from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.pii import pii_fields
from orderbridge.cli import context
from orderbridge.cli.context import cli_actor, console, errors, fail, settings
from orderbridge.cli.orders import find_order
from orderbridge.cli.output import print_json, print_table
from orderbridge.clock import utc_now
from orderbridge.privacy import archive as sealed_archive
from orderbridge.privacy import audit, incidents, key_lifecycle
from orderbridge.privacy.errors import PrivacyError
from orderbridge.privacy.index_rotation import rotate_index_keys
from orderbridge.privacy.keystore import KEK_ENV
from orderbridge.privacy.models import AuditAction
from orderbridge.privacy.purge import purge_seller_data
from orderbridge.privacy.repair import repair_book
from orderbridge.privacy.report import retention_report
from orderbridge.privacy.retention import Sweep
from orderbridge.privacy.sealing import Privacy, reveal

privacy = typer.Typer(help="Buyer data under Amazon's DPP: sweep, report, reveal.", no_args_is_help=True)
archive = typer.Typer(help="The sealed cold archive (P6): keys, integrity, restore.", no_args_is_help=True)
incidents_app = typer.Typer(help="Security incidents; Amazon must know in 24 h (P9).", no_args_is_help=True)
keys = typer.Typer(help="The key store: rotation of the key-encryption key.", no_args_is_help=True)
seller = typer.Typer(help="Purge one seller (authorisation revoked or Amazon notice).", no_args_is_help=True)

Actor = Annotated[str, typer.Option(help="Who acts (a user id, for the audit log).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def open_privacy() -> Privacy:
    """Privacy as configured: the key store outside the data directory, the retention period."""
    try:
        return context.privacy()
    except PrivacyError as error:
        raise fail(str(error)) from None


def _writer() -> sealed_archive.ArchiveWriter | None:
    config = settings()
    if not config.archive_public_key_file.exists():
        return None
    return sealed_archive.ArchiveWriter(
        config.archive_dir, sealed_archive.load_public_key(config.archive_public_key_file)
    )


# -- privacy ---------------------------------------------------------------------------------------


@privacy.command("sweep")
def sweep_command(
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count what is due; change nothing.")] = False,
    batch: Annotated[int, typer.Option(min=1, help="Records per transaction.")] = 2000,
    no_archive: Annotated[
        bool, typer.Option("--no-archive", help="Redact without archiving (no archive key).")
    ] = False,
) -> None:
    """Archive, redact and shred every record past its retention due time (P1, P4); idempotent."""
    wired = open_privacy()
    writer = _writer()
    if writer is None and not no_archive and not dry_run:
        raise fail(
            f"no archive public key at {settings().archive_public_key_file}: "
            "run `orderbridge archive keygen` (or sweep with --no-archive)"
        )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def tick(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(f"redacting {phase}", total=total)
            progress.update(tasks[phase], completed=done)

        try:
            sweep = Sweep(
                context.sessions(),
                wired,
                writer,
                clock=utc_now,
                actor=cli_actor(),
                batch_size=batch,
                progress=tick,
                non_pii_legal_basis=settings().non_pii_legal_basis,
            )
            report = sweep.run(dry_run=dry_run)
        except PrivacyError as error:
            raise fail(str(error)) from None
    verb = "due (dry run)" if dry_run else "redacted"
    console.print(f"orders {verb}: {report.orders}; contacts {verb}: {report.contacts}")
    if not dry_run:
        console.print(
            f"sealed {report.sealed} plaintext record(s); archived {report.archived} in "
            f"{len(report.archive_files)} file(s); destroyed {len(report.keys_destroyed)} key(s); "
            f"rolled {len(report.keys_rolled)} open key(s)"
        )
        if settings().non_pii_legal_basis:
            console.print(f"Amazon data past 18 months kept: {settings().non_pii_legal_basis}")
        else:
            console.print(
                f"deleted {report.old_orders_deleted} Amazon order(s) and {report.old_contacts_deleted} "
                "contact(s) past 18 months (no legal basis configured, AC-29)"
            )
    for problem in report.problems:
        errors.print(f"[yellow]warning:[/yellow] {problem}", highlight=False)


@privacy.command("report")
def report_command(as_json: AsJson = False) -> None:
    """Records holding PII, due in 7 days, overdue (must be 0), last sweep, archives, 18-month data (AC-1)."""
    wired = open_privacy()
    with context.sessions()() as session:
        config = settings()
        found = retention_report(
            session,
            wired,
            config.archive_dir,
            clock=utc_now,
            legal_basis=config.non_pii_legal_basis,
            impoc=config.impoc,
            ir_plan_reviewed_on=config.ir_plan_reviewed_on,
        )
    if as_json:
        print_json(found.as_dict())
    else:
        basis = found.non_pii_legal_basis or "none configured: the sweep deletes them"
        review = found.ir_plan_review_due.isoformat() if found.ir_plan_review_due else "never reviewed"
        rows: list[list[object]] = [
            ["Amazon orders holding PII", found.amazon_orders_holding_pii],
            ["Amazon contacts holding PII", found.amazon_contacts_holding_pii],
            ["due in the next 7 days", found.due_next_7_days],
            ["overdue (must be 0)", found.overdue],
            ["last sweep", f"{found.last_sweep_at:%Y-%m-%d %H:%M:%S}" if found.last_sweep_at else "never"],
            ["archive files (entries)", f"{found.archive_files} ({found.archive_entries})"],
            ["archive integrity", "ok" if found.archive_ok else "DAMAGED: run orderbridge archive verify"],
            ["live epoch keys / destroyed keys", f"{found.live_epoch_keys} / {found.destroyed_keys}"],
            ["audit head", f"{found.audit_head_seq} {found.audit_head_hash or ''}"],
            ["Amazon orders older than 18 months", found.amazon_orders_older_than_18_months],
            ["their legal basis", basis],
            [
                "security incidents open / overdue to report",
                f"{found.incidents_open} / {found.incidents_overdue}",
            ],
            ["incident point of contact (IMPOC)", found.impoc or "NOT SET: ORDERBRIDGE_IMPOC"],
            [
                "incident-response plan review due",
                review + (" (OVERDUE)" if found.ir_plan_review_overdue else ""),
            ],
        ]
        print_table(f"Retention ({found.retention_days} days)", ["what", "value"], rows)
    if found.incidents_overdue:
        errors.print(
            f"[red]{found.incidents_overdue} security incident(s) past the 24 hours to tell Amazon[/red]: "
            "orderbridge incidents list --open",
            highlight=False,
        )
    if found.overdue or found.incidents_overdue:
        raise typer.Exit(1)


@privacy.command("reveal")
def reveal_command(
    order: Annotated[
        str, typer.Option(help="The Amazon order id (e.g. 202-1234567-1234567) or the book's order id.")
    ],
    purpose: Annotated[str, typer.Option(help="Why: ship_label, tax_invoice, support, ...")],
    field: Annotated[list[str] | None, typer.Option(help="A PII field (default: every one).")] = None,
    channel: Annotated[
        str | None, typer.Option(help="The channel, when the same reference is on several.")
    ] = None,
    actor: Actor = "",
) -> None:
    """Show an order's buyer data to someone allowed to see it; the read is audited (R4, AC-21)."""
    with context.sessions().begin() as session:
        try:
            found = find_order(session, order.strip(), channel=channel)
        except typer.BadParameter as error:
            several = "channels" in error.message
            raise fail(error.message if several else f"order {order} does not exist") from None
        label = found.external_ref or str(found.id)
        names = field or pii_fields(SalesOrder.__table__)
        try:
            shown = reveal(session, found, names, actor=actor or cli_actor(), purpose=purpose, clock=utc_now)
        except PrivacyError as error:
            raise fail(str(error)) from None
    print_table(f"Order {label} (read audited)", ["field", "value"], [[k, v or ""] for k, v in shown.items()])


@privacy.command("repair")
def repair_command() -> None:
    """Re-seal repeat buyers' order data that an older version sealed for the wrong row."""
    found = repair_book(context.sessions(), open_privacy())
    console.print(f"{found.checked} sealed value(s) checked, {found.resealed} sealed again for their own row")
    for label, names in sorted(found.unreadable.items()):
        console.print(f"cannot be opened: {label} ({', '.join(names)})")
    if found.unreadable:
        raise typer.Exit(1)


# -- archive ---------------------------------------------------------------------------------------


@archive.command("keygen")
def archive_keygen(
    private_key: Annotated[Path, typer.Option(help="Where to write the private key (take it offline).")],
) -> None:
    """Make the archive key pair; the running system keeps only the public key (AC-14)."""
    public = settings().archive_public_key_file
    try:
        for directory in (private_key.parent, public.parent):
            directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        fingerprint = sealed_archive.keygen(private_key, public)
    except PrivacyError as error:
        raise fail(str(error)) from None
    console.print(f"archive key {fingerprint}: public key {public}")
    console.print(
        f"[bold]Move {private_key} to offline storage now[/bold] (a hardware token, paper, another machine) "
        "and delete it here: this system must never hold it. Without it no archive can be restored."
    )


@archive.command("rotate")
def archive_rotate(
    private_key: Annotated[Path, typer.Option(help="Where to write the NEW private key (take it offline).")],
) -> None:
    """Replace the archive key pair (yearly, or when the private key may be exposed); logged (AC-20)."""
    public = settings().archive_public_key_file
    if not public.exists():
        raise fail(f"no archive public key at {public}: run `orderbridge archive keygen` first")
    try:
        private_key.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        old, new = sealed_archive.rotate_key(private_key, public)
    except PrivacyError as error:
        raise fail(str(error)) from None
    with context.sessions().begin() as session:
        audit.append(
            session,
            actor=cli_actor(),
            action=AuditAction.ARCHIVE_KEY_ROTATED,
            detail={"from_key": old, "to_key": new},
            clock=utc_now,
        )
    console.print(f"archive key {old} replaced by {new}; new archive files are sealed to {new}")
    console.print(
        f"[bold]Move {private_key} to offline storage now[/bold] and delete it here. Keep the old private "
        f"key ({old}) offline too: files sealed to it need it to restore (give both with --key)."
    )


@archive.command("verify")
def archive_verify() -> None:
    """Check every archive file's integrity without the private key (run it on a schedule)."""
    directory = settings().archive_dir
    found = sealed_archive.verify(directory) if directory.exists() else sealed_archive.ArchiveReport([])
    rows = [[c.file, c.entries, c.recipient, "; ".join(c.problems) or "ok"] for c in found.files]
    print_table("Archive files", ["file", "entries", "key", "integrity"], rows)
    with context.sessions().begin() as session:
        audit.append(
            session,
            actor=cli_actor(),
            action=AuditAction.ARCHIVE_VERIFIED,
            detail={"files": len(found.files), "damaged": len(found.damaged)},
            clock=utc_now,
        )
    if not found.ok:
        damaged = ", ".join(c.file for c in found.damaged)
        raise fail(f"{len(found.damaged)} archive file(s) damaged: {damaged}")


@archive.command("restore")
def archive_restore(
    key: Annotated[
        list[Path], typer.Option(help="An offline archive private key file (repeat for rotated keys).")
    ],
    order: Annotated[str | None, typer.Option(help="One Amazon order id.")] = None,
    date_from: Annotated[str | None, typer.Option("--from", help="First order day (YYYY-MM-DD).")] = None,
    date_to: Annotated[str | None, typer.Option("--to", help="Last order day (YYYY-MM-DD).")] = None,
    as_json: AsJson = False,
) -> None:
    """Recover archived tax fields for an audit; never write them back into the book (P6)."""
    if order is None and date_from is None and date_to is None:
        raise fail("give --order or --from/--to")
    try:
        first = date.fromisoformat(date_from) if date_from else None
        last = date.fromisoformat(date_to) if date_to else None
        restored = sealed_archive.restore(
            settings().archive_dir, key, order_id=order, date_from=first, date_to=last
        )
    except ValueError as error:
        raise fail(f"bad date: {error}") from None
    except PrivacyError as error:
        raise fail(str(error)) from None
    unique = {(r.order_id, r.day): r for r in restored}.values()  # a re-run sweep may archive twice
    if as_json:
        print_json([{"order_id": r.order_id, "day": r.day, **dict(r.fields)} for r in unique])
    else:
        rows = [
            [r.order_id, r.day.isoformat(), "; ".join(f"{k}: {v}" for k, v in r.fields.items())]
            for r in unique
        ]
        print_table("Restored from the archive", ["order", "day", "fields"], rows)
    with context.sessions().begin() as session:
        audit.append(
            session,
            actor=cli_actor(),
            action=AuditAction.ARCHIVE_RESTORED,
            subjects=[f"order:{r.order_id}" for r in list(unique)[:50]],
            detail={"records": len(unique)},
            clock=utc_now,
        )


# -- incidents -------------------------------------------------------------------------------------


@incidents_app.command("open")
def incident_open(
    summary: Annotated[str, typer.Option(help="What happened (ids, never buyer data).")],
    detected: Annotated[str | None, typer.Option(help="Detection time (ISO; default now).")] = None,
    actor: Actor = "",
) -> None:
    """Record a security incident; Amazon must be told within 24 hours of detection (P9, AC-27)."""
    try:
        at = datetime.fromisoformat(detected) if detected else utc_now()
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        with context.sessions().begin() as session:
            incident = incidents.open_incident(
                session, summary=summary, detected_at=at, actor=actor or cli_actor(), clock=utc_now
            )
            shown = incidents.view(incident, utc_now())
    except ValueError as error:
        raise fail(f"bad time: {error}") from None
    except PrivacyError as error:
        raise fail(str(error)) from None
    console.print(
        f"incident {shown.id} recorded. [bold]Notify {shown.notify_to} by "
        f"{shown.notify_by.isoformat(timespec='minutes')}[/bold] (24 hours after detection), and your IMPOC."
    )


@incidents_app.command("list")
def incident_list(
    open_only: Annotated[bool, typer.Option("--open", help="Only open incidents.")] = False,
    as_json: AsJson = False,
) -> None:
    """The incident register with each deadline; overdue ones are marked."""
    with context.sessions()() as session:
        found = incidents.list_incidents(session, clock=utc_now, open_only=open_only)
    if as_json:
        print_json([{**asdict(i), "time_left": int(i.time_left.total_seconds())} for i in found])
        return
    rows = [
        [
            i.id,
            i.status,
            i.summary,
            i.notify_by.isoformat(timespec="minutes"),
            "notified" if i.amazon_notified_at else ("OVERDUE" if i.overdue else f"{i.time_left} left"),
        ]
        for i in found
    ]
    print_table("Security incidents", ["id", "status", "summary", "notify Amazon by", "state"], rows)


@incidents_app.command("notified")
def incident_notified(incident_id: int, actor: Actor = "") -> None:
    """Record that Amazon (security@amazon.com) was told."""
    try:
        with context.sessions().begin() as session:
            incidents.record_amazon_notified(session, incident_id, actor=actor or cli_actor(), clock=utc_now)
    except PrivacyError as error:
        raise fail(str(error)) from None
    console.print(f"incident {incident_id}: Amazon notified")


@incidents_app.command("close")
def incident_close(
    incident_id: int,
    resolution: Annotated[str, typer.Option(help="How it was resolved.")],
    not_notified_reason: Annotated[str | None, typer.Option(help="Why Amazon was not told, if not.")] = None,
    actor: Actor = "",
) -> None:
    """Close an incident (with the notification recorded, or a reason why not)."""
    try:
        with context.sessions().begin() as session:
            incidents.close_incident(
                session,
                incident_id,
                actor=actor or cli_actor(),
                clock=utc_now,
                resolution=resolution,
                not_notified_reason=not_notified_reason,
            )
    except PrivacyError as error:
        raise fail(str(error)) from None
    console.print(f"incident {incident_id} closed")


# -- keys and sellers ------------------------------------------------------------------------------


@keys.command("rotate")
def keys_rotate() -> None:
    """Rotate the key-encryption key and re-wrap every data key under it (AC-20); logged."""
    wired = open_privacy()
    with context.sessions().begin() as session:
        try:
            if os.environ.get(KEK_ENV):  # the operator set the new KEK (and the old in ..._PREVIOUS)
                count = key_lifecycle.rotate_kek(wired.keys, session, actor=cli_actor(), clock=utc_now)
            else:
                count = key_lifecycle.rotate_kek(
                    wired.keys, session, actor=cli_actor(), clock=utc_now, key_file=settings().kek_file
                )
        except PrivacyError as error:
            raise fail(str(error)) from None
    console.print(
        f"key-encryption key rotated: {count} data key(s) re-wrapped (KEK {wired.keys.kek.fingerprint})"
    )


@keys.command("rotate-index")
def keys_rotate_index() -> None:
    """Rotate every blind-index key: re-index live contacts, then shred the old keys (AC-20); logged."""
    wired = open_privacy()
    try:
        result = rotate_index_keys(context.sessions(), wired, actor=cli_actor(), clock=utc_now)
    except PrivacyError as error:
        raise fail(str(error)) from None
    console.print(
        f"{len(result.new_keys)} blind-index key(s) rotated; {result.reindexed} contact(s) re-indexed; "
        f"{len(result.destroyed)} old key(s) destroyed"
    )
    if result.unexplained:
        errors.print(
            f"[yellow]warning:[/yellow] {result.unexplained} stored key(s) matched no index key and were "
            "left as they were (they will not match until the contact's e-mail or name is set again)",
            highlight=False,
        )


@seller.command("purge")
def seller_purge(
    scope: Annotated[str, typer.Argument(help="The seller scope: the Amazon channel's code.")],
    reason: Annotated[str, typer.Option(help="Authorisation revoked, Amazon notice, ...")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Really destroy the seller's keys and delete its Amazon data.")
    ] = False,
) -> None:
    """Destroy a seller's keys and delete its Amazon orders and contacts, with a certificate (AC-28)."""
    if not yes:
        raise fail(
            "this destroys every key of the seller and deletes its Amazon data for good; repeat with --yes"
        )
    wired = open_privacy()
    try:
        certificate = purge_seller_data(
            context.sessions(), wired, scope, actor=cli_actor(), clock=utc_now, reason=reason
        )
    except PrivacyError as error:
        raise fail(str(error)) from None
    console.print(certificate.as_text(), highlight=False)
