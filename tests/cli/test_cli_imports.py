"""`orderbridge products|bundles|warehouses|stock import`: good files, files run twice, and bad files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from orderbridge.cli.output import BIG_FILE_ROWS
from tests.cli.conftest import Run, json_of
from tests.conftest import STORES

pytestmark = pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)

CsvFile = Callable[[str, str], Path]

WAREHOUSES = """
    code,name,kind,region
    MAIN,Main warehouse,own,
    FBA-UK,Amazon FBA UK,fba,UK
"""
PRODUCTS = """
    sku;name;stock_tracked;tax_class
    MUG-1;Mug;yes;standard
    SPOON-1;Spoon;yes;
    GIFT-CARD;Gift card;no;zero
"""
BUNDLES = """
    bundle_sku,component_sku,quantity,name
    SET-1,MUG-1,2,Mug and spoon set
    SET-1,SPOON-1,4,
"""
STOCK = """
    sku,warehouse,quantity
    MUG-1,MAIN,10
    SPOON-1,MAIN,9
    MUG-1,FBA-UK,3
"""


def import_all(run: Run, csv_file: CsvFile) -> list[str]:
    outputs = []
    for kind, text in (
        ("warehouses", WAREHOUSES),
        ("products", PRODUCTS),
        ("bundles", BUNDLES),
        ("stock", STOCK),
    ):
        result = run(kind, "import", str(csv_file(f"{kind}.csv", text)))
        assert result.exit_code == 0, result.output
        outputs.append(result.stdout.strip())
    return outputs


def test_good_files_import_and_a_second_run_changes_nothing(run: Run, csv_file: CsvFile) -> None:
    first = import_all(run, csv_file)
    levels = json_of(run("stock", "list", "--json"))

    second = import_all(run, csv_file)

    assert [line.split(": ", 1)[1] for line in first] == [
        "2 row(s) read, 2 created, 0 changed, 0 unchanged",
        "3 row(s) read, 3 created, 0 changed, 0 unchanged",
        "2 row(s) read, 1 created, 0 changed, 0 unchanged",
        "3 row(s) read, 0 created, 3 changed, 0 unchanged",
    ]
    assert [line.split(": ", 1)[1] for line in second] == [
        "2 row(s) read, 0 created, 0 changed, 2 unchanged",
        "3 row(s) read, 0 created, 0 changed, 3 unchanged",
        "2 row(s) read, 0 created, 0 changed, 2 unchanged",
        "3 row(s) read, 0 created, 0 changed, 3 unchanged",
    ]
    assert json_of(run("stock", "list", "--json")) == levels
    assert len(json_of(run("stock", "movements", "--sku", "MUG-1", "--json"))) == 2


def test_a_bad_csv_imports_nothing_and_names_line_column_and_problem(run: Run, csv_file: CsvFile) -> None:
    import_all(run, csv_file)
    bad = csv_file(
        "bad.csv",
        """
        sku,warehouse,quantity
        SPOON-1,FBA-UK,5
        MUG-1,MAIN,ten
        NOPE,MAIN,1
        GIFT-CARD,ATTIC,-2
        """,
    )

    result = run("stock", "import", str(bad))

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"error: {bad}: 5 problem(s); nothing was imported",
        "  line 3, column quantity: must be a whole number (ten)",
        "  line 4, column sku: no product has this SKU (NOPE)",
        "  line 5, column quantity: must be greater than or equal to 0 (-2)",
        "  line 5, column sku: is not stock-tracked (GIFT-CARD)",
        "  line 5, column warehouse: no warehouse has this code (ATTIC)",
    ]
    assert json_of(run("stock", "list", "--warehouse", "FBA-UK", "--sku", "SPOON-1", "--json")) == []


def test_unknown_and_missing_columns_are_named(run: Run, csv_file: CsvFile) -> None:
    result = run("products", "import", str(csv_file("p.csv", "sku,title,colour\nMUG-1,Mug,red")))

    assert result.exit_code == 1
    assert result.stderr.splitlines()[1:] == [
        "  line 1, column title: unknown column; the columns are: sku, name, stock_tracked, "
        "sales_nominal_code, tax_class, price:<PRICE_LIST_CODE>",
        "  line 1, column colour: unknown column; the columns are: sku, name, stock_tracked, "
        "sales_nominal_code, tax_class, price:<PRICE_LIST_CODE>",
        "  line 1, column name: required column is missing",
    ]
    assert json_of(run("products", "list", "--json")) == []


def test_a_file_that_is_not_there_is_a_bad_argument(run: Run, tmp_path: Path) -> None:
    result = run("warehouses", "import", str(tmp_path / "missing.csv"))

    assert result.exit_code == 2
    assert "does not exist" in result.stderr


def test_import_help_documents_the_columns(run: Run) -> None:
    result = run("stock", "import", "--help")

    assert result.exit_code == 0
    for column in ("sku", "warehouse", "quantity", "reference"):
        assert column in result.stdout


def test_a_big_file_imports_with_its_progress_bar_off_stdout(run: Run, csv_file: CsvFile) -> None:
    skus = [f"SKU-{number:04d}" for number in range(BIG_FILE_ROWS)]
    products = csv_file("p.csv", "sku,name\n" + "\n".join(f"{sku},{sku}" for sku in skus))
    counts = csv_file("s.csv", "sku,warehouse,quantity\n" + "\n".join(f"{sku},MAIN,3" for sku in skus))
    run("warehouses", "add", "MAIN", "Main")

    imported = run("products", "import", str(products))
    stock = run("stock", "import", str(counts))

    assert imported.exit_code == 0 and stock.exit_code == 0, imported.output + stock.output
    assert stock.stdout.splitlines() == [
        f"stock from {counts}: {BIG_FILE_ROWS} row(s) read, 0 created, {BIG_FILE_ROWS} changed, 0 unchanged"
    ]
