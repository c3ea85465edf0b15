"""Postal addresses as a value object; the lines, names and phone are PII, country and district not (P3)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from orderbridge.book.pii import pii_column


@dataclass(frozen=True)
class Address:
    name: str | None = None
    company: str | None = None
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    region: str | None = None
    postcode: str | None = None
    country: str | None = None
    phone: str | None = None

    @property
    def postcode_district(self) -> str | None:
        """The outward part of a postcode (kept for tax after redaction, P3): 'SW1A 1AA' -> 'SW1A'."""
        if not self.postcode:
            return None
        return self.postcode.strip().split()[0][:5].upper()


class BillingAddressColumns:
    """The billing address, stored as `billing_*` columns."""

    billing_name: Mapped[str | None] = pii_column()
    billing_company: Mapped[str | None] = pii_column()
    billing_line1: Mapped[str | None] = pii_column()
    billing_line2: Mapped[str | None] = pii_column()
    billing_city: Mapped[str | None] = pii_column()
    billing_region: Mapped[str | None] = mapped_column(String(100))
    billing_postcode: Mapped[str | None] = pii_column()
    billing_country: Mapped[str | None] = mapped_column(String(2))
    billing_phone: Mapped[str | None] = pii_column()
    billing_postcode_district: Mapped[str | None] = mapped_column(String(10))


class DeliveryAddressColumns:
    """The delivery address, stored as `delivery_*` columns."""

    delivery_name: Mapped[str | None] = pii_column()
    delivery_company: Mapped[str | None] = pii_column()
    delivery_line1: Mapped[str | None] = pii_column()
    delivery_line2: Mapped[str | None] = pii_column()
    delivery_city: Mapped[str | None] = pii_column()
    delivery_region: Mapped[str | None] = mapped_column(String(100))
    delivery_postcode: Mapped[str | None] = pii_column()
    delivery_country: Mapped[str | None] = mapped_column(String(2))
    delivery_phone: Mapped[str | None] = pii_column()
    delivery_postcode_district: Mapped[str | None] = mapped_column(String(10))


_PARTS = tuple(part.name for part in fields(Address))
_COLUMNS = {prefix: tuple(f"{prefix}_{name}" for name in _PARTS) for prefix in ("billing", "delivery")}


def _columns(prefix: str) -> tuple[str, ...]:
    return _COLUMNS.get(prefix) or tuple(f"{prefix}_{name}" for name in _PARTS)


def read_address(record: Any, prefix: str) -> Address:
    return Address(
        **{name: getattr(record, column) for name, column in zip(_PARTS, _columns(prefix), strict=True)}
    )


def address_values(prefix: str, address: Address) -> dict[str, Any]:
    """The `prefix_*` column values of an address, for the bulk INSERT paths."""
    values = {column: getattr(address, name) for name, column in zip(_PARTS, _columns(prefix), strict=True)}
    values[f"{prefix}_postcode_district"] = address.postcode_district
    return values


def write_address(record: Any, prefix: str, address: Address) -> None:
    for name, column in zip(_PARTS, _columns(prefix), strict=True):
        setattr(record, column, getattr(address, name))
    setattr(record, f"{prefix}_postcode_district", address.postcode_district)
