"""`orderbridge products ...` and `orderbridge bundles ...`: import the catalog from CSV and list it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from babel.numbers import is_currency
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from orderbridge.book.catalog import PriceList, Product, ProductPrice, add_price_list
from orderbridge.book.inventory import Warehouse, available_quantity
from orderbridge.cli.context import console, read_only, sessions, unit_of_work
from orderbridge.cli.output import money, print_json, print_table, reported_errors, row_progress, yes_no
from orderbridge.imports.catalog import import_bundles, import_products_in_chunks
from orderbridge.imports.csv_source import read_csv

products = typer.Typer(help="Products: import them from CSV and list them.", no_args_is_help=True)
price_lists = typer.Typer(
    help="Price lists: the prices products sell at, in one currency.", no_args_is_help=True
)
bundles = typer.Typer(help="Bundles of products: import them from CSV and list them.", no_args_is_help=True)

CsvFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The CSV file (header line first).")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON for scripts instead of a table.")]


@products.command("import")
def import_products_command(file: CsvFile) -> None:
    """Create or update products from a CSV file: one product per row, every row checked first.

    Columns: sku (required), name (required), stock_tracked (yes/no; yes for new products),
    sales_nominal_code (an existing nominal code), tax_class, and price:CODE for the price on the price
    list CODE (e.g. price:RETAIL). A column left out of the file leaves that field of existing products
    as it is. Any bad row (named by line and column) means nothing is imported; exit code 1. A big file
    is written 2,000 rows per commit, so the web and the jobs carry on meanwhile; if the import is
    interrupted, run it again to finish it (the rows already written come back unchanged).
    """
    with reported_errors():
        table = read_csv(file)
        with row_progress("products", len(table.rows)) as tick:
            report = import_products_in_chunks(sessions(), table, tick=tick)
    console.print(str(report), highlight=False, soft_wrap=True)


@products.command("list")
def list_products(
    as_json: AsJson = False,
    search: Annotated[str | None, typer.Option(help="Only SKUs or names containing this text.")] = None,
) -> None:
    """List the products with their prices per price list."""
    with read_only() as session:
        found = product_listing(session, search)
    if as_json:
        print_json([asdict(product) for product in found])
        return
    rows = [
        [
            p.sku,
            p.name,
            yes_no(p.stock_tracked),
            yes_no(p.is_bundle),
            p.sales_nominal_code,
            p.tax_class,
            p.price_text,
        ]
        for p in found
    ]
    columns = ["SKU", "name", "stock-tracked", "bundle", "nominal code", "tax class", "prices"]
    print_table("Products", columns, rows)


@dataclass(frozen=True)
class ProductView:
    sku: str
    name: str
    stock_tracked: bool
    is_bundle: bool
    sales_nominal_code: str | None
    tax_class: str | None
    prices: dict[str, Decimal]

    @property
    def price_text(self) -> str:
        return ", ".join(f"{code} {price}" for code, price in self.prices.items())


def product_listing(session: Session, search: str | None) -> list[ProductView]:
    """Products by SKU, optionally only those whose SKU or name contains `search` (any case)."""
    query = select(Product).order_by(Product.sku)
    if search:
        pattern = f"%{search}%"
        query = query.where(or_(Product.sku.ilike(pattern), Product.name.ilike(pattern)))
    found = list(session.scalars(query))
    prices: dict[int, dict[str, Decimal]] = {}
    for product_id, code, price, currency in session.execute(
        select(ProductPrice.product_id, PriceList.code, ProductPrice.price, PriceList.currency)
        .join(PriceList, PriceList.id == ProductPrice.price_list_id)
        .order_by(PriceList.code)
    ):
        prices.setdefault(product_id, {})[code] = money(price, currency)
    return [
        ProductView(
            sku=product.sku,
            name=product.name,
            stock_tracked=product.stock_tracked,
            is_bundle=product.is_bundle,
            sales_nominal_code=product.sales_nominal_code,
            tax_class=product.tax_class,
            prices=prices.get(product.id, {}),
        )
        for product in found
    ]


@bundles.command("import")
def import_bundles_command(file: CsvFile) -> None:
    """Define bundles from a CSV file: one line per component, all lines or none.

    Columns: bundle_sku (required), component_sku (required, an existing product that is not a bundle),
    quantity (required, how many of the component per bundle), name (the bundle's name, needed only when
    bundle_sku is not a product yet). The lines of a bundle replace its old components. Any bad line
    means nothing is imported; exit code 1.
    """
    with reported_errors():
        table = read_csv(file)
        with row_progress("bundles", len(table.rows)) as tick, unit_of_work() as session:
            report = import_bundles(session, table, tick=tick)
    console.print(str(report), highlight=False, soft_wrap=True)


@bundles.command("list")
def list_bundles(as_json: AsJson = False) -> None:
    """List the bundles, their components and how many whole bundles each warehouse can supply."""
    with read_only() as session:
        found, codes = bundle_listing(session)
    if as_json:
        print_json([asdict(bundle) for bundle in found])
        return
    rows = [[b.sku, b.name, b.component_text, *(b.available[code] for code in codes)] for b in found]
    columns = ["SKU", "name", "components", *(f"available {code}" for code in codes)]
    print_table("Bundles", columns, rows, right=frozenset(columns[3:]))


@dataclass(frozen=True)
class BundleView:
    sku: str
    name: str
    components: dict[str, int]
    available: dict[str, int]

    @property
    def component_text(self) -> str:
        return ", ".join(f"{quantity} x {sku}" for sku, quantity in self.components.items())


def bundle_listing(session: Session) -> tuple[list[BundleView], list[str]]:
    """Bundles by SKU with components (SKU -> quantity) and whole bundles available per warehouse code."""
    warehouses = list(session.scalars(select(Warehouse).order_by(Warehouse.code)))
    found = session.scalars(select(Product).where(Product.is_bundle.is_(True)).order_by(Product.sku))
    listing = [
        BundleView(
            sku=bundle.sku,
            name=bundle.name,
            components={part.component.sku: part.quantity for part in bundle.components},
            available={w.code: available_quantity(session, bundle, w) for w in warehouses},
        )
        for bundle in found
    ]
    return listing, [w.code for w in warehouses]


@price_lists.command("add")
def add_price_list_command(
    code: Annotated[str, typer.Argument(help="A short unique code, used in price:CODE import columns.")],
    name: Annotated[str, typer.Argument(help="The price list's name.")],
    currency: Annotated[str, typer.Argument(help="ISO 4217 currency code, e.g. GBP.")],
) -> None:
    """Add a price list."""
    if not is_currency(currency.upper()):
        raise typer.BadParameter(f"unknown ISO 4217 currency {currency!r}", param_hint="CURRENCY")
    with reported_errors(), unit_of_work() as session:
        add_price_list(session, code, name, currency)
    console.print(f"price list {code} added", highlight=False)


@price_lists.command("list")
def list_price_lists(as_json: AsJson = False) -> None:
    """List the price lists."""
    with read_only() as session:
        found = [
            {"code": p.code, "name": p.name, "currency": p.currency}
            for p in session.scalars(select(PriceList).order_by(PriceList.code))
        ]
    if as_json:
        print_json(found)
        return
    print_table("Price lists", ["code", "name", "currency"], [list(p.values()) for p in found])
