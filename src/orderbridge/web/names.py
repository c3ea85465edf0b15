"""Finding buyers by name or e-mail, answered by privacy's blind indexes of live buyer data.

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
from orderbridge.privacy.search import find_contacts_by_email, find_contacts_by_name


class LiveNameIndex:
    """Orders of the contacts whose live name matches (exactly, after normalising); an order whose buyer
    data was removed never matches, even while its contact still has live data from a later order.

    One per request: a name is looked up (and audited) once however many lists ask for it."""

    def __init__(
        self, *, actor: str, channel: str, clock: Clock, purpose: str = "order_search_by_name"
    ) -> None:
        self.actor, self.channel, self.clock, self.purpose = actor, channel, clock, purpose
        self._found: dict[tuple[str, str], list[int]] = {}

    def contact_ids(self, session: Session, name: str) -> list[int]:
        """The live contacts named `name` (audited as a read of buyer data by the searcher)."""
        return self._looked_up(session, "name", name)

    def contact_ids_by_email(self, session: Session, email: str) -> list[int]:
        """The live contacts whose e-mail is `email` (audited as a read of buyer data by the searcher)."""
        return self._looked_up(session, "email", email)

    def order_ids(self, session: Session, name: str) -> Select[Any]:
        contact_ids = self.contact_ids(session, name)
        return select(SalesOrder.id).where(
            SalesOrder.contact_id.in_(contact_ids), SalesOrder.pii_redacted_at.is_(None)
        )

    def _looked_up(self, session: Session, by: str, value: str) -> list[int]:
        if (by, value) in self._found:
            return self._found[(by, value)]
        find = find_contacts_by_name if by == "name" else find_contacts_by_email
        contact_ids = [contact.id for contact in find(session, value)]
        with writes_beside(session) as writing:  # the search is audited also from a reading request
            audit.append(
                writing,
                actor=self.actor,
                action=AuditAction.PII_READ,
                subjects=[f"contact:{contact_id}" for contact_id in contact_ids],
                detail={
                    "purpose": self.purpose if by == "name" else self.purpose.replace("name", "email"),
                    "matches": len(contact_ids),
                    "channel": self.channel,
                    "outcome": "ok",
                },
                clock=self.clock,
            )
        self._found[(by, value)] = contact_ids
        return contact_ids
