"""Validating rows: every problem of every row is collected, each naming its line, column and value."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orderbridge.book.inventory import WarehouseKind
from orderbridge.imports.errors import ImportRejectedError
from orderbridge.imports.rows import ProductRow, StockRow, WarehouseRow, validate_rows
from tests.imports.csv_text import table


def test_good_rows_become_typed_values() -> None:
    valid = validate_rows(
        table("""
            sku,name,stock_tracked,Price:RETAIL,price:WHOLESALE
            A-1,Mug,no,12.99,
            A-2,Plate,,0.5,0.25
        """),
        ProductRow,
    )

    assert valid.problems == ()
    assert valid.columns == {"sku", "name", "stock_tracked", "price:RETAIL", "price:WHOLESALE"}
    (line1, mug), (line2, plate) = valid.rows
    assert (line1, mug.stock_tracked, mug.prices) == (2, False, {"RETAIL": Decimal("12.99")})
    assert (line2, plate.stock_tracked) == (3, None)
    assert plate.prices == {"RETAIL": Decimal("0.5"), "WHOLESALE": Decimal("0.25")}


def test_every_bad_cell_of_every_row_is_named() -> None:
    valid = validate_rows(
        table("""
            sku,warehouse,quantity,reference
            A-1,MAIN,ten,
            ,MAIN,-1,
            A-3,,1.5,
            A-4,MAIN,4,ok
        """),
        StockRow,
    )

    assert [str(problem) for problem in valid.problems] == [
        "line 2, column quantity: must be a whole number (ten)",
        "line 3, column sku: is required but empty",
        "line 3, column quantity: must be greater than or equal to 0 (-1)",
        "line 4, column warehouse: is required but empty",
        "line 4, column quantity: must be a whole number (1.5)",
    ]
    assert [line for line, _row in valid.rows] == [5]


def test_values_that_do_not_fit_their_column() -> None:
    long_sku = "S" * 101
    valid = validate_rows(
        table(f"""
            sku,name,stock_tracked,price:RETAIL
            {long_sku},Mug,maybe,1.23456
            B,Plate,yes,-2
            C,Cup,yes,abc
        """),
        ProductRow,
    )

    assert [str(problem) for problem in valid.problems] == [
        f"line 2, column sku: is longer than 100 characters ({long_sku})",
        "line 2, column stock_tracked: must be yes or no (maybe)",
        "line 2, column price:RETAIL: has more than 4 decimal places (1.23456)",
        "line 3, column price:RETAIL: must be an amount of 0 or more (-2)",
        "line 4, column price:RETAIL: must be an amount such as 12.99 (abc)",
    ]


def test_warehouse_kind_is_own_or_fba() -> None:
    valid = validate_rows(table("code,name,kind\nMAIN,Main,\nFBA-UK,FBA UK,FBA\nX,X,shop"), WarehouseRow)

    assert [row.kind for _line, row in valid.rows] == [None, WarehouseKind.FBA]
    assert [str(problem) for problem in valid.problems] == ["line 4, column kind: must be own or fba (shop)"]


def test_unknown_and_missing_columns_reject_the_file_at_once() -> None:
    with pytest.raises(ImportRejectedError) as rejected:
        validate_rows(table("sku,qty,colour\nA,1,red"), StockRow)

    assert [str(problem) for problem in rejected.value.problems] == [
        "line 1, column qty: unknown column; the columns are: sku, warehouse, quantity, reference",
        "line 1, column colour: unknown column; the columns are: sku, warehouse, quantity, reference",
        "line 1, column warehouse: required column is missing",
        "line 1, column quantity: required column is missing",
    ]


def test_price_columns_belong_to_products_only() -> None:
    with pytest.raises(ImportRejectedError) as rejected:
        validate_rows(table("sku,warehouse,quantity,price:RETAIL\nA,MAIN,1,2"), StockRow)

    assert [problem.column for problem in rejected.value.problems] == ["price:RETAIL"]
