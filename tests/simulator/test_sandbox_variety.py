"""Amazon's whole variety in generated worlds: every program, breakdown type and subtype, facilitator tax
with its EU schemes, multi-channel and unfulfillable orders, item flags and ledger twin rows, each in
the default mix, every order strict-valid and its totals adding up (issue 17)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from decimal import Decimal
from functools import cache
from typing import Any

from orderbridge.simulator import report_formats
from orderbridge.simulator.generator import DEFAULT_MIX, Settings, generate
from orderbridge.simulator.marketplaces import BY_ID
from orderbridge.simulator.report_formats import Scope
from orderbridge.simulator.world import World
from tests.simulator.sandbox_helpers import NOW, TOOLS, assert_valid

MODEL = json.loads((TOOLS.parent / "spapi-models" / "orders_2026-01-01.json").read_text())
NEW_KEYS = list(DEFAULT_MIX)[list(DEFAULT_MIX).index("fba_prime") :]


def possible_values(definition: str, field: str) -> set[str]:
    """The `**Possible values**` the model lists for a field."""
    text = MODEL["definitions"][definition]["properties"][field]["description"]
    return set(re.findall(r"`([A-Z_]+)`", text.split("Possible values")[1]))


def variety_world(**mix: float) -> World:
    settings = Settings(seed=7, orders_per_day=150, days=10, marketplaces=["US", "UK", "DE", "IT"], now=NOW)
    settings.mix.update(mix)
    return generate(settings)


@cache
def default_world() -> World:
    return variety_world()


def seen(world: World) -> Counter[str]:
    """What the world's orders carry, as `kind:value` counts."""
    found: Counter[str] = Counter()
    for order in world.orders.values():
        doc = order.doc
        region = BY_ID[order.marketplace_id].region
        found.update(f"program:{p}" for p in doc.get("programs", []))
        found[f"status:{order.status}"] += 1
        found[f"channel:{doc['salesChannel']['channelName']}"] += 1
        for row in doc.get("proceeds", {}).get("breakdowns", []):
            found[f"order:{row['type']}"] += 1
            if "status" in row:
                found[f"tip:{row['status']}"] += 1
        for entity in doc.get("tax", {}).get("taxRegistrations", []):
            found[f"registration:{entity['entityType']}"] += 1
        for item in doc["orderItems"]:
            found.update(f"item_program:{p}" for p in item.get("programs", []))
            for row in item.get("proceeds", {}).get("breakdowns", []):
                found[f"item:{row['type']}"] += 1
                found.update(f"{row['type']}:{d['subtype']}" for d in row.get("detailedBreakdowns", []))
            tax = item.get("tax", {})
            found.update(f"facilitator:{c['model']}:{region}" for c in tax.get("taxCollections", []))
            found.update(f"scheme:{b['reportingScheme']}" for b in tax.get("taxCalculationBreakdowns", []))
            found["serial_numbers"] += bool(item["product"].get("serialNumbers"))
            found["serial_required"] += "serialNumberRequirement" in item["fulfillment"].get("packing", {})
            found["cash_on_delivery"] += "shippingConstraints" in item["fulfillment"].get("shipping", {})
    return found


def test_O24_O16_O19_the_default_mix_sends_every_value_of_the_model() -> None:
    found = seen(default_world())
    missing = [
        *(f"program:{p}" for p in possible_values("Order", "programs")),
        *(f"item_program:{p}" for p in possible_values("OrderItem", "programs")),
        *(f"order:{t}" for t in possible_values("OrderProceedsBreakdown", "type")),
        *(f"item:{t}" for t in possible_values("ItemProceedsBreakdown", "type")),
        "tip:PENDING",
        "tip:FINALIZED",
        *(f"TAX:{s}" for s in ("ITEM", "SHIPPING", "GIFT_WRAP", "COD_FEE", "OTHER", "DISCOUNT")),
        "DISCOUNT:ITEM",
        "DISCOUNT:SHIPPING",
        *(f"facilitator:MARKETPLACE_FACILITATOR:{region}" for region in ("NA", "EU")),
        *(f"scheme:{s}" for s in ("IOSS", "UOSS")),
        "channel:NON_AMAZON",
        "status:UNFULFILLABLE",
        "registration:BUYER",
        "registration:MARKETPLACE",
        "serial_numbers",
        "serial_required",
        "cash_on_delivery",
    ]
    assert [key for key in missing if not found[key]] == []
    uk = [o for o in default_world().orders.values() if BY_ID[o.marketplace_id].code == "UK"]
    assert any(item.get("tax") for o in uk for item in o.doc["orderItems"])  # UK facilitator VAT


