"""Archiving a batch of due orders before redaction: their tax fields, opened and sealed (P6, AC-15)."""

from __future__ import annotations

import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from orderbridge.book import pii
from orderbridge.clock import as_utc
from orderbridge.privacy.archive import GROUP_SIZE, ArchiveRecord, ArchiveWriter
from orderbridge.privacy.errors import DecryptionError, KeyDestroyedError
from orderbridge.privacy.sealing import LOCAL_MARKETPLACE, SEALED_PREFIX, Privacy, scope_name
from orderbridge.privacy.sweep.context import SweepReport
from orderbridge.privacy.vault import record_part

_ADDRESS_PARTS = ("name", "company", "line1", "line2", "city", "postcode")
_ARCHIVE_NAMES = {"line1": "address_line1", "line2": "address_line2"}
TAX_COLUMNS = tuple(
    (prefix, tuple((f"{prefix}_{part}", _ARCHIVE_NAMES.get(part, part)) for part in _ADDRESS_PARTS))
    for prefix in ("billing", "delivery")
)
"""The invoice address columns, billing first: (prefix, ((column, name in the archive), ...))."""
TAX_COLUMN_NAMES = tuple(name for _prefix, parts in TAX_COLUMNS for name, _archived_as in parts)
_PREFIX = len(SEALED_PREFIX)


@dataclass(frozen=True)
class ArchivePlace:
    """Where one order's record went, for its ledger entry (AC-13)."""

    file: str
    entry: int
    head: str


@dataclass(frozen=True)
class ArchiveGroup:
    """One archive entry the sweep wrote and the ids of the orders sealed in it."""

    place: ArchivePlace
    order_ids: list[int]


def archive_orders(
    archive: ArchiveWriter | None, privacy: Privacy, rows: Sequence[Any], report: SweepReport
) -> list[ArchiveGroup]:
    """Seal the tax fields of `rows` into the archive, durably, before anything is redacted (P6, AC-13).

    `rows` carry the order's id, external_ref, pii_ref, placed_at, the channel's code and marketplace_id,
    the two countries and the `TAX_COLUMN_NAMES`. Returns the archive entries written, each with the
    ids of its orders; orders with nothing to archive (or no archive configured) are in none.
    """
    if archive is None or not rows:
        return []
    read = _TaxReader(rows[0]._fields, privacy, report)
    scopes: dict[str, str] = {}
    records: list[ArchiveRecord] = []
    archived_ids: list[int] = []
    for row in rows:
        fields = read(row)
        if not fields:
            continue
        seller, marketplace = row.code, row.marketplace_id or LOCAL_MARKETPLACE
        if seller not in scopes:
            scopes[seller] = scope_name(seller)
        if marketplace not in scopes:
            scopes[marketplace] = scope_name(marketplace)
        day = as_utc(row.placed_at).date()
        records.append(ArchiveRecord(row.external_ref, day, scopes[seller], scopes[marketplace], fields))
        archived_ids.append(row.id)
    if not records:
        return []
    # One sealed box per group of records: an X25519 exchange per group, not per order.
    batch = archive.append_grouped(records, per_entry=GROUP_SIZE)
    report.archive_files.add(batch.file)
    report.archived += len(records)
    return [
        ArchiveGroup(
            ArchivePlace(batch.file, batch.first_entry + number, batch.head),
            archived_ids[start : start + GROUP_SIZE],
        )
        for number, start in enumerate(range(0, len(archived_ids), GROUP_SIZE))
    ]


class _TaxReader:
    """The invoice address (billing, else delivery) of a row in clear, for the archive (AC-15: tax fields).

    Only these columns are read and decrypted: the sweep's inner loop (phones, e-mails and notes are
    redacted without ever being opened). A value whose key is destroyed is left out; one that does not
    decrypt is left out and reported.
    """

    def __init__(self, names: Sequence[str], privacy: Privacy, report: SweepReport) -> None:
        position = {name: index for index, name in enumerate(names)}
        self.parts = [
            (
                position[f"{prefix}_country"],
                [(position[column], column, archived_as) for column, archived_as in columns],
            )
            for prefix, columns in TAX_COLUMNS
        ]
        self.id, self.ref = position["id"], position["pii_ref"]
        self.open = privacy.vault.table_opener("sales_orders")
        self.report = report

    def __call__(self, row: Sequence[Any]) -> dict[str, str]:
        record: bytes | None = None
        for country_at, columns in self.parts:
            fields: dict[str, str] = {}
            for at, column, archived_as in columns:
                value = row[at]
                if value is None or value == pii.REDACTED:
                    continue
                if value.startswith(SEALED_PREFIX):
                    if record is None:
                        record = record_part(row[self.ref])
                    try:
                        value = self.open(_unbase64(value), record, column)
                    except KeyDestroyedError:
                        continue
                    except DecryptionError:
                        self.report.problems.append(
                            f"order {row[self.id]}: {column} does not decrypt; redacted unarchived"
                        )
                        continue
                fields[archived_as] = value
            if fields:
                country = row[country_at]
                if country:
                    fields["country"] = country
                return fields
        return {}


def _unbase64(value: str) -> bytes:
    try:
        return binascii.a2b_base64(value[_PREFIX:], strict_mode=True)
    except binascii.Error:
        raise DecryptionError("vault: sealed text is damaged") from None
