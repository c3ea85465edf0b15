"""Warnings about a channel's settings: a setting missing for a whole channel is one open alert on the
channel (shown on its settings row and the dashboard), not one alert per order it touches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from orderbridge.amazon.channel import settings_for
from orderbridge.book.alerts import Alert, Subject, clear_alert, open_alerts, raise_alert
from orderbridge.book.channels import Channel
from orderbridge.book.orders.model import SalesOrder

GIFT_MESSAGE_UNMAPPED = "gift_message_unmapped"
CHANNEL_WIDE = frozenset({GIFT_MESSAGE_UNMAPPED})  # alert kinds that are about the channel's settings
SETTLED_BY = "channel settings"  # who the trail shows cleared a warning the settings no longer need


def gift_message_text(channel: Channel) -> str:
    return (
        f"Orders on {channel.name} carry gift messages, but the channel has no gift message field, so "
        "the messages are not kept in the book. Choose a sales-order text area as the channel's "
        '"Gift message field" in its settings; orders booked from then on keep their gift messages.'
    )


def warn_channel(session: Session, channel_id: int, kind: str, *, now: datetime) -> None:
    """One open warning of `kind` on the channel; the per-order alerts of that kind it replaces cleared."""
    channel = session.get(Channel, channel_id)
    if channel is None:
        return
    raise_alert(session, Subject.CHANNEL, channel_id, kind, gift_message_text(channel), now=now)
    orders = select(SalesOrder.id).where(SalesOrder.channel_id == channel_id).scalar_subquery()
    session.execute(
        update(Alert)
        .where(
            Alert.subject == Subject.ORDER,
            Alert.kind == kind,
            Alert.cleared_at.is_(None),
            Alert.subject_id.in_(orders),
        )
        .values(cleared_at=now, cleared_by=SETTLED_BY)
        .execution_options(synchronize_session=False)
    )


def review_channel_warnings(session: Session, channel_ids: list[int], *, now: datetime) -> None:
    """After a sync: per-order alerts left from before become the channel's one warning, and a warning
    whose setting is now set is cleared."""
    for channel_id in channel_ids:
        channel = session.get(Channel, channel_id)
        if channel is None:
            continue
        if settings_for(session, channel).gift_message_field is not None:
            for alert in open_alerts(session, Subject.CHANNEL, channel_id):
                if alert.kind == GIFT_MESSAGE_UNMAPPED:
                    clear_alert(alert, by=SETTLED_BY, now=now)
            continue
        leftover = select(Alert.id).where(
            Alert.subject == Subject.ORDER,
            Alert.kind == GIFT_MESSAGE_UNMAPPED,
            Alert.cleared_at.is_(None),
            Alert.subject_id.in_(select(SalesOrder.id).where(SalesOrder.channel_id == channel_id)),
        )
        if session.scalar(leftover.limit(1)) is not None:
            warn_channel(session, channel_id, GIFT_MESSAGE_UNMAPPED, now=now)
