"""The one column type that holds buyer personal data (P2), so that privacy can protect all of it.

Every PII field in the book is declared with `pii_column()`. The type records itself in
`PII_FIELDS`, which lets the privacy package find every such field (to encrypt, redact and scan)
without any caller changing. A table with PII columns also carries `PIIRecordColumns`: a record id
(`pii_ref`, known before the INSERT) that binds each sealed value to its row, the key it is sealed
under, and when it was redacted.

The book never imports privacy. Privacy plugs itself in through `register_sealer`: the bulk INSERT
paths call `seal_rows` on their value dicts, which is a no-op until a sealer is registered.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, Table, Text
from sqlalchemy.orm import Mapped, MappedColumn, Session, mapped_column
from sqlalchemy.types import TypeDecorator

from orderbridge.book.types import UtcDateTime

REDACTED = "[Redacted]"

RowSealer = Callable[[Session, Table, Sequence[dict[str, Any]]], None]
_sealers: list[RowSealer] = []


class PIIText(TypeDecorator[str]):
    """Text that is buyer personal data: sealed ciphertext text or `[Redacted]` once privacy is on."""

    impl = Text
    cache_ok = True


def pii_column(**kwargs: Any) -> MappedColumn[Any]:
    """A nullable PII column."""
    return mapped_column(PIIText(), nullable=True, **kwargs)


def pii_fields(table: Any) -> list[str]:
    """The names of a table's PII columns."""
    return [column.name for column in table.columns if isinstance(column.type, PIIText)]


def new_pii_ref() -> str:
    """A fresh record id for sealing: random, so it says nothing about the row."""
    return uuid.uuid4().hex


class PIIRecordColumns:
    """What every table with PII columns carries for privacy (DPP §3.2, §3.4)."""

    pii_ref: Mapped[str] = mapped_column(String(32), default=new_pii_ref)
    pii_key: Mapped[str | None] = mapped_column(String(120), index=True)
    pii_redacted_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


def register_sealer(sealer: RowSealer) -> None:
    """Let privacy seal the PII of rows the book inserts in bulk (registered once per process)."""
    if sealer not in _sealers:
        _sealers.append(sealer)


def seal_rows(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """Give each row a `pii_ref` and let the registered sealers replace its PII values in place."""
    for row in rows:
        if row.get("pii_ref") is None:
            row["pii_ref"] = new_pii_ref()
    for sealer in _sealers:
        sealer(session, table, rows)
