"""Importing products and bundles on both stores: created once, unchanged the second time, all or nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from orderbridge.book.catalog import Product, ProductPrice, add_price_list, product_by_sku
from orderbridge.book.inventory import MovementReason, add_warehouse, move_stock
from orderbridge.book.tax import add_nominal_code
from orderbridge.db import make_engine, session_factory
from orderbridge.imports.catalog import import_bundles, import_products, import_products_in_chunks
from orderbridge.imports.errors import ImportRejectedError
from tests.conftest import NOW, STORES
from tests.imports.csv_text import table

PRODUCTS = """
    sku,name,stock_tracked,sales_nominal_code,tax_class,price:RETAIL
    MUG-1,Mug,yes,4000,standard,12.99
    SPOON-1,Spoon,,,,1.50
    GIFT-CARD,Gift card,no,,zero,
"""


@pytest.fixture
def catalog(session: Session) -> Session:
    add_nominal_code(session, "4000", "Sales")
    add_price_list(session, "RETAIL", "Retail", "GBP")
    session.flush()
    return session


def problems(error: pytest.ExceptionInfo[ImportRejectedError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


def product_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Product)) or 0


def test_products_are_created_with_their_prices(catalog: Session) -> None:
    report = import_products(catalog, table(PRODUCTS))

    assert (report.rows, report.created, report.changed, report.unchanged) == (3, 3, 0, 0)
    mug = product_by_sku(catalog, "MUG-1")
    assert (mug.name, mug.stock_tracked, mug.sales_nominal_code, mug.tax_class) == (
        "Mug",
        True,
        "4000",
        "standard",
    )
    assert not product_by_sku(catalog, "GIFT-CARD").stock_tracked
    prices = {p.product_id: p.price for p in catalog.scalars(select(ProductPrice))}
    assert prices == {mug.id: Decimal("12.99"), product_by_sku(catalog, "SPOON-1").id: Decimal("1.50")}


def test_importing_the_same_products_again_changes_nothing(catalog: Session) -> None:
    import_products(catalog, table(PRODUCTS))
    catalog.flush()

    again = import_products(catalog, table(PRODUCTS))

    assert (again.created, again.changed, again.unchanged) == (0, 0, 3)
    assert not catalog.dirty and not catalog.new


def test_a_changed_price_or_name_updates_only_that_product(catalog: Session) -> None:
    import_products(catalog, table(PRODUCTS))

    report = import_products(catalog, table("sku,name,price:RETAIL\nMUG-1,Mug,13.49\nSPOON-1,Teaspoon,1.50"))

    assert (report.created, report.changed, report.unchanged) == (0, 2, 0)
    mug = product_by_sku(catalog, "MUG-1")
    assert catalog.scalar(select(ProductPrice.price).where(ProductPrice.product_id == mug.id)) == Decimal(
        "13.49"
    )
    # Columns the file leaves out keep their values.
    assert (mug.sales_nominal_code, mug.tax_class) == ("4000", "standard")
    assert product_by_sku(catalog, "SPOON-1").name == "Teaspoon"


def test_a_bad_product_file_imports_nothing_and_names_every_problem(catalog: Session) -> None:
    bad = """
        sku,name,stock_tracked,sales_nominal_code,price:RETAIL,price:TRADE
        MUG-1,Mug,yes,4000,12.99,
        ,Nameless,yes,,1,
        PLATE-1,Plate,perhaps,9999,-1,
        MUG-1,Mug again,yes,,,
    """
    with pytest.raises(ImportRejectedError) as rejected:
        import_products(catalog, table(bad))

    assert problems(rejected) == [
        "line 1, column price:TRADE: no price list has this code (TRADE)",
        "line 3, column sku: is required but empty",
        "line 4, column stock_tracked: must be yes or no (perhaps)",
        "line 4, column price:RETAIL: must be an amount of 0 or more (-1)",
        "line 4, column sales_nominal_code: no nominal code has this code (9999)",
        "line 5, column sku: is also on line 2 (MUG-1)",
    ]
    assert product_count(catalog) == 0


def test_unknown_nominal_code_is_a_row_problem(catalog: Session) -> None:
    with pytest.raises(ImportRejectedError) as rejected:
        import_products(catalog, table("sku,name,sales_nominal_code\nA,A,4000\nB,B,9999"))

    assert problems(rejected) == ["line 3, column sales_nominal_code: no nominal code has this code (9999)"]


def test_stock_tracking_cannot_stop_while_stock_is_on_hand(catalog: Session) -> None:
    import_products(catalog, table(PRODUCTS))
    warehouse = add_warehouse(catalog, "MAIN", "Main")
    move_stock(
        catalog,
        product_by_sku(catalog, "MUG-1"),
        warehouse,
        5,
        reason=MovementReason.RECEIPT,
        reference="r1",
        now=NOW,
    )

    with pytest.raises(ImportRejectedError) as rejected:
        import_products(catalog, table("sku,name,stock_tracked\nMUG-1,Mug,no"))

    assert problems(rejected) == ["line 2, column stock_tracked: 5 are on hand: count them to 0 first (no)"]


BUNDLES = """
    bundle_sku,component_sku,quantity,name
    SET-1,MUG-1,2,Mug and spoon set
    SET-1,SPOON-1,4,
    SET-2,MUG-1,6,
