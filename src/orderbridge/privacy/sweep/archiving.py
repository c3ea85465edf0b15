"""Archiving a batch of due orders before redaction: their tax fields, opened and sealed (P6, AC-15)."""

from __future__ import annotations

import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from orderbridge.book import pii
from orderbridge.clock import as_utc
from orderbridge.privacy.archive import GROUP_SIZE, ArchiveRecord, ArchiveWriter
from orderbridge.privacy.errors import DecryptionError, KeyDestroyedError
from orderbridge.privacy.sealing import LOCAL_MARKETPLACE, SEALED_PREFIX, Privacy, scope_name
from orderbridge.privacy.sweep.context import SweepReport

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


def archive_orders(
    archive: ArchiveWriter | None, privacy: Privacy, rows: Sequence[Any], report: SweepReport
) -> dict[int, ArchivePlace]:
    """Seal the tax fields of `rows` into the archive, durably, before anything is redacted (P6, AC-13).

    `rows` carry the order's id, external ref, pii ref, placed_at, channel code and marketplace, the
    two countries and the `TAX_COLUMN_NAMES`. Returns where each archived order (by id) went; orders
    with nothing to archive (or no archive configured) are absent.
    """
    if archive is None:
        return {}
    opener = privacy.vault.field_opener()
    scopes: dict[str, str] = {}
    records: list[ArchiveRecord] = []
    archived_ids: list[int] = []
    for row in rows:
        fields = tax_fields(row, report, opener)
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
        return {}
    # One sealed box per group of records: an X25519 exchange per group, not per order.
    batch = archive.append_grouped(records, per_entry=GROUP_SIZE)
    report.archive_files.add(batch.file)
    report.archived += len(records)
    return {
        order_id: ArchivePlace(batch.file, batch.first_entry + offset // GROUP_SIZE, batch.head)
        for offset, order_id in enumerate(archived_ids)
    }


def tax_fields(
    row: Any, report: SweepReport, opener: Callable[[bytes, str, str, str], str]
) -> dict[str, str]:
    """The invoice address (billing, else delivery) in clear, for the archive (AC-15: tax fields only).

    Only these columns are read and decrypted: the sweep's inner loop (phones, e-mails and notes are
    redacted without ever being opened).
    """
    mapping = row._mapping
    ref = row.pii_ref
    for prefix, names in TAX_COLUMNS:
        fields: dict[str, str] = {}
        for name, archived_as in names:
            value = mapping[name]
            if value is None or value == pii.REDACTED:
                continue
            if value.startswith(SEALED_PREFIX):
                try:
                    value = opener(_unbase64(value), "sales_orders", ref, name)
                except KeyDestroyedError:
                    continue
                except DecryptionError:
                    report.problems.append(f"order {row.id}: {name} does not decrypt; redacted unarchived")
                    continue
            fields[archived_as] = value
        if fields:
            country = mapping[f"{prefix}_country"]
            if country:
                fields["country"] = country
            return fields
    return {}


def _unbase64(value: str) -> bytes:
    try:
        return binascii.a2b_base64(value[_PREFIX:], strict_mode=True)
    except binascii.Error:
        raise DecryptionError("vault: sealed text is damaged") from None
