"""Finding what is due: the retention rules as SQL conditions (P1, P8) and the walk over due rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Engine,
    Table,
    and_,
    any_,
    bindparam,
    exists,
    func,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.contacts import Contact
from orderbridge.book.orders.model import SalesOrder
from orderbridge.clock import as_utc


def day_cutoff(now: datetime, period: timedelta) -> datetime:
    """Anchors before this are due today: a record due any time on today's UTC day is swept today."""
    tomorrow = datetime.combine(as_utc(now).date() + timedelta(days=1), time(0), tzinfo=UTC)
    return tomorrow - period


def anchored_before(cutoff: datetime) -> ColumnElement[bool]:
    """Orders whose retention anchor is before `cutoff` (P1): the first of the book's anchor (its
    cancellation, or its last shipment once fully shipped) and Amazon's reported shipment or
    cancellation (O24). Computed from those facts alone, never from a due date written by the sweep.

    Never NULL, so that NOT() of it is safe.
    """
    shipped, cancelled = SalesOrder.shipped_at, SalesOrder.cancelled_at
    at_channel = [
        and_(column.is_not(None), column < cutoff)
        for column in (SalesOrder.channel_shipped_at, SalesOrder.channel_cancelled_at)
    ]
    return or_(
        and_(cancelled.is_not(None), cancelled < cutoff, or_(shipped.is_(None), shipped < cutoff)),
        and_(cancelled.is_(None), shipped.is_not(None), shipped < cutoff),
        *at_channel,
    )


def amazon_channel_ids(session: Session) -> list[int]:
    """Channels whose orders the retention rules cover (P8: only Amazon)."""
    query = select(Channel.id).where(Channel.kind == ChannelKind.AMAZON, Channel.marketplace_id.is_not(None))
    return list(session.scalars(query))


def due_orders(amazon: Sequence[int], cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        SalesOrder.channel_id.in_(amazon), SalesOrder.pii_redacted_at.is_(None), anchored_before(cutoff)
    )


def due_contacts(amazon: Sequence[int], cutoff: datetime) -> ColumnElement[bool]:
    """Amazon contacts not redacted whose every Amazon order is due (the last one decides, P1).

    A contact with no Amazon order at all (its order was never booked, or was deleted) has nothing to
    fulfil: it falls due the retention period after it was created, as if created by a shipped order.
    """
    theirs = and_(SalesOrder.contact_id == Contact.id, SalesOrder.channel_id.in_(amazon))
    return and_(
        Contact.marketplace_id.is_not(None),
        Contact.pii_redacted_at.is_(None),
        ~exists().where(theirs, ~anchored_before(cutoff)),
        or_(exists().where(theirs), Contact.created_at < cutoff),
    )


def refresh_statistics(engine: Engine, tables: Sequence[Table]) -> None:
    """Give the planner the tables' current shape before walking them.

    Without statistics (after a bulk load or an import of history) SQLite answered each window of the
    walk below through the due-date indexes, reading every due row of the table per batch: quadratic
    in the number of due orders. With them it reads the window by id, and a daily sweep with few due
    rows still takes the indexes. ``analysis_limit`` bounds SQLite's ANALYZE to a sample per index.
    """
    names = ", ".join(table.name for table in tables)
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA analysis_limit=1000")
            for table in tables:
                connection.exec_driver_sql(f"ANALYZE {table.name}")
        else:
            connection.exec_driver_sql(f"ANALYZE {names}")
        connection.commit()


Read = Callable[[Session, ColumnElement[bool]], Sequence[Any]]
"""(session, the id window's condition) -> up to a batch of due rows in that window, by id."""


def due_batches(
    sessions: sessionmaker[Session], table: Table, batch_size: int, read: Read
) -> Iterator[Sequence[Any]]:
    """Walk `table`'s ids in bounded windows and yield each batch of due rows `read` finds.

    Whatever plan the store picks, a batch reads at most one window (stale statistics once made
    PostgreSQL scan every later row for each batch); memory stays one batch whatever the count.
    """
    with sessions() as session:
        highest = session.scalar(select(func.max(table.c.id))) or 0
    last, window = 0, batch_size * 4
    while last < highest:
        with sessions() as session:
            rows = read(session, and_(table.c.id > last, table.c.id <= last + window))
        last = rows[-1].id if len(rows) == batch_size else last + window
        if rows:
            yield rows


def table_of(model: Any) -> Table:
    return cast(Table, model.__table__)


def among(session: Session, column: ColumnElement[Any], ids: Sequence[int]) -> ColumnElement[bool]:
    """`column IN ids`; on PostgreSQL the ids are bound as ONE array value (`= ANY`), so a batch's
    thousands of ids cost no per-id placeholder to render and bind.

    SQLite keeps the placeholder list: given the ids as one value (json_each) its planner, not knowing
    how many there are, may read a due-date index over every live row instead of looking the ids up.
    """
    if session.get_bind().dialect.name == "postgresql":
        return column == any_(bindparam(None, list(ids), type_=ARRAY(BigInteger())))
    return column.in_(ids)
