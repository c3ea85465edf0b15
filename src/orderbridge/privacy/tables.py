"""PII tables outside the book, and when their rows fall due (issue 3 §1: inbox payloads, report rows).

The book's own PII tables (orders, notes, custom field values, contacts) have their rules in
`retention`. A package that keeps buyer data in a table of its own (the Amazon inbox's raw payloads)
registers it here with the condition that makes a row due; the sweep then redacts its PII columns in
batches with a ledger entry, and never destroys a key such a row still uses. Privacy imports nothing
of those packages: they register themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement

Due = Callable[[datetime], ColumnElement[bool]]
"""cutoff -> the condition on the table's rows that are due (anchored before `cutoff`)."""


@dataclass(frozen=True)
class PiiTable:
    model: Any
    due: Due
    rule: str


_registered: dict[str, PiiTable] = {}


def register_pii_table(model: Any, *, due: Due, rule: str) -> None:
    """Have the sweep redact `model`'s PII columns where `due(cutoff)` holds; `rule` goes in the ledger."""
    _registered[model.__tablename__] = PiiTable(model, due, rule)


def registered_pii_tables() -> list[PiiTable]:
    return list(_registered.values())
