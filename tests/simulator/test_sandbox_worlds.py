"""Scenarios: the seeded generator is deterministic; world files hold official v2026 Order objects."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orderbridge.simulator import worldfile
from orderbridge.simulator.app import Sandbox, create_app
from orderbridge.simulator.cli import app as cli
from orderbridge.simulator.clock import VirtualClock
from orderbridge.simulator.generator import DEFAULT_MIX
from tests.simulator.sandbox_helpers import Api, assert_valid, in_process_client, small_world


def test_same_seed_same_world_and_another_seed_another() -> None:
    first = json.dumps(worldfile.dump(small_world(seed=11)), sort_keys=True)
    again = json.dumps(worldfile.dump(small_world(seed=11)), sort_keys=True)
    other = json.dumps(worldfile.dump(small_world(seed=12)), sort_keys=True)
    assert first == again
    assert first != other


def test_world_file_orders_are_official_v2026_orders(base_world_data: dict) -> None:
    orders = [o for account in base_world_data["accounts"] for o in account["orders"]]
    assert len(orders) >= 60
    for order in orders:
        assert_valid("orders_2026-01-01.json", "Order", order)


def test_generated_mix_has_the_cases_the_book_needs(base_world_data: dict) -> None:
    orders = [o for account in base_world_data["accounts"] for o in account["orders"]]
    statuses = {o["fulfillment"]["fulfillmentStatus"] for o in orders}
    assert {"SHIPPED", "CANCELLED", "UNSHIPPED"} <= statuses
    assert {o["fulfillment"]["fulfilledBy"] for o in orders} == {"AMAZON", "MERCHANT"}
    assert any("PRIME" in o["programs"] for o in orders)
    assert {o["salesChannel"]["marketplaceId"] for o in orders} >= {"ATVPDKIKX0DER", "A1PA6795UKMFR9"}


def test_json_and_yaml_world_files_round_trip(tmp_path: Path, base_world_data: dict) -> None:
    world = worldfile.load(json.loads(json.dumps(base_world_data)))
    for name in ("world.json", "world.yaml"):
        worldfile.write(world, tmp_path / name)
        again = worldfile.read(tmp_path / name)
        assert worldfile.dump(again)["accounts"] == base_world_data["accounts"]


def test_hand_written_yaml_world_is_served_strictly_and_lives() -> None:
    world = worldfile.read(Path(__file__).parent / "worlds" / "hand_written.yaml")
    sandbox = Sandbox(world, clock=VirtualClock(world.now))

    with in_process_client(create_app(sandbox)) as client:
        api = Api(client, sandbox, world.accounts["A1HANDWRITTEN"])
        everything = {"includedData": "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,TAX,CANCELLATION"}
        for order_id in ("302-1234567-7654321", "302-7654321-1234567", "302-5555555-5555555"):
            body = api.get(f"/orders/2026-01-01/orders/{order_id}", everything).json()
            assert_valid("orders_2026-01-01.json", "GetOrderResponse", body)
        pending = api.get("/orders/2026-01-01/orders/302-1234567-7654321", everything).json()["order"]
        assert pending["fulfillment"]["fulfillmentStatus"] == "PENDING" and "proceeds" not in pending
        sandbox.advance(15 * 60)
        ready = api.get("/orders/2026-01-01/orders/302-1234567-7654321", everything).json()["order"]
        assert ready["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
        assert ready["proceeds"]["grandTotal"] == {"amount": "23.80", "currencyCode": "EUR"}
        assert ready["orderItems"][0]["fulfillment"]["packing"]["giftOption"]["giftMessage"] == "Alles Gute!"


def test_cli_generate_writes_a_loadable_world(tmp_path: Path) -> None:
    out = tmp_path / "w.json"
    result = CliRunner().invoke(
        cli,
        [
            "generate",
            "--seed",
            "3",
            "--orders-per-day",
            "10",
            "--days",
            "2",
            "--marketplaces",
            "US,FR",
            "--mix",
            "fba=0.7",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    world = worldfile.read(out)
    assert len(world.orders) >= 20
    assert {a.region for a in world.accounts.values()} == {"NA", "EU"}


def test_admin_loads_a_generated_world(na: Api) -> None:
    state = na.admin(
        "POST",
        "/world",
        {
            "generate": {
                "seed": 5,
                "ordersPerDay": 5,
                "days": 1,
                "marketplaces": ["CA"],
                "now": "2026-06-01T00:00:00Z",
            }
        },
    ).json()
    assert state["now"] == "2026-06-01T00:00:00Z"
    assert [s["marketplaceIds"] for s in state["sellers"]] == [["A2EUQ1WTGCTBG2"]]
    dumped = na.admin("GET", "/world").json()
    assert dumped["format"] == "orderbridge-sandbox-world"


def test_generated_late_orders_surface_after_their_last_update() -> None:
    world = small_world(seed=4, mix={**DEFAULT_MIX, "late": 1.0})
    late = [o for o in world.orders.values() if o.visible_ts > o.created_ts]
    assert late and all(o.visible_ts - o.created_ts >= 300 for o in late)


def test_cli_serve_wires_uvicorn_with_https_speed_and_world(tmp_path: Path, monkeypatch) -> None:
    import uvicorn

    calls: list[tuple[object, dict]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    world_file = tmp_path / "w.json"
    worldfile.write(small_world(), world_file)
    result = CliRunner().invoke(
        cli, ["serve", "--port", "8765", "--speed", "600", "--world", str(world_file), "--https"]
    )
    assert result.exit_code == 0, result.output
    ((app, options),) = calls
    assert options["host"] == "127.0.0.1" and options["port"] == 8765
    assert Path(options["ssl_certfile"]).read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    sandbox = app.sandbox  # type: ignore[attr-defined]
    assert sandbox.clock.speed == 600
    assert len(sandbox.world.orders) == len(small_world().orders)


def test_generated_world_has_every_ledger_event_kind() -> None:
    world = small_world(days=12, orders_per_day=30)
    kinds = {(e.event_type, e.reason) for e in world.ledger}
    assert {("Receipts", ""), ("Shipments", ""), ("CustomerReturns", "")} <= kinds
    assert {"D", "F", "E", "P"} <= {reason for _, reason in kinds}
    assert {"REIMBURSEMENT", "REPLACEMENT"} <= {e.kind for e in world.fba_events}


def test_admin_reports_fba_stock_per_fulfilment_center(na: Api) -> None:
    rows = na.admin("GET", f"/stock?sellerId={na.account.seller_id}").json()["stock"]
    assert rows and all(r["sellerId"] == na.account.seller_id for r in rows)
    assert sum(r["sellable"] for r in rows) > 0


def test_marketplaces_have_amazons_ids_and_currencies() -> None:
    from orderbridge.simulator.marketplaces import MARKETPLACES, marketplace

    table = {code: (m.marketplace_id, m.currency, m.region) for code, m in MARKETPLACES.items()}
    assert table == {
        "US": ("ATVPDKIKX0DER", "USD", "NA"),
        "CA": ("A2EUQ1WTGCTBG2", "CAD", "NA"),
        "UK": ("A1F83G8C2ARO7P", "GBP", "EU"),
        "DE": ("A1PA6795UKMFR9", "EUR", "EU"),
        "FR": ("A13V1IB3VIYZZH", "EUR", "EU"),
        "IT": ("APJ6JRA9NG5V4", "EUR", "EU"),
        "ES": ("A1RKKUPIHCS9HS", "EUR", "EU"),
    }
    assert marketplace("GB").country_code == "GB" and marketplace("A1PA6795UKMFR9").code == "DE"


def test_world_file_rejects_a_field_amazon_does_not_have(base_world_data: dict) -> None:
    from orderbridge.simulator.worldfile import WorldFileError

    base_world_data["accounts"][0]["orders"][0]["orderStatus"] = "Shipped"  # a v0 habit, not a v2026 field
    with pytest.raises(WorldFileError, match="orderStatus"):
        worldfile.load(base_world_data)


def test_world_file_keys_are_the_models_order_properties() -> None:
    import json as _json

    from orderbridge.simulator.worldfile import ITEM_KEYS, ORDER_KEYS
    from tests.simulator.sandbox_helpers import TOOLS

    model = _json.loads((TOOLS.parent / "spapi-models" / "orders_2026-01-01.json").read_text())
    assert set(model["definitions"]["Order"]["properties"]) == ORDER_KEYS
    assert set(model["definitions"]["OrderItem"]["properties"]) == ITEM_KEYS


def test_F4_F6_F8_generated_fba_stock_never_goes_negative() -> None:
    world = small_world(days=10, orders_per_day=60)
    assert min(world.stock.values()) >= 0
    assert len(world.inbound) >= 3  # opening stock, replenishments and the over/short/unexpected restock
