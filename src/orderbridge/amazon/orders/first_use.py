"""The rows an account's first sync pass needs, created race-free: the default order statuses, an
Amazon channel per marketplace and the channel's settings row (empty: the defaults).

On a brand-new installation several workers start their first passes at once. Creating these rows by
"select, and add when missing" lets two workers add the same status name or channel code; the one that
commits second fails on the unique constraint and its whole pass is lost. Here each missing row is
inserted with INSERT ... ON CONFLICT DO NOTHING (PostgreSQL and SQLite alike): a worker that loses the
race inserts nothing (PostgreSQL makes it wait for the winner's commit) and then reads the winner's row
through the usual lookups (`channel_for`, `status_by_name`), which then find and never create. The
settings row exists so that the first save of a channel's settings (booking saves the contact for
orders without an e-mail on first need) updates it rather than inserting a second one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from orderbridge.amazon.channel import StoredChannelSettings, channel_code, channel_name
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.orders.model import OrderStatus
from orderbridge.book.orders.statuses import DEFAULT_STATUSES


def _insert_ignoring_duplicates(session: Session, table: Any, rows: list[dict[str, Any]], key: str) -> None:
    dialect = session.get_bind().dialect.name
    statement: Insert
    if dialect == "postgresql":
        statement = postgresql.insert(table).values(rows).on_conflict_do_nothing(index_elements=[key])
    elif dialect == "sqlite":
        statement = sqlite.insert(table).values(rows).on_conflict_do_nothing(index_elements=[key])
    else:  # pragma: no cover - the book runs on PostgreSQL or SQLite only
        raise NotImplementedError(f"no INSERT ... ON CONFLICT for {dialect}")
    session.execute(statement)


def ensure_first_use_rows(session: Session, marketplace_ids: Iterable[str]) -> list[int]:
    """Create the default statuses and the marketplaces' Amazon channels that do not exist yet, never
    failing because another worker created them at the same moment. A seller's edits are kept: an
    existing status or an Amazon channel of the marketplace (whatever its code) is left alone.

    Returns the marketplaces' channel ids, in their order: the channels `channel_for` finds."""
    names = set(session.scalars(select(OrderStatus.name)))
    statuses = [
        {"name": name, "is_cancelled": cancelled, "position": position}
        for position, (name, cancelled) in enumerate(DEFAULT_STATUSES)
        if name not in names
    ]
    if statuses:
        _insert_ignoring_duplicates(session, OrderStatus, statuses, "name")
    wanted = list(dict.fromkeys(marketplace_ids))
    found = _amazon_channels(session, wanted)
    have = {marketplace_id for marketplace_id, _, _ in found}
    channels = [
        {
            "code": channel_code(marketplace_id),
            "name": channel_name(marketplace_id),
            "kind": ChannelKind.AMAZON,
            "marketplace_id": marketplace_id,
        }
        for marketplace_id in wanted
        if marketplace_id not in have
    ]
    if channels:
        _insert_ignoring_duplicates(session, Channel, channels, "code")
        found = _amazon_channels(session, wanted)
    unset = [{"channel_id": channel_id, "document": {}} for _, channel_id, stored in found if stored is None]
    if unset:
        _insert_ignoring_duplicates(session, StoredChannelSettings, unset, "channel_id")
    first: dict[str, int] = {}
    for marketplace_id, channel_id, _ in found:
        first[marketplace_id] = min(channel_id, first.get(marketplace_id, channel_id))
    return [first[marketplace_id] for marketplace_id in wanted]


def _amazon_channels(session: Session, marketplace_ids: list[str]) -> list[tuple[str, int, int | None]]:
    """(marketplace, channel id, settings row's channel id or None) of the marketplaces' Amazon channels."""
    query = (
        select(Channel.marketplace_id, Channel.id, StoredChannelSettings.channel_id)
        .outerjoin(StoredChannelSettings, StoredChannelSettings.channel_id == Channel.id)
        .where(Channel.kind == ChannelKind.AMAZON, Channel.marketplace_id.in_(marketplace_ids))
    )
    return [(str(m), int(c), s) for m, c, s in session.execute(query)]
