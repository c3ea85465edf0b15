"""Tax codes, tax rules, nominal codes and the company defaults they fall back to."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, Numeric, String, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapped, Session, mapped_column

from orderbridge.book.errors import InvalidValueError, NotFoundError
from orderbridge.db import Base, BigId


class NominalCode(Base):
    """An account in the seller's chart of accounts (e.g. 4000 Sales, 4040 Shipping)."""

    __tablename__ = "nominal_codes"
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))


class TaxCode(Base):
    __tablename__ = "tax_codes"
    __table_args__ = (CheckConstraint("rate >= 0 AND rate < 10", name="rate_range"),)
    code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    rate: Mapped[Decimal] = mapped_column(Numeric(9, 6))


class TaxRule(Base):
    """Picks a tax code (O13). Empty criteria match anything; the most specific rule wins."""

    __tablename__ = "tax_rules"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    marketplace: Mapped[str | None] = mapped_column(String(40))
    ship_to_country: Mapped[str | None] = mapped_column(String(2))
    tax_class: Mapped[str | None] = mapped_column(String(40))
    tax_code: Mapped[str] = mapped_column(ForeignKey("tax_codes.code"))
    priority: Mapped[int] = mapped_column(Integer, default=0)


class Company(Base):
    """The seller's company defaults: one row."""

    __tablename__ = "company"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    name: Mapped[str] = mapped_column(String(200), default="My company")
    currency: Mapped[str] = mapped_column(String(3), default="GBP")
    sales_nominal_code: Mapped[str | None] = mapped_column(ForeignKey("nominal_codes.code"))
    shipping_nominal_code: Mapped[str | None] = mapped_column(ForeignKey("nominal_codes.code"))
    cod_fee_nominal_code: Mapped[str | None] = mapped_column(ForeignKey("nominal_codes.code"))
    delivery_tip_nominal_code: Mapped[str | None] = mapped_column(ForeignKey("nominal_codes.code"))
    default_tax_code: Mapped[str | None] = mapped_column(ForeignKey("tax_codes.code"))


def company(session: Session) -> Company:
    """The company row, created with defaults on first use."""
    row = session.get(Company, 1)
    if row is None:
        # Several processes (distributed workers) may book their first order at once: the insert that
        # loses the race does nothing, and every one of them then reads the row that won.
        values = {"id": 1, "name": "My company", "currency": "GBP"}
        insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
        session.execute(insert(Company).values(values).on_conflict_do_nothing())
        row = session.get(Company, 1)
        assert row is not None
    return row


def add_nominal_code(session: Session, code: str, name: str) -> NominalCode:
    existing = session.get(NominalCode, code)
    if existing is not None:
        existing.name = name
        return existing
    row = NominalCode(code=code, name=name)
    session.add(row)
    return row


def add_tax_code(session: Session, code: str, name: str, rate: Decimal) -> TaxCode:
    if not Decimal(0) <= rate < 10:
        raise InvalidValueError(f"tax code {code!r}: rate {rate} must be a fraction such as 0.20")
    existing = session.get(TaxCode, code)
    if existing is not None:
        existing.name, existing.rate = name, rate
        return existing
    row = TaxCode(code=code, name=name, rate=rate)
    session.add(row)
    return row


def tax_code(session: Session, code: str) -> TaxCode:
    row = session.get(TaxCode, code)
    if row is None:
        raise NotFoundError("tax code", code)
    return row


def add_tax_rule(
    session: Session,
    tax_code: str,
    *,
    marketplace: str | None = None,
    ship_to_country: str | None = None,
    tax_class: str | None = None,
) -> TaxRule:
    if session.get(TaxCode, tax_code) is None:
        raise NotFoundError("tax code", tax_code)
    rule = TaxRule(
        tax_code=tax_code, marketplace=marketplace, ship_to_country=ship_to_country, tax_class=tax_class
    )
    session.add(rule)
    return rule


def save_tax_rule(
    session: Session,
    tax_code: str,
    *,
    marketplace: str | None = None,
    ship_to_country: str | None = None,
    tax_class: str | None = None,
    priority: int = 0,
) -> tuple[TaxRule, bool]:
    """Add a rule, or change the tax code and priority of the rule with the same criteria (two rules of
    the same criteria could never both apply); the rule and whether it is new."""
    if session.get(TaxCode, tax_code) is None:
        raise NotFoundError("tax code", tax_code)
    criteria = (
        (TaxRule.marketplace, marketplace),
        (TaxRule.ship_to_country, ship_to_country),
        (TaxRule.tax_class, tax_class),
    )
    query = select(TaxRule).order_by(TaxRule.id)
    for column, value in criteria:
        query = query.where(column.is_(None) if value is None else column == value)
    existing = session.scalars(query).first()
    if existing is not None:
        existing.tax_code, existing.priority = tax_code, priority
        return existing, False
    rule = TaxRule(
        tax_code=tax_code,
        marketplace=marketplace,
        ship_to_country=ship_to_country,
        tax_class=tax_class,
        priority=priority,
    )
    session.add(rule)
    session.flush()
    return rule, True


def pick_tax_code(
    session: Session, *, marketplace: str | None, ship_to_country: str | None, tax_class: str | None
) -> str | None:
    """O13: the tax code of the most specific matching rule, else the company default."""
    best: tuple[int, int, str] | None = None
    for rule in session.scalars(select(TaxRule)):
        criteria = (
            (rule.marketplace, marketplace),
            (rule.ship_to_country, ship_to_country),
            (rule.tax_class, tax_class),
        )
        if any(want is not None and want != have for want, have in criteria):
            continue
        specificity = sum(want is not None for want, _ in criteria)
        candidate = (specificity, rule.priority, rule.tax_code)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is not None:
        return best[2]
    return company(session).default_tax_code
