"""Importing the catalog: products (with prices per price list) and bundles of products."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.book.catalog import (
    BundleComponent,
    PriceList,
    Product,
    ProductPrice,
    define_bundle,
    save_product,
    set_price,
)
from orderbridge.book.inventory import StockLevel
from orderbridge.book.tax import NominalCode
from orderbridge.db import reading, transaction
from orderbridge.imports.csv_source import CsvTable
from orderbridge.imports.errors import Problem, reject_if_any
from orderbridge.imports.report import ImportReport, Tick, no_tick
from orderbridge.imports.rows import PRICE_PREFIX, BundleRow, ProductRow, ValidRows, validate_rows

# Rows written per transaction by a big import: a few seconds at most of the store's write lock, so the
# web and the jobs keep working while a 100,000-row file goes in.
ROWS_PER_COMMIT = 2000
_LOOKUP_BY_SKU = 5000  # up to this many rows, only their own products are loaded


def import_products_in_chunks(
    sessions: sessionmaker[Session],
    table: CsvTable,
    *,
    rows_per_commit: int = ROWS_PER_COMMIT,
    tick: Tick = no_tick,
) -> ImportReport:
    """Every row checked against the book before anything is written (one bad row: nothing is), then
    written `rows_per_commit` rows at a time, each chunk committed on its own so the store's write lock
    is never held for long. An interrupted import is finished by running it again: the rows written
    already come back unchanged."""
    with reading(sessions) as session:
        _checked(session, table)
    report = ImportReport("products", table.source, rows=len(table.rows))
    for start in range(0, len(table.rows), rows_per_commit):
        part = replace(table, rows=table.rows[start : start + rows_per_commit])
        with transaction(sessions) as session:
            done = import_products(session, part, tick=tick)  # checked again against the book as it is now
        report.created += done.created
        report.changed += done.changed
        report.unchanged += done.unchanged
    return report


def _checked(session: Session, table: CsvTable) -> tuple[ValidRows[ProductRow], dict[str, Product]]:
    valid = validate_rows(table, ProductRow)
    query = select(Product)
    if len(valid.rows) <= _LOOKUP_BY_SKU:
        query = query.where(Product.sku.in_([row.sku for _line, row in valid.rows]))
    products = {product.sku: product for product in session.scalars(query)}
    price_lists = {pl.code: pl for pl in session.scalars(select(PriceList))}
    problems = _product_problems(session, valid, products, price_lists)
    reject_if_any(table.source, [*valid.problems, *problems])
    return valid, products


def import_products(session: Session, table: CsvTable, *, tick: Tick = no_tick) -> ImportReport:
    """Create or update one product per row, with its prices; all rows or none (never commits).

    A column the file does not have leaves that field of existing products as it is. Big files go
    through `import_products_in_chunks`.
    """
    valid, products = _checked(session, table)
    price_lists = {pl.code: pl for pl in session.scalars(select(PriceList))}
    report = ImportReport("products", table.source, rows=len(valid.rows))
    price_query = select(ProductPrice)
    if len(valid.rows) <= _LOOKUP_BY_SKU:
        price_query = price_query.where(ProductPrice.product_id.in_([p.id for p in products.values()]))
    prices = {(p.product_id, p.price_list_id): p.price for p in session.scalars(price_query)}
    touched: list[tuple[Product, ProductRow, bool]] = []
    for _line, row in valid.rows:
        existing = products.get(row.sku)
        fields = _product_fields(row, existing, valid.columns)
        if existing is not None and fields == _current_fields(existing):
            touched.append((existing, row, False))
            continue
        name, tracked, nominal_code, tax_class = fields
        product = save_product(
            session,
            row.sku,
            name,
            stock_tracked=tracked,
            sales_nominal_code=nominal_code,
            tax_class=tax_class,
        )
        touched.append((product, row, True))
    session.flush()
    for product, row, saved in touched:
        repriced = [
            code
            for code, price in row.prices.items()
            if prices.get((product.id, price_lists[code].id)) != price
        ]
        for code in repriced:
            set_price(session, product, price_lists[code], row.prices[code])
        if not (saved or repriced):
            report.unchanged += 1
        elif product.sku in products:
            report.changed += 1
        else:
            report.created += 1
        tick()
    return report


ProductFields = tuple[str, bool, str | None, str | None]


def _product_fields(row: ProductRow, existing: Product | None, columns: frozenset[str]) -> ProductFields:
    """(name, stock_tracked, sales_nominal_code, tax_class): the file's value where it has the column,
    else the existing product's own."""
    tracked = row.stock_tracked
    if tracked is None:
        tracked = existing.stock_tracked if existing is not None else True
    if existing is None:
        return row.name, tracked, row.sales_nominal_code, row.tax_class
    nominal_code = row.sales_nominal_code if "sales_nominal_code" in columns else existing.sales_nominal_code
    tax_class = row.tax_class if "tax_class" in columns else existing.tax_class
    return row.name, tracked, nominal_code, tax_class


def _current_fields(product: Product) -> ProductFields:
    return product.name, product.stock_tracked, product.sales_nominal_code, product.tax_class


