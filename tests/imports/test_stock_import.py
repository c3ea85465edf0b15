"""Importing warehouses and stock counts on both stores: idempotent by reference, all or nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderbridge.book.catalog import product_by_sku, save_product
from orderbridge.book.inventory import (
    MovementReason,
    StockMovement,
    Warehouse,
    WarehouseKind,
    add_warehouse,
    move_stock,
    movements_total,
    stock_level,
    warehouse_by_code,
)
from orderbridge.db import make_engine, session_factory, transaction
from orderbridge.imports.errors import ImportRejectedError
from orderbridge.imports.stock import import_stock, import_warehouses, stock_reference
from tests.conftest import NOW, STORES
from tests.imports.csv_text import table

WAREHOUSES = """
    code,name,kind,region
    MAIN,Main warehouse,own,
    FBA-UK,Amazon FBA UK,fba,UK
"""
STOCK = """
    sku,warehouse,quantity
    MUG-1,MAIN,10
    MUG-1,FBA-UK,4
    SPOON-1,MAIN,0
"""


def problems(error: pytest.ExceptionInfo[ImportRejectedError]) -> list[str]:
    return [str(problem) for problem in error.value.problems]


def on_hand(session: Session, sku: str, warehouse: str) -> int:
    return stock_level(
        session, product_by_sku(session, sku).id, warehouse_by_code(session, warehouse).id
    ).on_hand


def movement_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(StockMovement)) or 0


@pytest.fixture
def stocked(session: Session) -> Session:
    import_warehouses(session, table(WAREHOUSES))
    save_product(session, "MUG-1", "Mug")
    save_product(session, "SPOON-1", "Spoon")
    save_product(session, "GIFT-CARD", "Gift card", stock_tracked=False)
    session.flush()
    return session


def test_warehouses_are_added_once_and_renamed_in_place(session: Session) -> None:
    first = import_warehouses(session, table(WAREHOUSES))
    session.flush()
    second = import_warehouses(session, table(WAREHOUSES))
    renamed = import_warehouses(session, table("code,name\nMAIN,Unit 4"))

    assert (first.created, second.unchanged, renamed.changed) == (2, 2, 1)
    fba = warehouse_by_code(session, "FBA-UK")
    assert (fba.kind, fba.region) == (WarehouseKind.FBA, "UK")
    assert warehouse_by_code(session, "MAIN").name == "Unit 4"


def test_a_bad_warehouse_file_imports_nothing(session: Session) -> None:
    add_warehouse(session, "MAIN", "Main")
    bad = """
        code,name,kind,region
        FBA-EU,FBA Europe,fba,
        MAIN,Main,fba,EU
        NEW,New,own,
        NEW,New again,own,
    """
    with pytest.raises(ImportRejectedError) as rejected:
        import_warehouses(session, table(bad))

    assert problems(rejected) == [
        "line 2, column region: is required for an fba warehouse (e.g. UK, EU, US)",
        "line 3, column kind: warehouse 'MAIN' is own; its kind cannot change (fba)",
        "line 5, column code: is also on line 4 (NEW)",
    ]
    assert session.scalar(select(func.count()).select_from(Warehouse)) == 1


def test_stock_counts_set_on_hand_by_count_movements(stocked: Session) -> None:
    move_stock(
        stocked,
        product_by_sku(stocked, "SPOON-1"),
        warehouse_by_code(stocked, "MAIN"),
        7,
        reason=MovementReason.RECEIPT,
        reference="po-1",
        now=NOW,
    )

    report = import_stock(stocked, table(STOCK), now=NOW)
    stocked.flush()

    assert (report.changed, report.unchanged) == (3, 0)
    assert [
        on_hand(stocked, *key) for key in (("MUG-1", "MAIN"), ("MUG-1", "FBA-UK"), ("SPOON-1", "MAIN"))
    ] == [
        10,
        4,
        0,
    ]
    counts = stocked.scalars(select(StockMovement).where(StockMovement.reason == MovementReason.COUNT))
    assert sorted((m.quantity, m.reference) for m in counts) == sorted(
        (quantity, stock_reference(table(STOCK).digest, line))
        for quantity, line in ((10, 2), (4, 3), (-7, 4))
    )
    spoon, main = product_by_sku(stocked, "SPOON-1"), warehouse_by_code(stocked, "MAIN")
    assert movements_total(stocked, spoon.id, main.id) == 0


def test_importing_the_same_stock_file_again_moves_nothing(stocked: Session) -> None:
    import_stock(stocked, table(STOCK), now=NOW)
    stocked.flush()
    before = movement_count(stocked)
    # Stock ships after the count; the old file imported again must not put it back.
    move_stock(
        stocked,
        product_by_sku(stocked, "MUG-1"),
        warehouse_by_code(stocked, "MAIN"),
        -3,
        reason=MovementReason.SHIPMENT,
        reference="ship-1",
        now=NOW,
    )

    again = import_stock(stocked, table(STOCK), now=NOW)
    stocked.flush()

    assert (again.changed, again.unchanged) == (0, 3)
    assert movement_count(stocked) == before + 1
    assert on_hand(stocked, "MUG-1", "MAIN") == 7


def test_a_given_reference_makes_the_row_idempotent_across_files(stocked: Session) -> None:
    import_stock(stocked, table("sku,warehouse,quantity,reference\nMUG-1,MAIN,10,count-2026-11"), now=NOW)
    stocked.flush()

    edited = import_stock(
        stocked, table("sku,warehouse,quantity,reference\nMUG-1,MAIN,12,count-2026-11"), now=NOW
    )

    assert edited.unchanged == 1
    assert on_hand(stocked, "MUG-1", "MAIN") == 10


def test_a_bad_stock_file_imports_nothing_and_names_every_problem(stocked: Session) -> None:
    bad = """
        sku,warehouse,quantity
        MUG-1,MAIN,10
        NOPE,MAIN,1
        GIFT-CARD,MAIN,3
        SPOON-1,ATTIC,2
        SPOON-1,MAIN,-2
        MUG-1,MAIN,11
    """
    with pytest.raises(ImportRejectedError) as rejected:
        import_stock(stocked, table(bad), now=NOW)

    assert problems(rejected) == [
        "line 3, column sku: no product has this SKU (NOPE)",
        "line 4, column sku: is not stock-tracked (GIFT-CARD)",
        "line 5, column warehouse: no warehouse has this code (ATTIC)",
        "line 6, column quantity: must be greater than or equal to 0 (-2)",
        "line 7, column sku: is counted in this warehouse on line 2 too (MUG-1)",
    ]
    assert movement_count(stocked) == 0


class Killed(Exception):
    """Stands for a crash part-way through an import."""


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_an_import_killed_part_way_leaves_nothing(fresh_store_url: str) -> None:
    engine = make_engine(fresh_store_url)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        import_warehouses(session, table(WAREHOUSES))
        save_product(session, "MUG-1", "Mug")
        save_product(session, "SPOON-1", "Spoon")
    ticks: list[int] = []

    def crash_on_the_second_row() -> None:
        ticks.append(1)
        if len(ticks) == 2:
            raise Killed

    # when
    with pytest.raises(Killed), transaction(sessions) as session:
        import_stock(session, table(STOCK), now=NOW, tick=crash_on_the_second_row)

    # then
    with transaction(sessions) as session:
        assert movement_count(session) == 0
        assert on_hand(session, "MUG-1", "MAIN") == 0
    engine.dispose()


def test_a_count_that_matched_on_hand_is_not_applied_again_later(stocked: Session) -> None:
    matched = import_stock(stocked, table("sku,warehouse,quantity\nSPOON-1,MAIN,0"), now=NOW)
    assert (matched.changed, matched.unchanged) == (0, 1)
    move_stock(
        stocked,
        product_by_sku(stocked, "SPOON-1"),
        warehouse_by_code(stocked, "MAIN"),
        5,
        reason=MovementReason.RECEIPT,
        reference="po-2",
        now=NOW,
    )

    import_stock(stocked, table("sku,warehouse,quantity\nSPOON-1,MAIN,0"), now=NOW)

    assert on_hand(stocked, "SPOON-1", "MAIN") == 5
