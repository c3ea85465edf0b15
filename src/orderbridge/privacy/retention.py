"""The retention sweep: archive, redact, shred and make the store forget, for every record due (P1, P3-P6).

One sweep, idempotent and resumable, over everything stored (P4):
1. seal what is still plaintext (rows written before privacy was enabled) and move anchored orders
   still under the open key to their epoch key;
2. for each batch of due Amazon orders (shipped or cancelled + the retention period, by UTC day): seal
   their tax fields into the cold archive (fsynced), then in ONE transaction set every PII column of
   the order, its notes and custom field values to ``[Redacted]`` and write the redaction ledger;
3. the same for Amazon contacts whose last Amazon order is due (nothing to archive: the order holds
   the tax address), dropping their e-mail blind index (C5);
4. destroy every epoch key up to today that no unredacted record uses any more (audited, AC-17);
5. make the store forget: SQLite ``secure_delete`` and a WAL checkpoint (TRUNCATE); PostgreSQL VACUUM.

A sweep killed between two batches leaves each record either redacted and archived or untouched; the
next sweep carries on (an order archived but not yet redacted is archived again: restores dedupe).
Records of non-Amazon channels are never due (P8).
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Engine,
    Table,
    and_,
    case,
    exists,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.book import pii
from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.contacts import Contact
from orderbridge.book.custom_fields import CustomFieldDefinition, CustomFieldValue, RecordKind
from orderbridge.book.orders.model import OrderNote, SalesOrder
from orderbridge.clock import Clock, as_utc
from orderbridge.privacy import audit
from orderbridge.privacy.archive import GROUP_SIZE, ArchiveRecord, ArchiveWriter
from orderbridge.privacy.errors import DecryptionError, KeyDestroyedError
from orderbridge.privacy.key_lifecycle import destroy_key
from orderbridge.privacy.keystore import KeyId, KeyKind
from orderbridge.privacy.models import AuditAction, RedactionLedger
from orderbridge.privacy.purge import purge_old_amazon_data
from orderbridge.privacy.sealing import (
    LOCAL_MARKETPLACE,
    SEALED_PREFIX,
    Privacy,
    follow_order,
    scope_name,
    seal_record,
)
from orderbridge.privacy.search import index_missing_names
from orderbridge.privacy.tables import registered_pii_tables

Progress = Callable[[str, int, int], None]
"""(phase, done, total): called after each batch."""

# Owners before what follows their key: notes and custom field values take their order's or contact's.
PII_MODELS: tuple[Any, ...] = (SalesOrder, Contact, OrderNote, CustomFieldValue)
# §3.4: an open key (records not due yet) rolls this often, and the one before it is destroyed at the next
# sweep once its records are re-keyed. Ciphertext an open key sealed (in the WAL, dumps and backups, also
# of records since re-keyed to an epoch) thus dies at most about a week after it was replaced, well
# inside the retention period of anything it sealed.
OPEN_KEY_DAYS = 7
_ADDRESS_PARTS = ("name", "company", "line1", "line2", "city", "postcode")
_ARCHIVE_NAMES = {"line1": "address_line1", "line2": "address_line2"}
_TAX_COLUMNS = tuple(
    (prefix, tuple((f"{prefix}_{part}", _ARCHIVE_NAMES.get(part, part)) for part in _ADDRESS_PARTS))
    for prefix in ("billing", "delivery")
)


def _unbase64(value: str) -> bytes:
    try:
        return binascii.a2b_base64(value[len(SEALED_PREFIX) :], strict_mode=True)
    except binascii.Error:
        raise DecryptionError("vault: sealed text is damaged") from None


@dataclass
class SweepReport:
    """What one sweep did (or, dry, would do)."""

    dry_run: bool
    sealed: int = 0
    orders: int = 0
    contacts: int = 0
    archived: int = 0
    archive_files: set[str] = field(default_factory=set)
    keys_destroyed: list[str] = field(default_factory=list)
    keys_kept: list[str] = field(default_factory=list)
    keys_rolled: list[str] = field(default_factory=list)
    rekeyed: int = 0
    old_orders_deleted: int = 0
    old_contacts_deleted: int = 0
    names_indexed: int = 0
    other_records: int = 0
    problems: list[str] = field(default_factory=list)


def day_cutoff(now: datetime, period: timedelta) -> datetime:
    """Anchors before this are due today: a record due any time on today's UTC day is swept today."""
    tomorrow = datetime.combine(as_utc(now).date() + timedelta(days=1), time(0), tzinfo=UTC)
    return tomorrow - period


