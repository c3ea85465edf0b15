"""Listing commands: tables for people, JSON for scripts (Decimals as strings), bad arguments exit 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.cli.conftest import Run, json_of
from tests.conftest import STORES

pytestmark = pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)

CsvFile = Callable[[str, str], Path]


@pytest.fixture
def stocked(run: Run, csv_file: CsvFile) -> Run:
    for args in (
        ("price-lists", "add", "RETAIL", "Retail", "GBP"),
        ("warehouses", "add", "MAIN", "Main warehouse"),
        ("warehouses", "add", "FBA-UK", "Amazon FBA UK", "--kind", "fba", "--region", "UK"),
    ):
        assert run(*args).exit_code == 0
    files = {
        "products": "sku,name,stock_tracked,price:RETAIL\nMUG-1,Blue mug,yes,12.99\nSPOON-1,Spoon,,0.0125\n",
        "bundles": "bundle_sku,component_sku,quantity,name\nSET-1,MUG-1,2,Mug set\nSET-1,SPOON-1,4,\n",
        "stock": "sku,warehouse,quantity\nMUG-1,MAIN,10\nSPOON-1,MAIN,9\nMUG-1,FBA-UK,3\n",
    }
    for kind, text in files.items():
        result = run(kind, "import", str(csv_file(f"{kind}.csv", text)))
        assert result.exit_code == 0, result.output
    return run


def test_products_list_as_json_with_prices_as_strings(stocked: Run) -> None:
    products = json_of(stocked("products", "list", "--json"))

    assert [p["sku"] for p in products] == ["MUG-1", "SET-1", "SPOON-1"]
    assert products[0] == {
        "sku": "MUG-1",
        "name": "Blue mug",
        "stock_tracked": True,
        "is_bundle": False,
        "sales_nominal_code": None,
        "tax_class": None,
        "prices": {"RETAIL": "12.99"},
    }
    assert products[2]["prices"] == {"RETAIL": "0.0125"}


def test_products_list_searches_sku_and_name_in_any_case(stocked: Run) -> None:
    assert [p["sku"] for p in json_of(stocked("products", "list", "--json", "--search", "MUG"))] == [
        "MUG-1",
        "SET-1",
    ]
    table = stocked("products", "list", "--search", "spoon")
    assert table.exit_code == 0
    assert "SPOON-1" in table.stdout and "MUG-1" not in table.stdout


def test_bundles_list_computes_availability_per_warehouse(stocked: Run) -> None:
    assert json_of(stocked("bundles", "list", "--json")) == [
        {
            "sku": "SET-1",
            "name": "Mug set",
            "components": {"MUG-1": 2, "SPOON-1": 4},
            "available": {"FBA-UK": 0, "MAIN": 2},
        }
    ]
    table = stocked("bundles", "list")
    assert "available MAIN" in table.stdout and "2 x MUG-1, 4 x SPOON-1" in table.stdout


def test_stock_list_filters_by_warehouse_and_sku(stocked: Run) -> None:
    everything = json_of(stocked("stock", "list", "--json"))
    main_mugs = json_of(stocked("stock", "list", "--warehouse", "MAIN", "--sku", "MUG-1", "--json"))

    assert [(level["sku"], level["warehouse"]) for level in everything] == [
        ("MUG-1", "FBA-UK"),
        ("MUG-1", "MAIN"),
        ("SPOON-1", "MAIN"),
    ]
    assert main_mugs == [
        {
            "sku": "MUG-1",
            "name": "Blue mug",
            "warehouse": "MAIN",
            "on_hand": 10,
            "allocated": 0,
            "available": 10,
            "in_transit": 0,
        }
    ]
    assert "in transit" in stocked("stock", "list").stdout


def test_stock_movements_show_each_count(stocked: Run) -> None:
    movements = json_of(stocked("stock", "movements", "--sku", "MUG-1", "--warehouse", "MAIN", "--json"))

    assert [(m["warehouse"], m["quantity"], m["reason"]) for m in movements] == [("MAIN", 10, "count")]
    assert movements[0]["reference"].startswith("csv:")
    assert "+10" in stocked("stock", "movements", "--sku", "MUG-1").stdout


def test_warehouses_list(stocked: Run) -> None:
    assert json_of(stocked("warehouses", "list", "--json")) == [
        {"code": "FBA-UK", "name": "Amazon FBA UK", "kind": "fba", "region": "UK"},
        {"code": "MAIN", "name": "Main warehouse", "kind": "own", "region": None},
    ]
    assert json_of(stocked("price-lists", "list", "--json")) == [
        {"code": "RETAIL", "name": "Retail", "currency": "GBP"}
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("stock", "list", "--warehouse", "ATTIC"), "no warehouse has the code 'ATTIC'"),
        (("stock", "movements", "--sku", "NOPE"), "no product has the SKU 'NOPE'"),
        (("stock", "movements"), "Missing option"),
        (("warehouses", "add", "FBA-EU", "FBA EU", "--kind", "fba"), "needs its --region"),
        (("warehouses", "add", "X", "X", "--kind", "shop"), "shop"),
        (("price-lists", "add", "EU", "Europe", "EUX"), "unknown ISO 4217 currency 'EUX'"),
        (("orders", "list", "--limit", "0"), "--limit"),
        (("orders", "list", "--status", "Lost"), "no status is named 'Lost'; the statuses are: Pending"),
        (("orders", "list", "--channel", "ebay"), "no channel has the code 'ebay'"),
        (("orders", "show", "999"), "no order has the id or reference '999'"),
    ],
)
def test_bad_arguments_exit_2_with_a_clear_message(stocked: Run, args: tuple[str, ...], message: str) -> None:
    result = stocked(*args)

    assert result.exit_code == 2
    assert message in " ".join(result.stderr.replace("│", " ").split())


def test_a_refused_book_command_exits_1(stocked: Run) -> None:
    result = stocked("warehouses", "add", "MAIN", "Another main")

    assert result.exit_code == 1
    assert result.stderr.strip() == "error: warehouse 'MAIN' already exists"
