"""`orderbridge orders list|show` of a booked, partly allocated and partly shipped order."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from orderbridge.book.orders.model import OrderNote
from orderbridge.book.orders.shipping import ship_order
from orderbridge.db import make_engine, session_factory, transaction
from tests.book.builders import NOW, make_book
from tests.cli.conftest import Run, json_of
from tests.conftest import STORES

pytestmark = pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)

REF = "202-1234567-1234567"


@dataclass(frozen=True)
class Booked:
    run: Run
    order_id: int
    mug_row_id: int


@pytest.fixture
def booked(run: Run, store_url: str) -> Booked:
    """2 mugs (5 in stock), 3 spoons (none in stock), a free-text row and shipping; 1 mug shipped."""
    engine = make_engine(store_url)
    with transaction(session_factory(engine)) as session:
        book = make_book(session, skus=("MUG-1", "SPOON-1"))
        book.receive("MUG-1", 5)
        order = book.order(REF, [("MUG-1", 2), ("SPOON-1", 3), ("ENGRAVING", 1)], shipping=Decimal("3.99"))
        order.notes.append(OrderNote(body="Leave with neighbour", source="channel", added_at=NOW))
        mug_row = next(row for row in order.rows if row.sku == "MUG-1")
        session.flush()
        ship_order(
            session,
            order,
            reference="ship-1",
            now=NOW,
            quantities={mug_row.id: 1},
            tracking_number="TRK1",
            carrier="UPS",
        )
        ids = Booked(run, order.id, mug_row.id)
    engine.dispose()
    return ids


def test_orders_list_as_json(booked: Booked) -> None:
    orders = json_of(booked.run("orders", "list", "--json"))

    assert orders == [
        {
            "id": booked.order_id,
            "channel": "amazon-uk",
            "reference": REF,
            "placed_at": "2026-11-02T09:30:00+00:00",
            "status": "New order",
            "payment_status": "unpaid",
            "fulfilment": "seller",
            "currency": "GBP",
            "rows": 4,
            "total_gross": "75.99",
        }
    ]
    assert json_of(booked.run("orders", "list", "--status", "new order", "--channel", "amazon-uk", "--json"))
    assert json_of(booked.run("orders", "list", "--status", "Shipped", "--json")) == []


def test_orders_show_has_rows_allocation_shipments_notes_and_totals(booked: Booked) -> None:
    by_ref = json_of(booked.run("orders", "show", REF, "--json"))
    by_id = json_of(booked.run("orders", "show", str(booked.order_id), "--json"))

    assert by_ref == by_id
    rows = {row["sku"] or row["name"]: row for row in by_ref["rows"]}
    assert {k: (r["kind"], r["quantity"], r["allocated"], r["shipped"]) for k, r in rows.items()} == {
        "MUG-1": ("product", 2, 1, 1),
        "SPOON-1": ("product", 3, 0, 0),
        "ENGRAVING": ("free_text", 1, 0, 0),
        "Standard": ("shipping", 1, 0, 0),
    }
    assert (rows["MUG-1"]["net"], rows["MUG-1"]["tax"], rows["MUG-1"]["gross"]) == ("20.00", "4.00", "24.00")
    assert rows["MUG-1"]["warehouse"] == "MAIN"
    assert by_ref["shipments"] == [
        {
            "reference": "ship-1",
            "shipped_at": "2026-11-02T09:30:00+00:00",
            "carrier": "UPS",
            "tracking_number": "TRK1",
            "rows": [{"row_id": booked.mug_row_id, "quantity": 1}],
        }
    ]
    assert [note["body"] for note in by_ref["notes"]] == ["Leave with neighbour"]
    assert by_ref["totals"] == {
        "net": "63.99",
        "tax": "12.00",
        "gross": "75.99",
        "withheld_tax": "0.00",
        "paid": "0.00",
        "owed": "75.99",
    }


def test_orders_show_as_tables(booked: Booked) -> None:
    result = booked.run("orders", "show", REF)

    assert result.exit_code == 0, result.output
    for text in (
        f"Sales order {booked.order_id}",
        "MUG-1",
        "ENGRAVING",
        "ship-1",
        "TRK1",
        "Leave with neighbour",
    ):
        assert text in result.stdout
    assert "gross 75.99 GBP" in result.stdout
    listing = booked.run("orders", "list")
    assert REF in listing.stdout and "75.99 GBP" in listing.stdout