def test_every_generated_order_is_strict_valid_against_the_official_model() -> None:
    orders = default_world().orders.values()
    assert len(orders) > 1000
    for order in orders:
        assert_valid("orders_2026-01-01.json", "Order", order.doc)


def _amount(value: dict[str, Any]) -> Decimal:
    return Decimal(value["amount"])


def assert_totals_add_up(world: World) -> set[str]:
    """Each row is the sum of its details, each item total the sum of its rows (TAX inside them in the
    European shape), grandTotal the sum of the item totals and the counted tips. Returns the shapes seen."""
    shapes = set()
    for order in world.orders.values():
        doc = order.doc
        if "proceeds" not in doc:
            assert doc["salesChannel"]["channelName"] == "NON_AMAZON"
            continue
        total = Decimal(0)
        for item in doc["orderItems"]:
            proceeds = item["proceeds"]
            rows = proceeds["breakdowns"]
            for row in rows:
                if row.get("detailedBreakdowns"):
                    assert sum(_amount(d["value"]) for d in row["detailedBreakdowns"]) == _amount(
                        row["subtotal"]
                    )
            everything = sum(_amount(r["subtotal"]) for r in rows)
            without_tax = sum(_amount(r["subtotal"]) for r in rows if r["type"] != "TAX")
            item_total = _amount(proceeds["proceedsTotal"])
            on_top = item_total == everything
            tax = everything - without_tax
            if tax:
                shapes.add("on_top" if on_top else "inside")
            assert item_total == (everything if on_top else without_tax), doc["orderId"]
            if not BY_ID[order.marketplace_id].tax_inclusive:
                assert on_top, doc["orderId"]
            total += item_total
        tips = [r for r in doc["proceeds"]["breakdowns"] if r["type"] == "DELIVERY_TIP"]
        tip = sum((_amount(r["subtotal"]) for r in tips), Decimal(0))
        grand = _amount(doc["proceeds"]["grandTotal"])
        assert grand in (total, total + tip), doc["orderId"]
        if grand == total and tip:
            assert all(r["status"] == "PENDING" for r in tips), doc["orderId"]
            shapes.add("pending_tip_left_out")
        assert _amount(doc["payment"]["paymentExecutions"][0]["paymentAmount"]) == grand
    return shapes


def test_O9_O15_every_total_is_the_sum_of_its_breakdowns_in_the_default_shapes() -> None:
    assert assert_totals_add_up(default_world()) == {"on_top", "inside"}


def test_O9_O15_the_other_shapes_are_strict_valid_and_add_up_too() -> None:
    world = variety_world(eu_tax_on_top=1.0, tip_in_pending_total=0.0, discount_tax_separate=1.0)
    assert assert_totals_add_up(world) == {"on_top", "pending_tip_left_out"}
    for order in world.orders.values():
        assert_valid("orders_2026-01-01.json", "Order", order.doc)


def test_F10_the_ledger_report_has_identical_twin_rows_that_are_two_events() -> None:
    world = default_world()
    twins = 0
    for account in world.accounts.values():
        markets = frozenset(account.marketplace_ids)
        scope = Scope(
            account.seller_id, markets, NOW - 30 * 86400, NOW, marketplace_id=account.marketplace_ids[0]
        )
        rows = Counter(tuple(row) for row in report_formats.ledger(world, scope))
        twins += sum(1 for row, n in rows.items() if n > 1 and row[5] == "Shipments")
    assert twins > 10
    stock: Counter[tuple[str, str, str]] = Counter()
    for event in world.ledger:
        if event.disposition == "SELLABLE":
            stock[(event.seller_id, event.sku, event.fulfillment_center)] += event.quantity
    assert {key: n for key, n in stock.items() if n} == {key: n for key, n in world.stock.items() if n}


def test_the_variety_leaves_a_seeds_order_stream_where_it_was() -> None:
    def stream(world: World) -> list[tuple[Any, ...]]:
        return [
            (
                o.doc["createdTime"],
                o.marketplace_id,
                o.fulfilled_by,
                [i["product"]["sellerSku"] for i in o.doc["orderItems"]],  # quantities change on cancelling
            )
            for o in sorted(world.orders.values(), key=lambda o: (o.created_ts, o.order_id))
            if not o.doc.get("associatedOrders")
        ]

    plain = variety_world(**{key: 0.0 for key in NEW_KEYS if key != "tip_in_pending_total"})
    assert stream(plain) == stream(default_world())
    # The same times, marketplaces, fulfilment and SKUs as this seed gave before the variety existed.
    digest = hashlib.sha256(json.dumps(stream(default_world())).encode()).hexdigest()
    assert digest == "3375c3b029e9213eaf566f78525e3219b691adbe7efb9b2a8fdf1ba6c5018017"
