"""FBM stock levels to Amazon: a pass's changed products coalesced into one quantity per listing, sent as
`patchListingsItem` calls or one `JSON_LISTINGS_FEED` per marketplace, and submitted feeds read back."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from orderbridge.amazon.errors import AmazonError, AuthFailed
from orderbridge.amazon.outbound.listing_quantities import (
    FEED_CONTENT_TYPE,
    FEED_TYPE,
    PRODUCT_TYPE,
    FeedState,
    StockFeed,
    Wanted,
    affected_listings,
    feed_document,
    forget_pushed,
    quantity_patch,
    record_pushed,
    use_feed,
    wanted_quantities,
)
from orderbridge.amazon.outbound.sender_pass import SenderPass, finish, record_attempt, refuse, retry_later
from orderbridge.outbox.models import MessageKind, MessageStatus, OutboxMessage

STOCK_KINDS = (MessageKind.STOCK_CHANGED, MessageKind.STOCK_RECOUNT)


@dataclass
class _Push:
    sent: list[Wanted] = field(default_factory=list)
    refused: dict[int, str] = field(default_factory=dict)  # product id -> Amazon's reason
    feeds: list[StockFeed] = field(default_factory=list)
    transient: AmazonError | None = None


def _claim_stock(run: SenderPass) -> tuple[list[int], set[int], bool]:
    now = run.now()
    with run.deps.sessions.begin() as session:
        messages = list(
            session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.kind.in_(STOCK_KINDS), OutboxMessage.status == MessageStatus.PENDING)
                .order_by(OutboxMessage.id)
                .limit(run.deps.options.stock_messages_per_pass)
            )
        )
        due = [m for m in messages if m.due_at is None or m.due_at <= now]
        for message in due:
            message.status, message.claimed_at = MessageStatus.SENDING, now
            message.attempts += 1
        products = {m.subject_id for m in due if m.kind == MessageKind.STOCK_CHANGED}
        full = any(m.kind == MessageKind.STOCK_RECOUNT for m in due)
        return [m.id for m in due], products, full


def push_stock(run: SenderPass) -> None:
    with run.deps.sessions() as session:
        if session.scalar(select(StockFeed.id).where(StockFeed.state == FeedState.SUBMITTED).limit(1)):
            # A feed still being processed would overwrite any newer patch of its listings: wait for it.
            run.report.waiting_for_feed = True
            return
    message_ids, products, full = _claim_stock(run)
    if not message_ids:
        return
    run.report.stock_messages += len(message_ids)
    with run.deps.sessions() as session:
        wanted = wanted_quantities(session, affected_listings(session, None if full else products), full=full)
    groups: dict[tuple[int, str], list[Wanted]] = defaultdict(list)
    for line in wanted:
        account_id = run.by_marketplace.get(line.marketplace_id)
        if account_id is not None:
            groups[(account_id, line.marketplace_id)].append(line)
    push = _Push()
    for (account_id, marketplace_id), lines in groups.items():
        if push.transient is not None:
            break
        if use_feed(len(lines)):
            _send_feed(run, push, lines, where=(account_id, marketplace_id), message_ids=message_ids)
        else:
            _send_patches(run, push, account_id, marketplace_id, lines)
    _settle_stock(run, push, message_ids)


def _send_patches(
    run: SenderPass, push: _Push, account_id: int, marketplace_id: str, lines: list[Wanted]
) -> None:
    client = run.client(account_id)
    for line in lines:
        try:
            answer = client.patch_listings_item(
                line.sku, [marketplace_id], PRODUCT_TYPE, [quantity_patch(line.quantity)]
            )
        except AmazonError as error:
            if error.retryable or isinstance(error, AuthFailed):
                push.transient = error
                return
            push.refused[line.product_id] = f"listing {line.sku}: {error}"
            continue
        errors = [i for i in answer.issues if i.severity == "ERROR"]
        if answer.status == "INVALID" or errors:
            reasons = "; ".join(f"{i.code} {i.message}" for i in errors) or answer.status
            push.refused[line.product_id] = f"listing {line.sku}: {reasons}"
        else:
            push.sent.append(line)
            run.report.listings_patched += 1


def _send_feed(
    run: SenderPass,
    push: _Push,
    lines: list[Wanted],
    *,
    where: tuple[int, str],
    message_ids: list[int],
) -> None:
    account_id, marketplace_id = where
    client = run.client(account_id)
    try:
        link = client.create_feed_document(FEED_CONTENT_TYPE)
        client.upload_feed_document(link, feed_document(run.accounts[account_id], lines), FEED_CONTENT_TYPE)
        feed_id = client.create_feed(FEED_TYPE, [marketplace_id], link.document_id)
    except AmazonError as error:
        push.transient = error  # a refused feed is our bug, not the seller's: retried, and visible
        return
    push.sent.extend(lines)
    push.feeds.append(
        StockFeed(
            account_id=account_id,
            marketplace_id=marketplace_id,
            feed_id=feed_id,
            state=FeedState.SUBMITTED,
            submitted_at=run.now(),
            lines={line.sku: [line.listing_id, line.product_id, line.quantity] for line in lines},
            message_ids=message_ids,
        )
    )
    run.report.feeds += 1
    run.report.listings_in_feeds += len(lines)


def _settle_stock(run: SenderPass, push: _Push, message_ids: list[int]) -> None:
    now = run.now()
    with run.deps.sessions.begin() as session:
        record_pushed(session, push.sent, now=now)
        session.add_all(push.feeds)
        for message_id in message_ids:
            message = session.get(OutboxMessage, message_id)
            assert message is not None
            if message.kind == MessageKind.STOCK_CHANGED and message.subject_id in push.refused:
                refuse(session, run, message, push.refused[message.subject_id])
            elif push.transient is not None:
                retry_later(run, message, push.transient)
            else:
                detail = f"{len(push.sent)} listings sent in this push" + (
                    f", {len(push.feeds)} feeds" if push.feeds else ""
                )
                finish(
                    message,
                    MessageStatus.SENT,
                    now,
                    {"listings": len(push.sent), "feeds": [f.feed_id for f in push.feeds]},
                )
                record_attempt(message, now, "sent", 200, detail)


def read_feeds(run: SenderPass) -> None:
    """Read back submitted feeds: errors per SKU fail their product's message; a failed feed is resent."""
    with run.deps.sessions() as session:
        submitted = [
            (row.id, row.account_id, row.feed_id)
            for row in session.scalars(select(StockFeed).where(StockFeed.state == FeedState.SUBMITTED))
        ]
    for row_id, account_id, feed_id in submitted:
        if account_id not in run.accounts:
            outcome: dict[str, str] | None = None
        else:
            try:
                answer = _feed_outcome(run, account_id, feed_id)
            except AmazonError:
                continue  # asked again next pass
            if answer == "processing":
                continue
            outcome = answer if isinstance(answer, dict) else None
        with run.deps.sessions.begin() as session:
            feed_row = session.get(StockFeed, row_id)
            assert feed_row is not None
            _settle_feed(session, run, feed_row, outcome)


