"""`orderbridge sync orders`, `orders retry|fetch|preview` and the body of `orderbridge run`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session

from orderbridge.amazon.accounts import SellerAccount, get_account, list_accounts
from orderbridge.amazon.api.calls import CallLog
from orderbridge.amazon.channel import channel_for
from orderbridge.amazon.errors import AmazonError
from orderbridge.amazon.orders.booking import preview_order
from orderbridge.amazon.orders.mapping import MappingError
from orderbridge.amazon.orders.sync import SyncOptions
from orderbridge.book.orders.model import OrderStatus
from orderbridge.cli import database
from orderbridge.cli.accounts import keystore
from orderbridge.cli.context import console, errors, fail, read_only, sessions, settings, unit_of_work
from orderbridge.cli.orders import orders
from orderbridge.cli.output import print_json, print_table
from orderbridge.cli.web import start_web
from orderbridge.errors import OrderbridgeError
from orderbridge.jobs import tasks
from orderbridge.jobs.runner import (
    SANDBOX_WORLD,
    add_sandbox_accounts,
    describe,
    downloaded_until,
    is_real,
    plan_jobs,
    remote_sandbox_endpoint,
    sandbox_endpoint,
    save_sandbox_world,
    start_sandbox,
)
from orderbridge.jobs.schedule import Job, Scheduler
from orderbridge.jobs.worker_runtime import shared_quotas
from orderbridge.simulator.serving import ServedSandbox

sync = typer.Typer(help="Download from Amazon into the book.", no_args_is_help=True)
AccountOption = Annotated[
    str | None, typer.Option("--account", help="Account id or selling partner id (default: every account).")
]


@contextmanager
def _reported() -> Iterator[None]:
    try:
        yield
    except OrderbridgeError as error:
        raise fail(str(error)) from None


def sync_options() -> SyncOptions:
    """How syncs run, from the installation's settings (overlap, pending-alert days)."""
    config = settings()
    return SyncOptions(
        overlap=timedelta(minutes=config.sync_overlap_minutes), pending_alert_days=config.pending_alert_days
    )


def cli_runtime() -> tasks.Runtime:
    """The runtime for CLI commands: sandbox accounts run on the clock of the sandbox they point at."""
    runtime = tasks.with_settings(
        tasks.Runtime(sessions(), keystore(), options=sync_options(), calls=CallLog(sessions())), settings()
    )
    # In the distributed mode the workers' buckets are in Redis: a command spends from the same ones.
    runtime.quotas = shared_quotas(settings())
    with read_only() as session:
        urls = {a.endpoint.rstrip("/") for a in list_accounts(session) if not is_real(a)}
    for url in urls:
        endpoint = remote_sandbox_endpoint(url)
        if endpoint is not None:
            runtime.endpoints[url] = endpoint
    return runtime


def _accounts(session: Session, wanted: str | None) -> list[SellerAccount]:
    if wanted is None:
        return list_accounts(session)
    if wanted.isdigit():
        found = session.get(SellerAccount, int(wanted))
        if found is None:
            raise fail(f"no seller account with id {wanted}")
        return [found]
    return [get_account(session, wanted)]


def _account_ids(wanted: str | None) -> list[int]:
    with _reported(), read_only() as session:
        ids = [account.id for account in _accounts(session, wanted)]
    if not ids:
        raise fail("no seller account: add one with `orderbridge accounts add` (or add-sandbox)")
    return ids


