"""`orderbridge outbox list|show|alerts|retry|send|push-stock`: what the book tells Amazon, audited."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any

import typer
from sqlalchemy import select

from orderbridge.amazon.outbound.sender import OutboxError, request_full_stock_push, retry_message
from orderbridge.amazon.outbound.sender_pass import ALERT_KIND
from orderbridge.book.alerts import open_alerts
from orderbridge.cli.context import console, fail, read_only, unit_of_work
from orderbridge.cli.output import print_json, print_table
from orderbridge.clock import utc_now
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage

outbox = typer.Typer(
    help="The outbox: shipment confirmations and stock updates for Amazon, with every attempt.",
    no_args_is_help=True,
)
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


@dataclass(frozen=True)
class AttemptView:
    at: datetime
    outcome: str
    http_status: int
    detail: str


@dataclass(frozen=True)
class MessageView:
    id: int
    kind: str
    key: str
    status: str
    attempts: int
    created_at: datetime
    due_at: datetime | None
    finished_at: datetime | None
    last_error: str | None
    payload: dict[str, Any]
    result: dict[str, Any] | None
    history: list[AttemptView]


def _view(message: OutboxMessage) -> MessageView:
    return MessageView(
        id=message.id,
        kind=str(message.kind),
        key=message.key,
        status=str(message.status),
        attempts=message.attempts,
        created_at=message.created_at,
        due_at=message.due_at,
        finished_at=message.finished_at,
        last_error=message.last_error,
        payload=dict(message.payload),
        result=dict(message.result) if message.result is not None else None,
        history=[AttemptView(a.at, a.outcome, a.http_status, a.detail) for a in message.attempts_log],
    )


@outbox.command("list")
def list_messages(
    status: Annotated[MessageStatus | None, typer.Option(help="Only messages in this status.")] = None,
    kind: Annotated[MessageKind | None, typer.Option(help="Only messages of this kind.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 50,
    as_json: AsJson = False,
) -> None:
    """Messages for Amazon, newest first: what, its state, attempts and Amazon's last answer."""
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxMessage.status == status)
    if kind is not None:
        query = query.where(OutboxMessage.kind == kind)
    with read_only() as session:
        found = [_view(message) for message in session.scalars(query)]
    if as_json:
        print_json([asdict(view) for view in found])
        return
    rows = [
        [
            v.id,
            v.kind,
            v.key,
            v.status,
            v.attempts,
            f"{v.created_at:%Y-%m-%d %H:%M:%S}",
            f"{v.finished_at:%Y-%m-%d %H:%M:%S}" if v.finished_at else None,
            (v.last_error or "")[:80] if v.status != MessageStatus.SENT else "",
        ]
        for v in found
    ]
    columns = ["id", "kind", "key", "status", "attempts", "created", "finished", "last error"]
    print_table("Outbox messages", columns, rows, right=frozenset({"id", "attempts"}))


@outbox.command("show")
def show_message(
    message_id: Annotated[int, typer.Argument(metavar="ID", help="The outbox message id.")],
    as_json: AsJson = False,
) -> None:
    """One message with its payload, Amazon's answer and every attempt."""
    with read_only() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None:
            raise fail(f"outbox message {message_id} does not exist")
        view = _view(message)
    if as_json:
        print_json(asdict(view))
        return
    console.print(
        f"[bold]message {view.id}[/bold] {view.kind} {view.key}: {view.status}, {view.attempts} attempt(s)",
        highlight=False,
    )
    console.print(f"payload {view.payload}; result {view.result}", highlight=False, markup=False)
    rows = [[f"{a.at:%Y-%m-%d %H:%M:%S}", a.outcome, a.http_status or None, a.detail] for a in view.history]
    print_table("Attempts", ["at", "outcome", "HTTP", "detail"], rows)


@outbox.command("alerts")
def alerts(as_json: AsJson = False) -> None:
    """Open alerts of what Amazon refused, on orders and products, each naming the message to retry."""
    with unit_of_work() as session:
        found = [
            {
                "id": a.id,
                "subject": str(a.subject),
                "subject_id": a.subject_id,
                "raised_at": a.raised_at,
                "message": a.message,
            }
            for a in open_alerts(session)
            if a.kind == ALERT_KIND
        ]
    if as_json:
        print_json(found)
        return
    rows = [[a["subject"], a["subject_id"], f"{a['raised_at']:%Y-%m-%d %H:%M}", a["message"]] for a in found]
    print_table("Refused by Amazon", ["on", "id", "raised", "alert"], rows)


@outbox.command("retry")
def retry(message_id: Annotated[int, typer.Argument(metavar="ID", help="The failed message's id.")]) -> None:
    """Send a failed message again (after fixing what Amazon refused); clears its alert."""
    try:
        with unit_of_work() as session:
            retry_message(session, message_id, now=utc_now())
    except OutboxError as error:
        raise fail(str(error)) from None
    console.print(f"outbox message {message_id} queued again; `orderbridge outbox send` or `run` sends it")


@outbox.command("send")
def send() -> None:
    """One pass of the sender now (what `orderbridge run` does every two minutes of Amazon time)."""
    from orderbridge.cli.sync import cli_runtime
    from orderbridge.jobs import tasks

    tasks.configure(cli_runtime())
    console.print(tasks.send_to_amazon()["outbox"], highlight=False)


@outbox.command("push-stock")
def push_stock() -> None:
    """Queue a full stock push of every connected FBM listing (as the nightly one does), then send."""
    with unit_of_work() as session:
        request_full_stock_push(session, now=utc_now())
    send()
