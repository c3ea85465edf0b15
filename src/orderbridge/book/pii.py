"""The one column type that holds buyer personal data (P2), so that privacy can protect all of it.

Every PII field in the book is declared with `pii_column()`. The type records itself in
`PII_FIELDS`, which lets the privacy package find every such field (to encrypt, redact and scan)
without any caller changing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text
from sqlalchemy.orm import MappedColumn, mapped_column
from sqlalchemy.types import TypeDecorator

REDACTED = "[Redacted]"


class PIIText(TypeDecorator[str]):
    """Text that is buyer personal data. Plain text for now; privacy swaps the codec in."""

    impl = Text
    cache_ok = True


def pii_column(**kwargs: Any) -> MappedColumn[Any]:
    """A nullable PII column."""
    return mapped_column(PIIText(), nullable=True, **kwargs)


def pii_fields(table: Any) -> list[str]:
    """The names of a table's PII columns."""
    return [column.name for column in table.columns if isinstance(column.type, PIIText)]
