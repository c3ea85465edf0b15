"""The retention sweep: archive, redact, shred and make the store forget, for every record due (P1, P3-P6).

One sweep, idempotent and resumable, over everything stored (P4). Each step lives in a module of
`orderbridge.privacy.sweep`; this one runs them in order:
1. `rekeying`: seal what is still plaintext (rows written before privacy was enabled) and move anchored
   orders still under the open key to their epoch key;
2. `due` finds each batch of due Amazon orders (shipped or cancelled + the retention period, by UTC
   day); `archiving` seals their tax fields into the cold archive (fsynced); then in ONE transaction
   `redaction` sets every PII column of the orders, their notes and custom field values to
   ``[Redacted]`` and `ledger` records it;
3. the same for Amazon contacts whose last Amazon order is due (nothing to archive: the order holds
   the tax address), dropping their blind indexes (C5), and for PII tables other packages registered;
4. `shredding`: destroy every epoch key up to today that no unredacted record uses any more (audited,
   AC-17), and roll the open keys;
5. `forgetting`: SQLite ``secure_delete`` (on every sweep transaction) and a WAL checkpoint
   (TRUNCATE); PostgreSQL VACUUM.

A sweep killed between two batches leaves each record either redacted and archived or untouched; the
next sweep carries on (an order archived but not yet redacted is archived again: restores dedupe).
Records of non-Amazon channels are never due (P8).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.book import pii
from orderbridge.book.channels import Channel
from orderbridge.book.contacts import Contact
from orderbridge.book.orders.model import SalesOrder
from orderbridge.clock import Clock, as_utc
from orderbridge.privacy import audit
from orderbridge.privacy.archive import ArchiveWriter
from orderbridge.privacy.models import AuditAction
from orderbridge.privacy.purge import purge_old_amazon_data
from orderbridge.privacy.sealing import Privacy
from orderbridge.privacy.search import index_missing_names
from orderbridge.privacy.sweep.archiving import TAX_COLUMN_NAMES, archive_orders
from orderbridge.privacy.sweep.context import Progress, SweepContext, SweepReport
from orderbridge.privacy.sweep.due import (
    amazon_channel_ids,
    day_cutoff,
    due_batches,
    due_contacts,
    due_orders,
    refresh_statistics,
    table_of,
)
from orderbridge.privacy.sweep.forgetting import forget_store, swept_models
from orderbridge.privacy.sweep.ledger import record_redactions
from orderbridge.privacy.sweep.redaction import redact_contacts, redact_orders, redact_rows
from orderbridge.privacy.sweep.rekeying import seal_stored
from orderbridge.privacy.sweep.shredding import destroy_epoch_keys, roll_open_keys
from orderbridge.privacy.tables import PiiTable, registered_pii_tables

_ORDER_FIELDS = "name,company,address,phone,notes,custom_fields"
_CONTACT_FIELDS = "name,company,email,phone,address,custom_fields"
_CONTACT_RULE = "P1: last Amazon order due, or no order and created before the period"


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
        self.context = SweepContext(
            sessions,
            privacy,
            archive,
            clock,
            actor=actor,
            batch_size=batch_size,
            progress=progress,
            between_batches=between_batches,
        )
        self.non_pii_legal_basis = non_pii_legal_basis

    def run(self, *, dry_run: bool = False) -> SweepReport:
        run = self.context
        now = as_utc(run.clock())
        report = SweepReport(dry_run=dry_run)
        cutoff = day_cutoff(now, run.privacy.period)
        with run.sessions() as session:
            amazon = amazon_channel_ids(session)
            due = session.scalar(select(func.count()).where(due_orders(amazon, cutoff))) or 0
            contacts = session.scalar(
                select(func.count()).select_from(Contact).where(due_contacts(amazon, cutoff))
            )
        if dry_run:
            report.orders, report.contacts = due, contacts or 0
            return report
        report.sealed = seal_stored(run, amazon, cutoff)
        report.names_indexed = index_missing_names(run.sessions, run.privacy, batch_size=run.batch_size)
        refresh_statistics(run.engine(), [table_of(model) for model in swept_models()])
        self._redact_orders(amazon, cutoff, now, due, report)
        self._redact_contacts(amazon, cutoff, now, contacts or 0, report)
        for entry in registered_pii_tables():
            self._redact_registered(entry, cutoff, now, report)
        if self.non_pii_legal_basis == "":
            old = purge_old_amazon_data(run.sessions, amazon, now=now, batch_size=run.batch_size)
            report.old_orders_deleted, report.old_contacts_deleted = old.orders, old.contacts
        destroy_epoch_keys(run, now, report)
        roll_open_keys(run, now, report)
        forget_store(run.engine())
        with run.transaction() as session:
            audit.append(
                session,
                actor=run.actor,
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
                    "retention_days": run.privacy.retention_days,
                },
                clock=run.clock,
            )
        return report

    def _redact_orders(
        self, amazon: Sequence[int], cutoff: datetime, now: datetime, total: int, report: SweepReport
    ) -> None:
        run = self.context
        orders, channels = table_of(SalesOrder), table_of(Channel)
        columns = [orders.c.id, orders.c.external_ref, orders.c.pii_ref, orders.c.pii_key, orders.c.placed_at]
        columns += [orders.c.billing_country, orders.c.delivery_country]
        columns += [channels.c.code, channels.c.marketplace_id]
        columns += [orders.c[name] for name in TAX_COLUMN_NAMES]

        def read(session: Session, window: ColumnElement[bool]) -> Sequence[Any]:
            query = (
                select(*columns)
                .join(channels, channels.c.id == orders.c.channel_id)
                .where(due_orders(amazon, cutoff), window)
                .order_by(orders.c.id)
                .limit(run.batch_size)
            )
            return session.execute(query).all()

        rule = f"P1: shipped or cancelled + {run.privacy.retention_days} days"
        for rows in due_batches(run.sessions, orders, run.batch_size, read):
            # Durable in the archive before anything is redacted (P6, AC-13).
            archived = archive_orders(run.archive, run.privacy, rows, report)
            ids = [row.id for row in rows]
            with run.transaction() as session:
                record_redactions(
                    session,
                    orders,
                    ids,
                    kind="sales_order",
                    field_classes=_ORDER_FIELDS,
                    rule=rule,
                    now=now,
                    archived=archived,
                )
                redact_orders(session, ids, now)
            report.orders += len(rows)
            run.after_batch("orders", report.orders, total)

    def _redact_contacts(
        self, amazon: Sequence[int], cutoff: datetime, now: datetime, total: int, report: SweepReport
    ) -> None:
        run = self.context
        contacts = table_of(Contact)

        def read(session: Session, window: ColumnElement[bool]) -> Sequence[Any]:
            query = (
                select(contacts.c.id, contacts.c.pii_ref, contacts.c.pii_key)
                .where(due_contacts(amazon, cutoff), window)
                .order_by(contacts.c.id)
                .limit(run.batch_size)
            )
            return session.execute(query).all()

        for rows in due_batches(run.sessions, contacts, run.batch_size, read):
            ids = [row.id for row in rows]
            with run.transaction() as session:
                record_redactions(
                    session,
                    contacts,
                    ids,
                    kind="contact",
                    field_classes=_CONTACT_FIELDS,
                    rule=_CONTACT_RULE,
                    now=now,
                )
                redact_contacts(session, ids, now)
            report.contacts += len(rows)
            run.after_batch("contacts", report.contacts, total)

    def _redact_registered(
        self, entry: PiiTable, cutoff: datetime, now: datetime, report: SweepReport
    ) -> None:
        """A PII table another package registered (the Amazon inbox's payloads): redact its due rows."""
        run = self.context
        table = table_of(entry.model)
        field_classes = ",".join(pii.pii_fields(table))[:200]

        def read(session: Session, window: ColumnElement[bool]) -> Sequence[Any]:
            query = (
                select(table.c.id, table.c.pii_ref, table.c.pii_key)
                .where(entry.due(cutoff), table.c.pii_redacted_at.is_(None), window)
                .order_by(table.c.id)
                .limit(run.batch_size)
            )
            return session.execute(query).all()

        done = 0
        for rows in due_batches(run.sessions, table, run.batch_size, read):
            ids = [row.id for row in rows]
            with run.transaction() as session:
                record_redactions(
                    session,
                    table,
                    ids,
                    kind=table.name,
                    field_classes=field_classes,
                    rule=entry.rule[:100],
                    now=now,
                )
                redact_rows(session, table, ids, now)
            done += len(rows)
            report.other_records += len(rows)
            run.after_batch(table.name, done, done)


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