def anchored_before(cutoff: datetime) -> ColumnElement[bool]:
    """Orders whose retention anchor (cancellation, or the last shipment if fully shipped) is before `cutoff`.

    Never NULL, so that NOT() of it is safe.
    """
    shipped, cancelled = SalesOrder.shipped_at, SalesOrder.cancelled_at
    return or_(
        and_(cancelled.is_not(None), cancelled < cutoff, or_(shipped.is_(None), shipped < cutoff)),
        and_(cancelled.is_(None), shipped.is_not(None), shipped < cutoff),
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


def _redact_values(table: Table) -> dict[str, Any]:
    return {
        name: case((table.c[name].is_(None), null()), else_=literal(pii.REDACTED))
        for name in pii.pii_fields(table)
    }


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


class Sweep:
    """One retention sweep over a store."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        privacy: Privacy,
        archive: ArchiveWriter | None,
        *,
        clock: Clock,
        actor: str = "job:sweep",
        batch_size: int = 2000,
        progress: Progress | None = None,
        between_batches: Callable[[int], None] | None = None,
        non_pii_legal_basis: str | None = None,
    ) -> None:
        """`non_pii_legal_basis`: "" deletes redacted Amazon data past 18 months (AC-29); a basis keeps it;
        None leaves that step to the caller."""
        self.sessions = sessions
        self.privacy = privacy
        self.archive = archive
        self.clock = clock
        self.actor = actor
        self.batch_size = batch_size
        self.progress = progress
        self.between_batches = between_batches
        self.non_pii_legal_basis = non_pii_legal_basis
        self._batches = 0

    def run(self, *, dry_run: bool = False) -> SweepReport:
        now = as_utc(self.clock())
        report = SweepReport(dry_run=dry_run)
        cutoff = day_cutoff(now, self.privacy.period)
        with self.sessions() as session:
            amazon = amazon_channel_ids(session)
            due = session.scalar(select(func.count()).where(due_orders(amazon, cutoff))) or 0
            contacts = session.scalar(
                select(func.count()).select_from(Contact).where(due_contacts(amazon, cutoff))
            )
        if dry_run:
            report.orders, report.contacts = due, contacts or 0
            return report
        report.sealed = self._seal_stored(amazon, cutoff)
        report.names_indexed = index_missing_names(self.sessions, self.privacy, batch_size=self.batch_size)
        self._redact_orders(amazon, cutoff, now, due, report)
        self._redact_contacts(amazon, cutoff, now, contacts or 0, report)
        self._redact_registered(cutoff, now, report)
        if self.non_pii_legal_basis == "":
            old = purge_old_amazon_data(self.sessions, amazon, now=now, batch_size=self.batch_size)
            report.old_orders_deleted, report.old_contacts_deleted = old.orders, old.contacts
        self._destroy_keys(now, report)
        self._roll_open_keys(now, report)
        self._forget()
        with self._transaction() as session:
            audit.append(
                session,
                actor=self.actor,
                action=AuditAction.SWEEP,
                detail={
                    "orders": report.orders,
                    "contacts": report.contacts,
                    "other_records": report.other_records,
                    "sealed": report.sealed,
                    "archived": report.archived,
                    "keys_destroyed": len(report.keys_destroyed),
                    "open_keys_rolled": len(report.keys_rolled),
                    "old_orders_deleted": report.old_orders_deleted,
                    "old_contacts_deleted": report.old_contacts_deleted,
                    "retention_days": self.privacy.retention_days,
                },
                clock=self.clock,
            )
        return report

    # -- phases ---------------------------------------------------------------------------------

    def _seal_stored(self, amazon: Sequence[int], cutoff: datetime) -> int:
        """P4: seal plaintext rows (written before privacy was on); re-key anchored orders still open."""
        sealed = 0
        for model in PII_MODELS:
            last: Any = None
            while True:
                with self._transaction() as session:
                    query = select(model).where(model.pii_key.is_(None), model.pii_redacted_at.is_(None))
                    records = self._page(session, model, query, last)
                    if not records:
                        break
                    for record in records:
                        sealed += seal_record(self.privacy, session, record)
                    last = self._position(records[-1])
        last = None
        while True:
            with self._transaction() as session:
                query = select(SalesOrder).where(
                    SalesOrder.channel_id.in_(amazon),
                    SalesOrder.pii_redacted_at.is_(None),
                    or_(SalesOrder.shipped_at.is_not(None), SalesOrder.cancelled_at.is_not(None)),
                    ~anchored_before(cutoff),
                    SalesOrder.pii_key.like("%/open-%"),
                )
                records = self._page(session, SalesOrder, query, last)
                if not records:
                    break
                for order in records:
                    if seal_record(self.privacy, session, order, rekey=True):
                        follow_order(self.privacy, session, order)
                        sealed += 1
                last = self._position(records[-1])
        return sealed

    def _page(self, session: Session, model: Any, query: Any, last: Any) -> list[Any]:
        if model is CustomFieldValue:
            order = (CustomFieldValue.definition_id, CustomFieldValue.record_id)
            if last is not None:
                query = query.where(
                    or_(
                        CustomFieldValue.definition_id > last[0],
                        and_(CustomFieldValue.definition_id == last[0], CustomFieldValue.record_id > last[1]),
                    )
                )
            return list(session.scalars(query.order_by(*order).limit(self.batch_size)))
        if last is not None:
            query = query.where(model.id > last)
        return list(session.scalars(query.order_by(model.id).limit(self.batch_size)))

    @staticmethod
    def _position(record: Any) -> Any:
        if isinstance(record, CustomFieldValue):
            return (record.definition_id, record.record_id)
        return record.id

    def _redact_orders(
        self, amazon: Sequence[int], cutoff: datetime, now: datetime, total: int, report: SweepReport
    ) -> None:
        orders = _table(SalesOrder)
        names = [name for _prefix, parts in _TAX_COLUMNS for name, _archived_as in parts]
        columns = [orders.c.id, orders.c.external_ref, orders.c.pii_ref, orders.c.pii_key, orders.c.placed_at]
        columns += [orders.c.billing_country, orders.c.delivery_country]
        columns += [_table(Channel).c.code, _table(Channel).c.marketplace_id]
        columns += [orders.c[name] for name in names]
        done, last = 0, 0
        with self.sessions() as reader:
            highest = reader.scalar(select(func.max(orders.c.id))) or 0
        # Walk the ids in bounded windows: whatever plan the store picks (stale statistics after a
        # bulk load made PostgreSQL scan every later row for each batch), a batch reads one window.
        window = self.batch_size * 4
        while last < highest:
            with self.sessions() as reader:
                rows = reader.execute(
                    select(*columns)
                    .join(_table(Channel), _table(Channel).c.id == orders.c.channel_id)
                    .where(due_orders(amazon, cutoff), orders.c.id > last, orders.c.id <= last + window)
                    .order_by(orders.c.id)
                    .limit(self.batch_size)
                ).all()
            if len(rows) < self.batch_size:
                last += window
            else:
                last = rows[-1].id
            if not rows:
                continue
            self._redact_order_batch(rows, now, report)
            done += len(rows)
            report.orders += len(rows)
            self._after_batch("orders", done, total)

    def _redact_order_batch(self, rows: Sequence[Any], now: datetime, report: SweepReport) -> None:
        records: list[ArchiveRecord] = []
        archived_ids: list[int] = []
        opener = self.privacy.vault.field_opener()
        scopes: dict[str, str] = {}

        def scope(code: str) -> str:
            found = scopes.get(code)
            if found is None:
                found = scopes[code] = scope_name(code)
            return found

        for row in rows:
            fields = self._tax_fields(row, report, opener)
            if fields and self.archive is not None:
                records.append(
                    ArchiveRecord(
                        order_id=row.external_ref,
                        day=as_utc(row.placed_at).date(),
                        seller=scope(row.code),
                        marketplace=scope(row.marketplace_id or LOCAL_MARKETPLACE),
                        fields=fields,
                    )
                )
                archived_ids.append(row.id)
        where: dict[int, tuple[str, int, str]] = {}
        if records:
            assert self.archive is not None
            # Durable before anything is redacted (P6, AC-13); one sealed box per group of records.
            batch = self.archive.append_grouped(records, per_entry=GROUP_SIZE)
            report.archive_files.add(batch.file)
            report.archived += len(records)
            for offset, order_id in enumerate(archived_ids):
                where[order_id] = (batch.file, batch.first_entry + offset // GROUP_SIZE, batch.head)
        ids = [row.id for row in rows]
        with self._transaction() as session:
            orders = _table(SalesOrder)
            session.execute(
                update(orders)
                .where(orders.c.id.in_(ids), orders.c.pii_redacted_at.is_(None))
                .values(**_redact_values(orders), pii_key=None, pii_redacted_at=now)
            )
            notes = _table(OrderNote)
            session.execute(
                update(notes)
                .where(notes.c.order_id.in_(ids), notes.c.pii_redacted_at.is_(None))
                .values(**_redact_values(notes), pii_key=None, pii_redacted_at=now)
            )
            self._redact_custom_values(session, RecordKind.SALES_ORDER, ids, now)
            ledger = [
                {
                    "record_kind": "sales_order",
                    "record_id": row.id,
                    "pii_ref": row.pii_ref,
                    "field_classes": "name,company,address,phone,notes,custom_fields",
                    "rule": f"P1: shipped or cancelled + {self.privacy.retention_days} days",
                    "key_id": row.pii_key,
                    "redacted_at": now,
                    "archive_file": where.get(row.id, (None, None, None))[0],
                    "archive_entry": where.get(row.id, (None, None, None))[1],
                    "archive_head": where.get(row.id, (None, None, None))[2],
                }
                for row in rows
            ]
            self._write_ledger(session, ledger)

    def _tax_fields(
        self, row: Any, report: SweepReport, opener: Callable[[bytes, str, str, str], str]
    ) -> dict[str, str]:
        """The invoice address (billing, else delivery) in clear, for the archive (AC-15: tax fields only).

        Only these columns are read and decrypted: the sweep's inner loop (phones, e-mails and notes are
        redacted without ever being opened).
        """
        mapping = row._mapping
        ref = row.pii_ref
        for prefix, names in _TAX_COLUMNS:
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
                        report.problems.append(
                            f"order {row.id}: {name} does not decrypt; redacted unarchived"
                        )
                        continue
                fields[archived_as] = value
            if fields:
                country = mapping[f"{prefix}_country"]
                if country:
                    fields["country"] = country
                return fields
        return {}

    def _redact_custom_values(
        self, session: Session, kind: RecordKind, ids: list[int], now: datetime
    ) -> None:
        values = _table(CustomFieldValue)
        definitions = select(CustomFieldDefinition.id).where(CustomFieldDefinition.record_kind == kind)
        session.execute(
            update(values)
            .where(
                values.c.record_id.in_(ids),
                values.c.definition_id.in_(definitions.scalar_subquery()),
                values.c.pii_redacted_at.is_(None),
            )
            .values(**_redact_values(values), pii_key=None, pii_redacted_at=now)
        )

    def _write_ledger(self, session: Session, ledger: list[dict[str, Any]]) -> None:
        if not ledger:
            return
        kind = ledger[0]["record_kind"]
        ids = [entry["record_id"] for entry in ledger]
        known = set(
            session.scalars(
                select(RedactionLedger.record_id).where(
                    RedactionLedger.record_kind == kind, RedactionLedger.record_id.in_(ids)
                )
            )
        )
        fresh = [entry for entry in ledger if entry["record_id"] not in known]  # AC-10: no duplicates
        if fresh:
            session.execute(insert(_table(RedactionLedger)), fresh)

    def _redact_contacts(
        self, amazon: Sequence[int], cutoff: datetime, now: datetime, total: int, report: SweepReport
    ) -> None:
        contacts = _table(Contact)
        done, last = 0, 0
        with self.sessions() as reader:
            highest = reader.scalar(select(func.max(contacts.c.id))) or 0
        window = self.batch_size * 4  # bounded windows, as for orders: constant memory and plan
        while last < highest:
            with self._transaction() as session:
                rows = session.execute(
                    select(contacts.c.id, contacts.c.pii_ref, contacts.c.pii_key)
                    .where(due_contacts(amazon, cutoff), contacts.c.id > last, contacts.c.id <= last + window)
                    .order_by(contacts.c.id)
                    .limit(self.batch_size)
                ).all()
                last = rows[-1].id if len(rows) == self.batch_size else last + window
                if not rows:
                    continue
                ids = [row.id for row in rows]
                session.execute(
                    update(contacts)
                    .where(contacts.c.id.in_(ids), contacts.c.pii_redacted_at.is_(None))
                    .values(
                        **_redact_values(contacts),
                        email_key=None,
                        name_key=None,
                        pii_key=None,
                        pii_redacted_at=now,
                    )
                )
                self._redact_custom_values(session, RecordKind.CONTACT, ids, now)
                self._write_ledger(
                    session,
                    [
                        {
                            "record_kind": "contact",
                            "record_id": row.id,
                            "pii_ref": row.pii_ref,
                            "field_classes": "name,company,email,phone,address,custom_fields",
                            "rule": "P1: last Amazon order due, or no order and created before the period",
                            "key_id": row.pii_key,
                            "redacted_at": now,
                            "archive_file": None,
                            "archive_entry": None,
                            "archive_head": None,
                        }
                        for row in rows
                    ],
                )
            done += len(rows)
            report.contacts += len(rows)
            self._after_batch("contacts", done, total)

    def _redact_registered(self, cutoff: datetime, now: datetime, report: SweepReport) -> None:
        """PII tables other packages registered (the Amazon inbox's payloads): redact the due rows."""
        for entry in registered_pii_tables():
            table = _table(entry.model)
            names = pii.pii_fields(table)
            done, last = 0, 0
            with self.sessions() as reader:
                highest = reader.scalar(select(func.max(table.c.id))) or 0
            window = self.batch_size * 4
            while last < highest:
                with self._transaction() as session:
                    rows = session.execute(
                        select(table.c.id, table.c.pii_ref, table.c.pii_key)
                        .where(
                            entry.due(cutoff),
                            table.c.pii_redacted_at.is_(None),
                            table.c.id > last,
                            table.c.id <= last + window,
                        )
                        .order_by(table.c.id)
                        .limit(self.batch_size)
                    ).all()
                    last = rows[-1].id if len(rows) == self.batch_size else last + window
                    if not rows:
                        continue
                    session.execute(
                        update(table)
                        .where(table.c.id.in_([row.id for row in rows]), table.c.pii_redacted_at.is_(None))
                        .values(**_redact_values(table), pii_key=None, pii_redacted_at=now)
                    )
                    self._write_ledger(
                        session,
                        [
                            {
                                "record_kind": table.name,
                                "record_id": row.id,
                                "pii_ref": row.pii_ref,
                                "field_classes": ",".join(names)[:200],
                                "rule": entry.rule[:100],
                                "key_id": row.pii_key,
                                "redacted_at": now,
                                "archive_file": None,
                                "archive_entry": None,
                                "archive_head": None,
                            }
                            for row in rows
                        ],
                    )
                done += len(rows)
                report.other_records += len(rows)
                self._after_batch(table.name, done, done)

    def _destroy_keys(self, now: datetime, report: SweepReport) -> None:
        """Shred every epoch key up to today that no unredacted record still uses (§3.4, AC-17)."""
        today = now.date()
        for key_id in self.privacy.keys.live_epochs():
            if key_id.day is None or key_id.day > today:
                continue
            with self._transaction() as session:
                if self._in_use(session, key_id):
                    report.keys_kept.append(str(key_id))
                    continue
                destroy_key(self.privacy.keys, session, key_id, actor=self.actor, clock=self.clock)
                report.keys_destroyed.append(str(key_id))

    def _roll_open_keys(self, now: datetime, report: SweepReport) -> None:
        """§3.4: re-key what older open keys of Amazon scopes still seal and destroy them; roll old ones.

        A key rolled in this sweep is re-keyed and destroyed by the next one, so that a writer that
        fetched it just before the roll has committed by then (its records are found and re-keyed).
        Non-Amazon scopes keep their open key (P8: not Amazon data, nothing falls due).
        """
        keys = self.privacy.keys
        scopes: dict[tuple[str, str], list[KeyId]] = {}
        for key_id in keys.live_keys():
            if key_id.kind is KeyKind.OPEN and key_id.marketplace != LOCAL_MARKETPLACE:
                scopes.setdefault((key_id.seller, key_id.marketplace), []).append(key_id)
        for (seller, marketplace), found in scopes.items():
            current = max(found, key=lambda key_id: key_id.serial)
            for older in sorted(set(found) - {current}):
                report.rekeyed += self._rekey(older)
                with self._transaction() as session:
                    if self._in_use(session, older):
                        report.keys_kept.append(str(older))
                        continue
                    destroy_key(
                        keys, session, older, actor=self.actor, clock=self.clock, reason="open key rolled"
                    )
                    report.keys_destroyed.append(str(older))
            created = keys.created_at(current)
            if created is None or created <= now - timedelta(days=OPEN_KEY_DAYS):
                rolled = keys.roll_open_key(seller, marketplace).key_id
                report.keys_rolled.append(str(rolled))

    def _rekey(self, key_id: KeyId) -> int:
        """Move every live record sealed under `key_id` to the key it belongs under now (batched)."""
        moved = 0
        for model in PII_MODELS:
            last: Any = None
            while True:
                with self._transaction() as session:
                    query = select(model).where(model.pii_key == str(key_id), model.pii_redacted_at.is_(None))
                    records = self._page(session, model, query, last)
                    if not records:
                        break
                    for record in records:
                        moved += seal_record(self.privacy, session, record, rekey=True)
                    last = self._position(records[-1])
        return moved

    @staticmethod
    def _in_use(session: Session, key_id: KeyId) -> bool:
        for model in (*PII_MODELS, *(entry.model for entry in registered_pii_tables())):
            found = session.scalar(
                select(literal(1))
                .where(model.pii_key == str(key_id), model.pii_redacted_at.is_(None))
                .limit(1)
            )
            if found is not None:
                return True
        return False

    def _forget(self) -> None:
        forget_store(self._engine())

    # -- plumbing -------------------------------------------------------------------------------

    def _engine(self) -> Engine:
        bind = self.sessions.kw.get("bind")
        assert isinstance(bind, Engine), "the sweep needs a session factory bound to an engine"
        return bind

    def _transaction(self) -> _SweepTransaction:
        return _SweepTransaction(self.sessions)

    def _after_batch(self, phase: str, done: int, total: int) -> None:
        self._batches += 1
        if self.progress is not None:
            self.progress(phase, done, total)
        if self.between_batches is not None:
            self.between_batches(self._batches)


class _SweepTransaction:
    """A transaction whose SQLite connection overwrites what it deletes (secure_delete, DPP §3.8)."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._context = sessions.begin()

    def __enter__(self) -> Session:
        session = self._context.__enter__()
        if session.get_bind().dialect.name == "sqlite":
            session.connection().exec_driver_sql("PRAGMA secure_delete=ON")
        return session

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)


def forget_store(engine: Engine) -> None:
    """Make the store drop old row versions: SQLite WAL checkpoint (TRUNCATE); PostgreSQL VACUUM."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            connection.exec_driver_sql("PRAGMA secure_delete=ON")
            connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        return
    models = (*PII_MODELS, *(entry.model for entry in registered_pii_tables()))
    tables = ", ".join(_table(model).name for model in models)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM {tables}")


def sweep(
    sessions: sessionmaker[Session],
    privacy: Privacy,
    archive: ArchiveWriter | None,
    *,
    clock: Clock,
    dry_run: bool = False,
    **options: Any,
) -> SweepReport:
    """Run one retention sweep (see the module docstring)."""
    return Sweep(sessions, privacy, archive, clock=clock, **options).run(dry_run=dry_run)
