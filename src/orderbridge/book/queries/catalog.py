"""Products and bundles for the catalog pages: keyset-paged by SKU, with stock on hand summed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.book.catalog import BundleComponent, Product
from orderbridge.book.inventory import StockLevel
from orderbridge.book.queries.paging import Page, decode, keyset_page, page_size


@dataclass(frozen=True)
class ProductLine:
    id: int
    sku: str
    name: str
    stock_tracked: bool
    is_bundle: bool
    on_hand: int
    allocated: int
    components: int


def list_products(
    session: Session,
    *,
    bundles: bool | None = None,
    search: str | None = None,
    cursor: str | None = None,
    size: int | None = None,
) -> Page[ProductLine]:
    """Products by SKU (only bundles, or no bundles, when asked); `search` matches the start of the SKU."""
    on_hand = (
        select(func.coalesce(func.sum(StockLevel.on_hand), 0))
        .where(StockLevel.product_id == Product.id)
        .scalar_subquery()
    )
    allocated = (
        select(func.coalesce(func.sum(StockLevel.allocated), 0))
        .where(StockLevel.product_id == Product.id)
        .scalar_subquery()
    )
    parts = select(func.count()).where(BundleComponent.bundle_id == Product.id).scalar_subquery()
    query = select(
        Product.id,
        Product.sku,
        Product.name,
        Product.stock_tracked,
        Product.is_bundle,
        on_hand.label("on_hand"),
        allocated.label("allocated"),
        parts.label("parts"),
    )
    if bundles is not None:
        query = query.where(Product.is_bundle.is_(bundles))
    if search:
        query = query.where(Product.sku.startswith(search.strip(), autoescape=True))

    def line(row: Any) -> ProductLine:
        return ProductLine(
            row.id,
            row.sku,
            row.name,
            row.stock_tracked,
            row.is_bundle,
            int(row.on_hand),
            int(row.allocated),
            int(row.parts),
        )

    return keyset_page(
        session,
        query,
        columns=(Product.sku,),
        key_of=lambda row: (row.sku,),
        cursor=decode(cursor, parts=1),
        size=page_size(size),
        descending=False,
        convert=line,
    )


def all_skus(session: Session, *, limit: int | None = None) -> list[tuple[str, str]]:
    """(SKU, name) of every product and bundle (the first `limit` by SKU): the choices when connecting
    a listing."""
    query = select(Product.sku, Product.name).order_by(Product.sku).limit(limit)
    return [(sku, name) for sku, name in session.execute(query)]


def bundle_parts(session: Session, bundle_ids: list[int]) -> dict[int, list[tuple[str, int]]]:
    """Bundle id -> (component SKU, quantity)."""
    if not bundle_ids:
        return {}
    query = (
        select(BundleComponent.bundle_id, Product.sku, BundleComponent.quantity)
        .join(Product, Product.id == BundleComponent.component_id)
        .where(BundleComponent.bundle_id.in_(bundle_ids))
        .order_by(BundleComponent.bundle_id, Product.sku)
    )
    found: dict[int, list[tuple[str, int]]] = {}
    for bundle_id, sku, quantity in session.execute(query):
        found.setdefault(bundle_id, []).append((sku, quantity))
    return found