"""


def test_bundles_are_defined_and_a_second_import_changes_nothing(catalog: Session) -> None:
    import_products(catalog, table(PRODUCTS + "SET-2,Six mugs,no,,,"))

    first = import_bundles(catalog, table(BUNDLES))
    catalog.flush()
    second = import_bundles(catalog, table(BUNDLES))

    assert (first.created, first.changed, first.unchanged) == (1, 1, 0)
    assert (second.created, second.changed, second.unchanged) == (0, 0, 3)
    set1 = product_by_sku(catalog, "SET-1")
    assert (set1.name, set1.is_bundle, set1.stock_tracked) == ("Mug and spoon set", True, False)
    assert {part.component.sku: part.quantity for part in set1.components} == {"MUG-1": 2, "SPOON-1": 4}


def test_the_lines_of_a_bundle_replace_its_components(catalog: Session) -> None:
    import_products(catalog, table(PRODUCTS))
    import_bundles(catalog, table(BUNDLES.replace("SET-2,MUG-1,6,", "")))
    catalog.flush()

    report = import_bundles(catalog, table("bundle_sku,component_sku,quantity\nSET-1,SPOON-1,3"))
    catalog.flush()
    catalog.expire_all()

    assert report.changed == 1
    assert {p.component.sku: p.quantity for p in product_by_sku(catalog, "SET-1").components} == {
        "SPOON-1": 3
    }


def test_a_bad_bundle_file_imports_nothing_and_names_every_problem(catalog: Session) -> None:
    import_products(catalog, table(PRODUCTS))
    bad = """
        bundle_sku,component_sku,quantity,name
        SET-1,MUG-1,2,Set
        SET-1,MUG-1,1,
        SET-1,NOPE,1,
        SET-1,SPOON-1,0,
        SET-9,SET-9,1,Loop
        SET-3,SET-1,1,
    """
    with pytest.raises(ImportRejectedError) as rejected:
        import_bundles(catalog, table(bad))

    assert problems(rejected) == [
        "line 3, column component_sku: is already a component of this bundle on line 2 (MUG-1)",
        "line 4, column component_sku: no product has this SKU (NOPE)",
        "line 5, column quantity: must be greater than 0 (0)",
        "line 6, column component_sku: a bundle cannot contain itself (SET-9)",
        "line 7, column name: the bundle SKU is new: give its name to create it (SET-3)",
        "line 7, column component_sku: is a bundle; bundles cannot contain bundles (SET-1)",
    ]
    assert product_count(catalog) == 3


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_a_big_products_file_is_written_in_chunks_each_committed_and_a_rerun_finishes_it(
    fresh_store_url: str,
) -> None:
    """Chunks keep the store's write lock short (a 100,000-row file no longer blocks the web and the jobs
    for minutes); every row is still checked before anything is written, and a second run of the same
    file (after an interruption) finds the written rows unchanged."""
    engine = make_engine(fresh_store_url)
    sessions = session_factory(engine)
    try:
        with sessions.begin() as session:
            add_price_list(session, "RETAIL", "Retail", "GBP")
        lines = ["sku,name,price:RETAIL", *(f"SKU-{n},Item {n},{n}.50" for n in range(7))]
        commits: list[int] = []
        event.listen(engine, "commit", lambda _connection: commits.append(1))
        report = import_products_in_chunks(sessions, table("\n".join(lines)), rows_per_commit=3)
        assert (report.rows, report.created, report.unchanged) == (7, 7, 0)
        assert len(commits) >= 3  # 3 + 3 + 1 rows, each chunk its own transaction
        with sessions.begin() as session:
            assert product_count(session) == 7
        again = import_products_in_chunks(sessions, table("\n".join(lines)), rows_per_commit=3)
        assert (again.created, again.unchanged) == (0, 7)
        bad = [*lines[:4], "SKU-9,Other,", "SKU-1,Twice,1.00"]  # the last row repeats a SKU
        with pytest.raises(ImportRejectedError):
            import_products_in_chunks(sessions, table("\n".join(bad)), rows_per_commit=1)
        with sessions.begin() as session:
            assert product_count(session) == 7  # SKU-9 not written: every row was checked first
    finally:
        engine.dispose()
