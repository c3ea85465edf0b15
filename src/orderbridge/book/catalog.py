"""The catalog: products, bundles of products, and price lists with their currency."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from orderbridge.book.errors import DuplicateError, InvalidValueError, NotFoundError
from orderbridge.book.types import Amount
from orderbridge.db import Base, BigId


class PriceList(Base):
    __tablename__ = "price_lists"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    sku: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(500))
    stock_tracked: Mapped[bool] = mapped_column(Boolean, default=True)
    is_bundle: Mapped[bool] = mapped_column(Boolean, default=False)
    sales_nominal_code: Mapped[str | None] = mapped_column(ForeignKey("nominal_codes.code"))
    tax_class: Mapped[str | None] = mapped_column(String(40))

    components: Mapped[list[BundleComponent]] = relationship(
        foreign_keys="BundleComponent.bundle_id", cascade="all, delete-orphan"
    )


class ProductPrice(Base):
    __tablename__ = "product_prices"
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    price_list_id: Mapped[int] = mapped_column(ForeignKey("price_lists.id"), primary_key=True)
    price: Mapped[Decimal] = mapped_column(Amount())


class BundleComponent(Base):
    """One component of a bundle: `quantity` of `component` per bundle."""

    __tablename__ = "bundle_components"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("bundle_id <> component_id", name="not_self"),
    )
    bundle_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True, index=True)
    quantity: Mapped[int] = mapped_column(Integer)

    component: Mapped[Product] = relationship(foreign_keys=[component_id], lazy="joined")


def add_price_list(session: Session, code: str, name: str, currency: str) -> PriceList:
    if session.scalar(select(PriceList).where(PriceList.code == code)) is not None:
        raise DuplicateError("price list", code)
    price_list = PriceList(code=code, name=name, currency=currency.upper())
    session.add(price_list)
    return price_list


def price_list(session: Session, code: str) -> PriceList:
    found = session.scalar(select(PriceList).where(PriceList.code == code))
    if found is None:
        raise NotFoundError("price list", code)
    return found


def product_by_sku(session: Session, sku: str) -> Product:
    found = session.scalar(select(Product).where(Product.sku == sku))
    if found is None:
        raise NotFoundError("product", sku)
    return found


def save_product(
    session: Session,
    sku: str,
    name: str,
    *,
    stock_tracked: bool = True,
    sales_nominal_code: str | None = None,
    tax_class: str | None = None,
) -> Product:
    """Create the product, or update the one with this SKU (imports run twice book nothing twice)."""
    if not sku.strip():
        raise InvalidValueError("product SKU is empty")
    product = session.scalar(select(Product).where(Product.sku == sku))
    if product is None:
        product = Product(sku=sku, is_bundle=False)
        session.add(product)
    product.name = name
    product.stock_tracked = stock_tracked
    product.sales_nominal_code = sales_nominal_code
    product.tax_class = tax_class
    return product


def set_price(session: Session, product: Product, price_list: PriceList, price: Decimal) -> None:
    if price < 0:
        raise InvalidValueError(f"product {product.sku!r}: price {price} is negative")
    session.merge(ProductPrice(product_id=product.id, price_list_id=price_list.id, price=price))


def define_bundle(session: Session, bundle: Product, components: dict[Product, int]) -> Product:
    """Make `bundle` a bundle of `components` (product -> quantity per bundle), replacing any old ones."""
    if not components:
        raise InvalidValueError(f"bundle {bundle.sku!r} has no components")
    for component, quantity in components.items():
        if quantity <= 0:
            raise InvalidValueError(f"bundle {bundle.sku!r}: component {component.sku!r} quantity {quantity}")
        if component.is_bundle or component.sku == bundle.sku:
            raise InvalidValueError(f"bundle {bundle.sku!r}: component {component.sku!r} is a bundle")
    session.flush()
    bundle.is_bundle = True
    bundle.stock_tracked = False
    bundle.components = [
        BundleComponent(bundle_id=bundle.id, component_id=c.id, quantity=q, component=c)
        for c, q in components.items()
    ]
    return bundle
