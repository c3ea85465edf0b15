"""Catching up: seal plaintext written before privacy was on, move records to their key (P4, §3.4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from orderbridge.book.custom_fields import CustomFieldValue
from orderbridge.book.orders.model import SalesOrder
from orderbridge.privacy.keystore import KeyId
from orderbridge.privacy.sealing import follow_order, seal_record
from orderbridge.privacy.sweep.context import SweepContext
from orderbridge.privacy.sweep.due import anchored_before
from orderbridge.privacy.sweep.forgetting import PII_MODELS


def seal_stored(run: SweepContext, amazon: Sequence[int], cutoff: datetime) -> int:
    """P4: seal plaintext rows (written before privacy was on); re-key anchored orders still open."""
    sealed = 0
    for model in PII_MODELS:
        query = select(model).where(model.pii_key.is_(None), model.pii_redacted_at.is_(None))
        sealed += _reseal_all(run, model, query)
    last = None
    while True:
        with run.transaction() as session:
            query = select(SalesOrder).where(
                SalesOrder.channel_id.in_(amazon),
                SalesOrder.pii_redacted_at.is_(None),
                or_(
                    SalesOrder.shipped_at.is_not(None),
                    SalesOrder.cancelled_at.is_not(None),
                    SalesOrder.channel_shipped_at.is_not(None),
                    SalesOrder.channel_cancelled_at.is_not(None),
                ),
                ~anchored_before(cutoff),
                SalesOrder.pii_key.like("%/open-%"),
            )
            records = _page(session, SalesOrder, query, last, run.batch_size)
            if not records:
                break
            for order in records:
                if seal_record(run.privacy, session, order, rekey=True):
                    follow_order(run.privacy, session, order)
                    sealed += 1
            last = _position(records[-1])
    return sealed


def rekey(run: SweepContext, key_id: KeyId) -> int:
    """Move every live record sealed under `key_id` to the key it belongs under now (batched)."""
    moved = 0
    for model in PII_MODELS:
        query = select(model).where(model.pii_key == str(key_id), model.pii_redacted_at.is_(None))
        moved += _reseal_all(run, model, query, rekey=True)
    return moved


def _reseal_all(run: SweepContext, model: Any, query: Any, *, rekey: bool = False) -> int:
    done = 0
    last: Any = None
    while True:
        with run.transaction() as session:
            records = _page(session, model, query, last, run.batch_size)
            if not records:
                return done
            for record in records:
                done += seal_record(run.privacy, session, record, rekey=rekey)
            last = _position(records[-1])


def _page(session: Session, model: Any, query: Any, last: Any, size: int) -> list[Any]:
    if model is CustomFieldValue:
        order = (CustomFieldValue.definition_id, CustomFieldValue.record_id)
        if last is not None:
            query = query.where(
                or_(
                    CustomFieldValue.definition_id > last[0],
                    and_(CustomFieldValue.definition_id == last[0], CustomFieldValue.record_id > last[1]),
                )
            )
        return list(session.scalars(query.order_by(*order).limit(size)))
    if last is not None:
        query = query.where(model.id > last)
    return list(session.scalars(query.order_by(model.id).limit(size)))


def _position(record: Any) -> Any:
    if isinstance(record, CustomFieldValue):
        return (record.definition_id, record.record_id)
    return record.id
