"""`orderbridge reports sync|import|list`, `settlements list|show`, `orders trail` over a served sandbox."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from orderbridge.amazon.reports.settlements import SETTLEMENT_REPORT
from orderbridge.simulator import worldfile
from orderbridge.simulator.app import Sandbox
from orderbridge.simulator.clock import VirtualClock
from orderbridge.simulator.serving import ServedSandbox
from tests.cli.conftest import Run, json_of
from tests.conftest import STORES
from tests.simulator.sandbox_helpers import small_world

pytestmark = pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
_WORLD = worldfile.dump(small_world(seed=3, orders_per_day=3, days=20, marketplaces=["US"]))


@pytest.fixture
def sandbox_url() -> Iterator[str]:
    world = worldfile.load(copy.deepcopy(_WORLD))
    with ServedSandbox(Sandbox(world, clock=VirtualClock(world.now, speed=0.0))) as served:
        yield served.url


def ok(result: Any) -> str:
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_r1_reports_sync_books_settlements_that_show_reconciled_and_orders_show_their_trail(
    run: Run, sandbox_url: str
) -> None:
    # given a seller whose orders are in the book
    ok(run("accounts", "add-sandbox", "--url", sandbox_url))
    ok(run("sync", "orders"))
    # when the settlements are synced
    ok(run("reports", "sync", "--type", SETTLEMENT_REPORT))
    # then every settlement is listed, reconciled, and shows its totals by kind
    listed = json_of(run("settlements", "list", "--json"))
    assert listed and all(s["status"] == "reconciled" for s in listed)
    busiest = max(listed, key=lambda s: abs(float(s["deposit"])))
    shown = json_of(run("settlements", "show", busiest["settlement"], "--json"))
    assert shown["difference"] == "0.00"
    assert {t["kind"] for t in shown["totals"]} >= {"sale", "fee"}
    # and a paid order's trail goes from its shipment to the settlement lines that paid it
    orders = json_of(run("orders", "list", "--json", "--limit", "200"))
    paid = next(o for o in orders if o["payment_status"] == "paid")
    trail = json_of(run("orders", "trail", paid["reference"], "--json"))
    assert trail["settlements"] and trail["released"] == trail["amount_paid"]
    assert any(line["kind"] == "fee" for s in trail["settlements"] for line in s["lines"])
    text = ok(run("orders", "trail", paid["reference"]))
    assert "channel fees" in text and "Settlement" in text
    # a second sync books nothing again
    again = ok(run("reports", "sync", "--type", SETTLEMENT_REPORT))
    assert "nothing new" in again
    reports = json_of(run("reports", "list", "--json"))
    assert all(r["state"] == "booked" for r in reports)


def test_reports_import_books_a_seller_central_file_once_and_names_bad_input(
    run: Run, sandbox_url: str, tmp_path: Path
) -> None:
    ok(run("accounts", "add-sandbox", "--url", sandbox_url))
    file = tmp_path / "settlement.txt"
    header = (
        "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\t"
        "transaction-type\torder-id\tamount-type\tamount-description\tamount"
    )
    file.write_text(
        header
        + "\n77\t2026-02-01T00:00:00+00:00\t2026-02-15T00:00:00+00:00\t2026-02-17T00:00:00+00:00\t-39.99\tUSD"
        + "\n77\t\t\t\t\t\tother-transaction\t\tother-transaction\tSubscription Fee\t-39.99\n",
        encoding="utf-8",
    )
    account = json_of(run("accounts", "list", "--json"))[0]["id"]
    first = ok(run("reports", "import", str(file), "--type", SETTLEMENT_REPORT, "--account", str(account)))
    assert "2 rows read, 2 booked" in first
    second = ok(run("reports", "import", str(file), "--type", SETTLEMENT_REPORT, "--account", str(account)))
    assert "booked before" in second
    shown = ok(run("settlements", "show", "77"))
    assert "reconciled" in shown and "Subscription Fee" in shown
    bad_type = run("reports", "import", str(file), "--type", "GET_NOTHING", "--account", str(account))
    assert bad_type.exit_code == 2 and "GET_NOTHING" in bad_type.output
    missing = tmp_path / "missing.txt"
    missing.write_text("settlement-id\tcurrency\n1\tUSD\n", encoding="utf-8")
    refused = run("reports", "import", str(missing), "--type", SETTLEMENT_REPORT, "--account", str(account))
    assert refused.exit_code == 1 and "'total-amount'" in refused.output
