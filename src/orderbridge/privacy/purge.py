"""Deleting Amazon-derived rows for good: a purged seller's (AC-28, R10) and data past 18 months (AC-29, R23).

Redaction (the sweep) keeps an order's non-PII facts for tax; these two go further and delete the rows:
- a seller purge (authorisation revoked, Amazon's notice): every order and contact of the seller's Amazon
  channels, after its keys are destroyed;
- the DPP's 18-month limit on non-PII Amazon data (Nov 2025): Amazon orders placed more than 18 months
  ago, already redacted, and the redacted Amazon contacts left without orders, unless the operator
  configured a legal basis to keep them (e.g. "HMRC: 6 years for VAT records").
Deleting an order releases its stock allocation, and takes its rows, notes, shipments, custom field
values, credits and payments with it. Batches commit one by one, so a purge killed half-way resumes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, Table, delete, exists, select, update
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.book.channels import Channel, ChannelKind
from orderbridge.book.contacts import Contact
from orderbridge.book.credits import SalesCredit
from orderbridge.book.custom_fields import CustomFieldDefinition, CustomFieldValue, RecordKind
from orderbridge.book.orders.cancel import free_allocation
from orderbridge.book.orders.model import OrderRow, SalesOrder, Shipment
from orderbridge.book.payments import Payment
from orderbridge.book.settlements import SettlementLine
from orderbridge.clock import Clock, as_utc
from orderbridge.privacy import audit
from orderbridge.privacy.errors import PrivacyError
from orderbridge.privacy.key_lifecycle import PurgeCertificate, purge_seller
from orderbridge.privacy.models import AuditAction
from orderbridge.privacy.sealing import Privacy, scope_name

NON_PII_LIMIT = timedelta(days=548)  # DPP Nov 2025: non-PII Amazon data at most 18 months


@dataclass
class Deleted:
    """What a purge deleted (counts only)."""

    orders: int = 0
    contacts: int = 0
    credits: int = 0
    payments: int = 0
    contacts_kept: int = 0
    extra: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {
            "orders_deleted": self.orders,
            "contacts_deleted": self.contacts,
            "credits_deleted": self.credits,
            "payments_deleted": self.payments,
            "contacts_kept": self.contacts_kept,
        }


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


def delete_orders(session: Session, order_ids: Sequence[int], deleted: Deleted) -> None:
    """Delete orders and everything hanging off them; stock they hold is released first."""
    if not order_ids:
        return
    ids = list(order_ids)
    for row in session.scalars(select(OrderRow).where(OrderRow.order_id.in_(ids), OrderRow.allocated > 0)):
        free_allocation(session, row)
    session.flush()
    credit_ids = list(session.scalars(select(SalesCredit.id).where(SalesCredit.order_id.in_(ids))))
    payments = _table(Payment)
    deleted.payments += _count(
        session, delete(payments).where(payments.c.order_id.in_(ids) | payments.c.credit_id.in_(credit_ids))
    )
    credits = _table(SalesCredit)
    deleted.credits += _count(session, delete(credits).where(credits.c.id.in_(credit_ids)))
    _delete_values(session, RecordKind.SALES_ORDER, ids)
    # A settlement's lines keep the Amazon order id they name; only the link to the deleted order goes.
    lines = _table(SettlementLine)
    session.execute(update(lines).where(lines.c.order_id.in_(ids)).values(order_id=None))
    shipments = _table(Shipment)  # before the rows their shipment rows name (PostgreSQL checks in order)
    session.execute(delete(shipments).where(shipments.c.order_id.in_(ids)))
    orders = _table(SalesOrder)
    deleted.orders += _count(session, delete(orders).where(orders.c.id.in_(ids)))
    session.expire_all()


def delete_contacts(session: Session, contact_ids: Sequence[int], deleted: Deleted) -> None:
    """Delete contacts that no order, credit or payment still names; count the rest as kept."""
    if not contact_ids:
        return
    ids = list(contact_ids)
    still_used = set(session.scalars(select(SalesOrder.contact_id).where(SalesOrder.contact_id.in_(ids))))
    still_used |= set(session.scalars(select(SalesCredit.contact_id).where(SalesCredit.contact_id.in_(ids))))
    still_used |= set(session.scalars(select(Payment.contact_id).where(Payment.contact_id.in_(ids))))
    free = [contact_id for contact_id in ids if contact_id not in still_used]
    deleted.contacts_kept += len(ids) - len(free)
    if not free:
        return
    contacts = _table(Contact)
    session.execute(update(contacts).where(contacts.c.merged_into_id.in_(free)).values(merged_into_id=None))
    _delete_values(session, RecordKind.CONTACT, free)
    deleted.contacts += _count(session, delete(contacts).where(contacts.c.id.in_(free)))
    session.expire_all()


def _count(session: Session, statement: Any) -> int:
    result = cast(CursorResult[Any], session.execute(statement))
    return int(result.rowcount)


def _delete_values(session: Session, kind: RecordKind, ids: list[int]) -> None:
    values = _table(CustomFieldValue)
    definitions = select(CustomFieldDefinition.id).where(CustomFieldDefinition.record_kind == kind)
    session.execute(
        delete(values).where(
            values.c.record_id.in_(ids), values.c.definition_id.in_(definitions.scalar_subquery())
        )
    )


def _in_batches(
    sessions: sessionmaker[Session],
    query: Any,
    work: Callable[[Session, list[int]], None],
    *,
    batch_size: int,
) -> None:
    """Run `work` on the ids `query` selects, a batch per transaction, until none is left."""
    while True:
        with sessions.begin() as session:
            ids = list(session.scalars(query.limit(batch_size)))
            if not ids:
                return
            work(session, ids)


# -- a seller's data (AC-28) -----------------------------------------------------------------------


def seller_channels(session: Session, scope: str) -> list[int]:
    """The Amazon channels whose key scope is `scope` (a channel code as the key store names it)."""
    found = session.execute(select(Channel.id, Channel.code).where(Channel.kind == ChannelKind.AMAZON)).all()
    return [channel_id for channel_id, code in found if scope_name(code) == scope]


def purge_seller_data(
    sessions: sessionmaker[Session],
    privacy: Privacy,
    scope: str,
    *,
    actor: str,
    clock: Clock,
    reason: str,
    batch_size: int = 500,
) -> PurgeCertificate:
    """Destroy a seller's keys, then delete its Amazon orders and contacts; certify both (AC-28, R10).

    Keys first: from that moment nothing of the seller's is readable anywhere (also in backups); the rows
    then go batch by batch. Running it again finishes a purge that was interrupted.
    """
    with sessions() as session:
        channels = seller_channels(session, scope)
    if not channels and not privacy.keys.live_keys(scope) and not privacy.keys.destroyed_keys(scope):
        raise PrivacyError(f"seller purge: no Amazon channel or key scope named {scope!r}")
    with sessions.begin() as session:
        keys_certificate = purge_seller(privacy.keys, session, scope, actor=actor, clock=clock, reason=reason)
    deleted = Deleted()
    if channels:
        orders = select(SalesOrder.id).where(SalesOrder.channel_id.in_(channels)).order_by(SalesOrder.id)
        _in_batches(sessions, orders, lambda s, ids: delete_orders(s, ids, deleted), batch_size=batch_size)
        contacts = (
            select(Contact.id)
            .where(Contact.origin_channel_id.in_(channels), Contact.marketplace_id.is_not(None))
            .order_by(Contact.id)
        )
        last = 0
        while True:  # by id: a contact another channel's order still names is kept (its keys are gone)
            with sessions.begin() as session:
                ids = list(session.scalars(contacts.where(Contact.id > last).limit(batch_size)))
                if not ids:
                    break
                delete_contacts(session, ids, deleted)
                last = ids[-1]
    with sessions.begin() as session:
        entry = audit.append(
            session,
            actor=actor,
            action=AuditAction.DATA_PURGED,
            subjects=[f"seller:{scope}"],
            detail={**deleted.as_dict(), "reason": reason},
            clock=clock,
        )
    return PurgeCertificate(
        seller=keys_certificate.seller,
        purged_at=keys_certificate.purged_at,
        actor=actor,
        reason=reason,
        keys_destroyed=keys_certificate.keys_destroyed,
        audit_seq=entry.seq,
        audit_hash=entry.hash,
        rows_deleted=deleted.as_dict(),
    )


# -- non-PII Amazon data past 18 months (AC-29) ----------------------------------------------------


def old_amazon_orders(amazon: Sequence[int], now: datetime) -> Any:
    """Amazon orders placed more than 18 months ago whose PII is already redacted."""
    return (
        select(SalesOrder.id)
        .where(
            SalesOrder.channel_id.in_(amazon),
            SalesOrder.placed_at < as_utc(now) - NON_PII_LIMIT,
            SalesOrder.pii_redacted_at.is_not(None),
        )
        .order_by(SalesOrder.id)
    )


def purge_old_amazon_data(
    sessions: sessionmaker[Session], amazon: Sequence[int], *, now: datetime, batch_size: int = 500
) -> Deleted:
    """Delete redacted Amazon orders past 18 months, and redacted Amazon contacts left with no order."""
    deleted = Deleted()
    if amazon:
        _in_batches(
            sessions,
            old_amazon_orders(amazon, now),
            lambda s, ids: delete_orders(s, ids, deleted),
            batch_size=batch_size,
        )
    orphans = (
        select(Contact.id)
        .where(
            Contact.marketplace_id.is_not(None),
            Contact.pii_redacted_at.is_not(None),
            Contact.created_at < as_utc(now) - NON_PII_LIMIT,
            ~exists().where(SalesOrder.contact_id == Contact.id),
            ~exists().where(SalesCredit.contact_id == Contact.id),
            ~exists().where(Payment.contact_id == Contact.id),
        )
        .order_by(Contact.id)
    )
    _in_batches(sessions, orphans, lambda s, ids: delete_contacts(s, ids, deleted), batch_size=batch_size)
    return deleted