def _print_reports(reports: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print_json(reports)
        return
    columns = ["account", "pages", "fetched", "stored", "booked", "unchanged", "skipped", "quarantined"]
    rows = [[r[c] for c in columns] for r in reports]
    print_table("Order download", columns, rows, right=frozenset(columns[1:]))


@sync.command("orders")
def sync_orders_command(
    account: AccountOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """One download and booking pass for each account (or the one named), with a progress display."""
    ids = _account_ids(account)
    with _reported():
        runtime = cli_runtime()
        tasks.configure(runtime)
        reports = []
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=errors,
            disable=as_json,
        ) as progress:
            for account_id in ids:
                task = progress.add_task(f"account {account_id}: downloading", total=None)

                def stored(n: int, task: Any = task, account_id: int = account_id) -> None:
                    progress.update(task, description=f"account {account_id}: {n} order version(s) stored")

                def booked(n: int, task: Any = task, account_id: int = account_id) -> None:
                    progress.update(task, description=f"account {account_id}: booking ({n} in this batch)")

                runtime.options = replace(runtime.options, on_stored=stored, on_booked=booked)
                reports.append(tasks.sync_account_orders(account_id))
                progress.update(task, description=f"account {account_id}: done", completed=1, total=1)
    _print_reports(reports, as_json)


@orders.command("retry")
def retry_command(account: AccountOption = None) -> None:
    """Map and book quarantined Amazon orders again (after fixing settings, listings or tax rules)."""
    with _reported():
        tasks.configure(cli_runtime())
        reports = [tasks.retry_account_quarantine(account_id) for account_id in _account_ids(account)]
    _print_reports(reports, False)


@orders.command("fetch")
def fetch_command(
    order_id: Annotated[str, typer.Argument(help="The Amazon order id, e.g. 123-1234567-1234567.")],
    account: AccountOption = None,
) -> None:
    """Re-import one Amazon order by id (getOrder) and book it."""
    ids = _account_ids(account)
    if len(ids) > 1:
        raise fail("several accounts: name one with --account")
    with _reported():
        tasks.configure(cli_runtime())
        report = tasks.fetch_account_order(ids[0], order_id.strip())
    _print_reports([report], False)


@orders.command("preview")
def preview_command(
    file: Annotated[Path, typer.Argument(help="An order as official v2026-01-01 JSON.", exists=True)],
) -> None:
    """Show how an order would book under the current channel settings, without booking it."""
    try:
        doc = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise fail(f"{file}: not a JSON order ({type(error).__name__})") from None
    doc = doc.get("order", doc) if isinstance(doc, dict) else doc
    marketplace = (doc.get("salesChannel") or {}).get("marketplaceId") if isinstance(doc, dict) else None
    if not marketplace:
        raise fail(f"{file}: salesChannel.marketplaceId is missing")
    session = sessions()()
    try:
        mapped = preview_order(session, doc, channel_for(session, str(marketplace)), email_key=None)
        statuses = {status.id: status.name for status in session.query(OrderStatus)}
    except MappingError as error:
        raise fail(f"would be quarantined: {error}") from None
    finally:
        session.rollback()
        session.close()
    console.print(f"order {mapped.amazon_order_id}: {mapped.outcome} ({mapped.state})", highlight=False)
    if mapped.reason:
        console.print(f"reason: {mapped.reason}", highlight=False)
    if mapped.order is None:
        return
    new = mapped.order
    if new.contact_id:
        who = f"contact {new.contact_id}"
    elif mapped.new_contact:
        who = "a new contact"
    else:  # C1/C4: no buyer e-mail, and the channel's contact for such orders is not created yet
        who = "the channel's contact for orders without a buyer e-mail (created when the first one books)"
    console.print(f"status: {statuses.get(new.status_id, new.status_id)}; customer: {who}", highlight=False)
    rows = [
        [row.kind, row.sku, row.name, row.quantity, row.net, row.tax, row.tax_code, row.nominal_code]
        for row in new.rows
    ]
    columns = ["kind", "sku", "name", "qty", "net", "tax", "tax code", "nominal"]
    print_table(f"Rows ({new.currency})", columns, rows, right=frozenset({"qty", "net", "tax"}))
    total = sum((row.net + row.tax for row in new.rows), Decimal(0))
    line = f"total {total} {new.currency}"
    amazon_total = ((doc.get("proceeds") or {}).get("grandTotal") or {}).get("amount")
    if amazon_total is not None:  # the booking refuses an order whose rows do not add up to it
        line += f" (Amazon's proceeds total {amazon_total} {new.currency})"
    if new.withheld_tax:
        line += f"; withheld tax {new.withheld_tax} {new.currency}"
    console.print(line, highlight=False)
    for alert in mapped.alerts:
        console.print(f"alert: {alert.message}", highlight=False)


SAVE_EVERY = timedelta(minutes=5)  # real time between two saves of the demo sandbox's world


def run_orderbridge(
    *,
    once: bool,
    for_seconds: float | None,
    port: int,
    speed: float,
    web: bool = True,
    orders_per_day: float = 200,
) -> None:
    """Start the scheduler, the web UI and API (unless `once`), and the sandbox when no real account
    exists; run until Ctrl-C."""
    if settings().mode == "distributed":
        raise fail(
            "ORDERBRIDGE_MODE=distributed: the jobs run on `orderbridge worker` and `orderbridge beat` "
            "(docs/deploy.md); set ORDERBRIDGE_MODE=embedded to run them here",
            code=2,
        )
    database.upgrade()
    served_web = None if once or not web else start_web()
    runtime = tasks.with_settings(
        tasks.Runtime(sessions(), keystore(), options=sync_options(), calls=CallLog(sessions())), settings()
    )
    runtime.quotas = shared_quotas(settings())  # None (the book's buckets) unless a quota Redis is set
    world_file = settings().data_dir / SANDBOX_WORLD
    running = _start_demo_sandbox(runtime, port, speed, orders_per_day, world_file)
    tasks.configure(runtime)

    def done(job: Job, result: Any) -> None:
        console.print(f"{time.strftime('%H:%M:%S')} {job.name}: {describe(result)}", highlight=False)

    def failed(job: Job, error: BaseException) -> None:
        kind = "Amazon" if isinstance(error, AmazonError) else type(error).__name__
        console.print(
            f"{time.strftime('%H:%M:%S')} [red]{job.name} failed[/red] ({kind}): {error}", highlight=False
        )

    scheduler = Scheduler(on_done=done, on_error=failed)
    planned = plan_jobs(scheduler, runtime)
    if running is not None and not once:
        scheduler.every(
            SAVE_EVERY, "sandbox world", save_sandbox_world, running, world_file, first=SAVE_EVERY
        )
    console.print(f"scheduler: {len(planned)} account(s), order sync every 180 s of Amazon time")
    started = time.monotonic()
    try:
        if once:
            scheduler.run_pending()
        else:
            limit = for_seconds
            scheduler.run(tick=0.2, until=lambda: limit is not None and time.monotonic() - started >= limit)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        scheduler.stop()
        database.summary()
        if running is not None:
            try:
                save_sandbox_world(running, world_file)
            except (httpx.HTTPError, OSError) as error:
                console.print(f"[red]sandbox world not saved[/red] ({type(error).__name__}: {error})")
            running.stop()
        if served_web is not None:
            served_web.stop()
        tasks.configure(None)


def _start_demo_sandbox(
    runtime: tasks.Runtime, port: int, speed: float, orders_per_day: float, world_file: Path
) -> ServedSandbox | None:
    """With no real Amazon account: the sandbox, its world resumed from `world_file` when there is one
    and its clock never behind what the book downloaded, its sellers as the book's accounts."""
    with unit_of_work() as session:
        real = any(is_real(account) for account in list_accounts(session))
        downloaded = downloaded_until(session)
    if real:
        return None
    resumed = world_file.exists()
    running = start_sandbox(
        port=port, speed=speed, orders_per_day=orders_per_day, world_file=world_file, not_before=downloaded
    )
    console.print(
        f"sandbox: SP-API at {running.url} (speed x{speed:g}, about {orders_per_day:g} new orders a "
        f"day; admin at /_sandbox); its world {'resumed from' if resumed else 'kept in'} {world_file}",
        highlight=False,
    )
    added = add_sandbox_accounts(sessions(), runtime.keys, running)
    console.print(f"sandbox accounts: {', '.join(added) or 'already there'}", highlight=False)
    runtime.endpoints[running.url] = sandbox_endpoint(running.sandbox)
    return running


def serve_web_only(*, for_seconds: float | None) -> None:
    """Serve the web UI and API without the jobs (the distributed mode runs those on workers)."""
    database.upgrade()
    tasks.configure(cli_runtime())  # retrying a quarantined order from a page needs a runtime
    served = start_web()
    stop = threading.Event()
    try:
        stop.wait(for_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        served.stop()
        tasks.configure(None)