def _product_problems(
    session: Session,
    valid: ValidRows[ProductRow],
    products: dict[str, Product],
    price_lists: dict[str, PriceList],
) -> list[Problem]:
    problems = [
        Problem(1, column, "no price list has this code", column[len(PRICE_PREFIX) :])
        for column in sorted(valid.columns)
        if column.startswith(PRICE_PREFIX) and column[len(PRICE_PREFIX) :] not in price_lists
    ]
    nominal_codes = set(session.scalars(select(NominalCode.code)))
    on_hand = _on_hand_by_product(session)
    first_line: dict[str, int] = {}
    for line, row in valid.checkable:
        if row.sku is None:  # a bad cell of a row that failed validation (already a problem)
            continue
        if row.sku in first_line:
            problems.append(Problem(line, "sku", f"is also on line {first_line[row.sku]}", row.sku))
        first_line.setdefault(row.sku, line)
        if row.sales_nominal_code and row.sales_nominal_code not in nominal_codes:
            problems.append(
                Problem(line, "sales_nominal_code", "no nominal code has this code", row.sales_nominal_code)
            )
        existing = products.get(row.sku)
        if existing is None:
            continue
        if existing.is_bundle and row.stock_tracked:
            problems.append(
                Problem(line, "stock_tracked", "a bundle holds no stock of its own: use no", "yes")
            )
        elif existing.stock_tracked and row.stock_tracked is False and on_hand.get(existing.id, 0):
            problems.append(
                Problem(
                    line, "stock_tracked", f"{on_hand[existing.id]} are on hand: count them to 0 first", "no"
                )
            )
    return problems


def _on_hand_by_product(session: Session) -> dict[int, int]:
    totals = session.execute(
        select(StockLevel.product_id, func.sum(StockLevel.on_hand)).group_by(StockLevel.product_id)
    )
    return {product_id: int(total or 0) for product_id, total in totals}


def import_bundles(session: Session, table: CsvTable, *, tick: Tick = no_tick) -> ImportReport:
    """Define each bundle (one line per component) from the file; its components replace the old ones."""
    valid = validate_rows(table, BundleRow)
    products = {product.sku: product for product in session.scalars(select(Product))}
    bundles: dict[str, list[tuple[int, BundleRow]]] = defaultdict(list)
    for line, row in valid.checkable:
        if row.bundle_sku is not None:  # None: a bad cell, already a problem
            bundles[row.bundle_sku].append((line, row))
    problems = _bundle_problems(session, bundles, products)
    reject_if_any(table.source, [*valid.problems, *problems])
    report = ImportReport("bundles", table.source, rows=len(valid.rows))
    for sku, lines in bundles.items():
        wanted = {row.component_sku: row.quantity for _line, row in lines}
        bundle = products.get(sku)
        current = {part.component.sku: part.quantity for part in bundle.components} if bundle else {}
        if bundle is not None and bundle.is_bundle and current == wanted:
            report.unchanged += len(lines)
        else:
            report.created += bundle is None
            report.changed += bundle is not None
            if bundle is None:
                name = next(row.name for _line, row in lines if row.name)
                bundle = save_product(session, sku, name, stock_tracked=False)
            define_bundle(session, bundle, {products[c]: quantity for c, quantity in wanted.items()})
        for _ in lines:
            tick()
    return report


def _bundle_problems(
    session: Session, bundles: dict[str, list[tuple[int, BundleRow]]], products: dict[str, Product]
) -> list[Problem]:
    problems: list[Problem] = []
    used_as_component = set(
        session.scalars(select(Product.sku).join(BundleComponent, BundleComponent.component_id == Product.id))
    )
    on_hand = _on_hand_by_product(session)
    for sku, lines in bundles.items():
        first_line, bundle = lines[0][0], products.get(sku)
        names = {row.name for _line, row in lines if row.name}
        if bundle is None and not names:
            problems.append(
                Problem(first_line, "name", "the bundle SKU is new: give its name to create it", sku)
            )
        if len(names) > 1:
            problems.append(Problem(first_line, "name", "the lines of one bundle give different names", sku))
        if bundle is not None and not bundle.is_bundle and sku in used_as_component:
            problems.append(Problem(first_line, "bundle_sku", "is a component of another bundle", sku))
        if bundle is not None and on_hand.get(bundle.id, 0):
            problems.append(
                Problem(
                    first_line,
                    "bundle_sku",
                    f"has {on_hand[bundle.id]} on hand; a bundle holds no stock",
                    sku,
                )
            )
        seen: dict[str, int] = {}
        for line, row in lines:
            problems.extend(_component_problems(line, row, seen, bundles, products))
            seen.setdefault(row.component_sku, line)
    return problems


def _component_problems(
    line: int,
    row: BundleRow,
    seen: dict[str, int],
    bundles: dict[str, list[tuple[int, BundleRow]]],
    products: dict[str, Product],
) -> list[Problem]:
    sku = row.component_sku
    if sku is None:  # a bad cell, already a problem
        return []
    component = products.get(sku)
    if sku in seen:
        return [
            Problem(line, "component_sku", f"is already a component of this bundle on line {seen[sku]}", sku)
        ]
    if sku == row.bundle_sku:
        return [Problem(line, "component_sku", "a bundle cannot contain itself", sku)]
    if sku in bundles or (component is not None and component.is_bundle):
        return [Problem(line, "component_sku", "is a bundle; bundles cannot contain bundles", sku)]
    if component is None:
        return [Problem(line, "component_sku", "no product has this SKU", sku)]
    return []
