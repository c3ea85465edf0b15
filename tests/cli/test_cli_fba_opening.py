"""`orderbridge fba opening-balance [--dry-run]` over a served sandbox whose seller already has FBA stock."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orderbridge.simulator import worldfile
from orderbridge.simulator.app import Sandbox
from orderbridge.simulator.clock import VirtualClock
from orderbridge.simulator.serving import ServedSandbox
from tests.cli.conftest import Run, json_of
from tests.simulator.sandbox_helpers import small_world

_WORLD = worldfile.dump(small_world(seed=4, orders_per_day=2, days=10, marketplaces=["US"]))


@pytest.fixture
def served() -> Iterator[tuple[str, Sandbox]]:
    world = worldfile.load(copy.deepcopy(_WORLD))
    sandbox = Sandbox(world, clock=VirtualClock(world.now, speed=0.0))
    with ServedSandbox(sandbox) as running:
        yield running.url, sandbox


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_f10_opening_balance_command_previews_then_sets_amazons_count_once(
    run: Run, served: tuple[str, Sandbox], tmp_path: Path
) -> None:
    url, sandbox = served
    amazon: dict[str, int] = {}
    for (_, sku, _fc), units in sandbox.world.stock.items():
        amazon[sku] = amazon.get(sku, 0) + units
    amazon = {sku: units for sku, units in amazon.items() if units}
    assert amazon  # given: a seller with stock at Amazon
    ok(run("accounts", "add-sandbox", "--url", url))
    ok(run("warehouses", "add", "FBA-US", "Amazon US", "--kind", "fba", "--region", "US"))
    products = tmp_path / "products.csv"
    products.write_text("sku,name\n" + "".join(f"{sku},{sku}\n" for sku in sorted(amazon)), encoding="utf-8")
    ok(run("products", "import", str(products)))
    ok(run("channels", "add", "amazon-us", "ATVPDKIKX0DER"))
    ok(run("channels", "set", "amazon-us", "fba_warehouse=FBA-US"))
    # when: a dry run first
    preview = json_of(run("fba", "opening-balance", "--dry-run", "--json"))
    (result,) = preview
    assert "would set" in result["opening"] and not result["refused"]
    assert sum(line["amazon"] for line in result["lines"]) == sum(amazon.values())
    assert json_of(run("fba", "stock", "--json")) == []  # nothing booked by the dry run
    # when: taken for real, the book's FBA stock per SKU and centre is Amazon's
    text = ok(run("fba", "opening-balance"))
    assert "FBA opening balance set" in text
    stock = json_of(run("fba", "stock", "--json"))
    by_centre = {(row["sku"], row["centre"]): row["units"] for row in stock}
    truth = {(sku, fc): units for (_, sku, fc), units in sandbox.world.stock.items() if units}
    assert by_centre == truth
    # and a new count of the same stock changes nothing
    again = json_of(run("fba", "opening-balance", "--json"))
    assert all(line["change"] == 0 for line in again[0]["lines"])
