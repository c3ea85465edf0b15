"""The seller's carriers: the names a shipment may give, and which of them have no tracking numbers.

One list per installation. A shipment names a carrier of the list (or its shipping method's carrier),
and needs a tracking number unless that carrier is marked as having none (a letter service, a hand
delivery). The defaults are the common carriers, all with tracking, and "Other (no tracking)".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Boolean, Integer, String, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.book.errors import InvalidValueError
from orderbridge.db import Base

NO_TRACKING_OTHER = "Other (no tracking)"

# The carriers a new book starts with, spelled as sellers (and Amazon's carrier list) write them.
DEFAULT_CARRIERS: tuple[tuple[str, bool], ...] = (
    *(
        (name, True)
        for name in (
            "USPS", "UPS", "FedEx", "DHL", "DHL eCommerce", "OnTrac", "Amazon Shipping", "Canada Post",
            "Royal Mail", "Parcelforce", "DPD", "Evri", "Hermes", "Yodel", "GLS", "Deutsche Post",
            "La Poste", "Colissimo", "Chronopost", "Poste Italiane", "BRT", "SDA", "TNT", "Correos",
            "Australia Post", "Japan Post", "Yamato Transport", "Sagawa",
        )
    ),
    (NO_TRACKING_OTHER, False),
)  # fmt: skip


class Carrier(Base):
    """A carrier the seller ships with; `has_tracking` False: its shipments carry no tracking number."""

    __tablename__ = "carriers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    has_tracking: Mapped[bool] = mapped_column(Boolean, default=True)


@dataclass(frozen=True)
class CarrierLine:
    name: str
    has_tracking: bool


def ensure_default_carriers(session: Session) -> None:
    """Create the default carriers while the list is empty (a seller's edits are kept); called on first
    use. Two processes may start at once: the inserts that lose the race do nothing."""
    if session.scalar(select(func.count()).select_from(Carrier)):
        return
    rows = [{"name": name, "has_tracking": has_tracking} for name, has_tracking in DEFAULT_CARRIERS]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(Carrier).values(rows).on_conflict_do_nothing())


def list_carriers(session: Session) -> list[CarrierLine]:
    """Every carrier by name; while the list is empty, the defaults it will start with. Pages read
    through a reading transaction, so the list is only created by the first use that writes."""
    query = select(Carrier).order_by(func.lower(Carrier.name))
    found = [CarrierLine(c.name, c.has_tracking) for c in session.scalars(query)]
    if found:
        return found
    return sorted((CarrierLine(n, t) for n, t in DEFAULT_CARRIERS), key=lambda c: c.name.lower())


def find_carrier(session: Session, name: str) -> Carrier | None:
    """The carrier of this name, however it is capitalised."""
    ensure_default_carriers(session)
    wanted = name.strip().casefold()
    return next((c for c in session.scalars(select(Carrier)) if c.name.casefold() == wanted), None)


def save_carrier(session: Session, name: str, *, has_tracking: bool = True) -> Carrier:
    """Add a carrier, or change whether an existing one has tracking numbers."""
    name = name.strip()
    if not name or len(name) > 100:
        raise InvalidValueError(f"carrier name {name!r}: must be 1 to 100 characters")
    carrier = find_carrier(session, name)
    if carrier is None:
        carrier = Carrier(name=name, has_tracking=has_tracking)
        session.add(carrier)
    carrier.has_tracking = has_tracking
    session.flush()
    return carrier
