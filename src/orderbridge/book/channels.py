"""Sales channels: where orders come from (an Amazon marketplace, the seller's own shop, manual entry)."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.book.errors import NotFoundError
from orderbridge.db import Base, BigId


class ChannelKind(StrEnum):
    AMAZON = "amazon"
    MANUAL = "manual"
    OTHER = "other"


class Channel(Base):
    __tablename__ = "channels"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ChannelKind] = mapped_column(String(20))
    marketplace_id: Mapped[str | None] = mapped_column(String(40))
    # The statuses an order of this channel moves to when it is shipped in full or cancelled (as Brightpearl's
    # channel settings have them); empty: the status named "Shipped", the first cancelled status.
    shipped_status_id: Mapped[int | None] = mapped_column(ForeignKey("order_statuses.id"))
    cancelled_status_id: Mapped[int | None] = mapped_column(ForeignKey("order_statuses.id"))

    @property
    def is_amazon(self) -> bool:
        return self.kind == ChannelKind.AMAZON


def save_channel(
    session: Session, code: str, name: str, kind: ChannelKind, marketplace_id: str | None = None
) -> Channel:
    channel = session.scalar(select(Channel).where(Channel.code == code))
    if channel is None:
        channel = Channel(code=code)
        session.add(channel)
    channel.name, channel.kind, channel.marketplace_id = name, kind, marketplace_id
    return channel


def channel_by_code(session: Session, code: str) -> Channel:
    channel = session.scalar(select(Channel).where(Channel.code == code))
    if channel is None:
        raise NotFoundError("channel", code)
    return channel