def _feed_outcome(run: SenderPass, account_id: int, feed_id: str) -> dict[str, str] | str | None:
    """ "processing", None (Amazon did not process it) or Amazon's ERROR issues by SKU (none: all taken)."""
    client = run.client(account_id)
    feed = client.get_feed(feed_id)
    if feed.processing_status in ("IN_QUEUE", "IN_PROGRESS"):
        return "processing"
    if feed.processing_status != "DONE" or not feed.result_feed_document_id:
        return None
    link = client.get_feed_document(feed.result_feed_document_id)
    try:
        report = json.loads(client.download(link.url, compression=link.compression_algorithm).text())
    except ValueError:
        report = {}
    refused: dict[str, str] = {}
    for issue in report.get("issues") or [] if isinstance(report, dict) else []:
        if isinstance(issue, dict) and issue.get("severity") == "ERROR":
            sku = str(issue.get("sku", ""))
            refused[sku] = f"listing {sku}: {issue.get('code')} {issue.get('message')}"
    return refused


def _settle_feed(
    session: Session, run: SenderPass, feed_row: StockFeed, refused_by_sku: dict[str, str] | None
) -> None:
    feed_row.finished_at = run.now()
    if refused_by_sku is None:
        feed_row.state = FeedState.FAILED
        _resend_feed(session, run, feed_row)
        return
    refused = {
        int(feed_row.lines[sku][1]): reason for sku, reason in refused_by_sku.items() if sku in feed_row.lines
    }
    feed_row.state, feed_row.errors = FeedState.DONE, len(refused)
    forget_pushed(session, [int(feed_row.lines[sku][0]) for sku in refused_by_sku if sku in feed_row.lines])
    for message in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(feed_row.message_ids))):
        if message.kind == MessageKind.STOCK_CHANGED and message.subject_id in refused:
            refuse(session, run, message, f"feed {feed_row.feed_id}: {refused[message.subject_id]}")


def _resend_feed(session: Session, run: SenderPass, feed_row: StockFeed) -> None:
    """Amazon did not process the feed: forget what it carried and queue its products again."""
    forget_pushed(session, [int(line[0]) for line in feed_row.lines.values()])
    now = run.now()
    for product_id in sorted({int(line[1]) for line in feed_row.lines.values()}):
        session.add(
            OutboxMessage(
                kind=MessageKind.STOCK_CHANGED,
                key=f"product:{product_id}",
                subject_id=product_id,
                payload={"resent_feed": feed_row.feed_id},
                status=MessageStatus.PENDING,
                attempts=0,
                created_at=now,
            )
        )
