"""The order list's name search, answered by privacy's blind index of live buyer names.

`book` may not import `privacy`, so the book's `NameIndex` hook is filled here, in the web layer, one per
request: which contacts a name matched is buyer data, so each search is audited under the searcher.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from orderbridge.book.orders.model import SalesOrder
from orderbridge.clock import Clock
from orderbridge.db import writes_beside
from orderbridge.privacy import audit
from orderbridge.privacy.models import AuditAction
from orderbridge.privacy.search import find_contacts_by_name


class LiveNameIndex:
    """Orders of the contacts whose live name matches (exactly, after normalising); an order whose buyer
    data was removed never matches, even while its contact still has live data from a later order."""

    def __init__(self, *, actor: str, channel: str, clock: Clock) -> None:
        self.actor, self.channel, self.clock = actor, channel, clock

    def order_ids(self, session: Session, name: str) -> Select[Any]:
        contact_ids = [contact.id for contact in find_contacts_by_name(session, name)]
        with writes_beside(session) as writing:  # the search is audited also from a reading request
            audit.append(
                writing,
                actor=self.actor,
                action=AuditAction.PII_READ,
                subjects=[f"contact:{contact_id}" for contact_id in contact_ids],
                detail={
                    "purpose": "order_search_by_name",
                    "matches": len(contact_ids),
                    "channel": self.channel,
                    "outcome": "ok",
                },
                clock=self.clock,
            )
        return select(SalesOrder.id).where(
            SalesOrder.contact_id.in_(contact_ids), SalesOrder.pii_redacted_at.is_(None)
        )
