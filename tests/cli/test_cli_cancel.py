"""`orderbridge orders cancel AMAZON-ORDER-ID [--sku SKU --quantity N ...]` on both stores, privacy on."""

from __future__ import annotations

import pytest

from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.orders.shipping import ship_order
from orderbridge.cli.context import unit_of_work
from orderbridge.privacy.sealing import is_sealed
from tests.book.builders import NOW, make_book
from tests.cli.conftest import Run, json_of
from tests.conftest import STORES

pytestmark = pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)

REF = "202-7654321-7654321"


@pytest.fixture
def booked(run: Run) -> Run:
    """2 mugs and 1 spoon, allocated, booked through the CLI's sealing unit of work; the spoon shipped."""
    with unit_of_work() as session:
        book = make_book(session, skus=("MUG-1", "SPOON-1"))
        book.receive("MUG-1", 5)
        book.receive("SPOON-1", 5)
        order = book.order(REF, [("MUG-1", 2), ("SPOON-1", 1)])
        spoon = next(row for row in order.rows if row.sku == "SPOON-1")
        ship_order(
            session,
            order,
            reference="S1",
            now=NOW,
            quantities={spoon.id: 1},
            carrier="DHL",
            tracking_number="TRK1",
        )
    return run


def _rows(run: Run) -> list[tuple[str, int, int, int]]:
    shown = json_of(run("orders", "show", REF, "--json"))
    return [(r["sku"], r["quantity"], r["cancelled"], r["allocated"]) for r in shown["rows"]]


def test_o21_cancel_some_units_by_sku_then_the_rest_by_amazon_order_id(booked: Run) -> None:
    one = booked("orders", "cancel", REF, "--sku", "MUG-1", "--quantity", "1")
    assert one.exit_code == 0, one.output
    assert f"order {REF}: cancelled SKU MUG-1 x 1; status New order" in one.output
    assert "cancel it in Seller Central too" in one.output
    assert _rows(booked) == [("MUG-1", 1, 1, 1), ("SPOON-1", 1, 0, 0)]

    rest = booked("orders", "cancel", REF)
    assert rest.exit_code == 0, rest.output
    assert "cancelled SKU MUG-1 x 1; status Shipped" in rest.output  # only shipped units remain
    assert _rows(booked) == [("MUG-1", 0, 2, 0), ("SPOON-1", 1, 0, 0)]
    with unit_of_work() as session:
        order = session.query(SalesOrder).one()
        assert is_sealed(order.delivery_name)  # the buyer's data stayed sealed throughout


def test_cancel_refusals_exit_1_with_a_plain_message(booked: Run) -> None:
    shipped = booked("orders", "cancel", REF, "--sku", "SPOON-1")
    assert shipped.exit_code == 1
    assert "SKU SPOON-1 is shipped: a shipped item cannot be cancelled" in shipped.output
    too_many = booked("orders", "cancel", REF, "--sku", "MUG-1", "--quantity", "3")
    assert too_many.exit_code == 1 and "cannot cancel 3; 2 of 2 are not shipped" in too_many.output
    unknown = booked("orders", "cancel", REF, "--sku", "NOPE", "--quantity", "1")
    assert unknown.exit_code == 1 and "no item has the SKU 'NOPE'" in unknown.output
    assert "Traceback" not in shipped.output + too_many.output + unknown.output
    assert _rows(booked) == [("MUG-1", 2, 0, 2), ("SPOON-1", 1, 0, 0)]  # nothing changed
    unpaired = booked("orders", "cancel", REF, "--sku", "MUG-1", "--sku", "SPOON-1", "--quantity", "1")
    assert unpaired.exit_code != 0 and "give one --quantity after each --sku" in unpaired.output
