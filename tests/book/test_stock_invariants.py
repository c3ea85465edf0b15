"""Stock invariants under any sequence of book operations, on both stores (hypothesis).

allocated never exceeds on hand; on hand equals the sum of movements; a reference applies once.
"""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from orderbridge.book.errors import InvalidValueError
from orderbridge.book.inventory import MovementReason, StockLevel, move_stock, movements_total
from orderbridge.book.orders.cancel import cancel_order
from orderbridge.book.orders.model import OrderRow, SalesOrder
from orderbridge.book.orders.shipping import ship_order
from tests.book.builders import NOW, make_book

SKUS = ("A", "B")
operation = st.one_of(
    st.tuples(st.just("receive"), st.sampled_from(SKUS), st.integers(1, 6)),
    st.tuples(st.just("lose"), st.sampled_from(SKUS), st.integers(1, 4)),
    st.tuples(st.just("order"), st.sampled_from(SKUS), st.integers(1, 5)),
    st.tuples(st.just("ship"), st.sampled_from(SKUS), st.integers(0, 9)),
    st.tuples(st.just("cancel"), st.sampled_from(SKUS), st.integers(0, 9)),
    st.tuples(st.just("repeat"), st.sampled_from(SKUS), st.integers(0, 9)),
)


def check_invariants(session: Session) -> None:
    session.flush()
    for level in session.scalars(select(StockLevel)):
        assert 0 <= level.allocated <= max(level.on_hand, 0)
        assert level.on_hand == movements_total(session, level.product_id, level.warehouse_id)
        allocated_rows = session.scalars(
            select(OrderRow.allocated).where(
                OrderRow.product_id == level.product_id, OrderRow.warehouse_id == level.warehouse_id
            )
        )
        assert sum(allocated_rows) == level.allocated
    for row in session.scalars(select(OrderRow)):
        assert row.allocated + row.shipped <= row.quantity


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(operation, min_size=1, max_size=25))
def test_stock_invariants_hold_after_any_operations(
    store: str, engines: dict[str, Engine], steps: list[tuple[str, str, int]]
) -> None:
    if store not in engines:
        pytest.skip("PostgreSQL is not reachable")
    with engines[store].connect() as connection:
        transaction = connection.begin()
        with Session(bind=connection, join_transaction_mode="create_savepoint") as session:
            apply_steps(session, steps)
        transaction.rollback()


def apply_steps(session: Session, steps: list[tuple[str, str, int]]) -> None:
    book = make_book(session, SKUS)
    orders: list[SalesOrder] = []
    references: list[str] = []
    for number, (action, sku, amount) in enumerate(steps):
        product = book.product(sku)
        if action in ("receive", "lose"):
            reference = f"ref-{number}"
            references.append(reference)
            quantity = amount if action == "receive" else -amount
            if book.session.get(StockLevel, (product.id, book.warehouse.id)) is None and quantity < 0:
                continue
            level = book.session.get(StockLevel, (product.id, book.warehouse.id))
            if level is not None and level.on_hand + quantity < 0:
                continue
            move_stock(
                session,
                product,
                book.warehouse,
                quantity,
                reason=MovementReason.RECEIPT,
                reference=reference,
                now=NOW,
            )
        elif action == "order":
            orders.append(book.order(f"o-{number}", [(sku, amount)]))
        elif action == "repeat" and references:
            move_stock(
                session,
                product,
                book.warehouse,
                1,
                reason=MovementReason.FOUND,
                reference=references[amount % len(references)],
                now=NOW,
            )
        elif orders:
            order = orders[amount % len(orders)]
            if action == "cancel" and not order.is_cancelled:
                cancel_order(session, order, now=NOW)
            elif action == "ship":
                row = order.rows[0]
                if row.allocated:
                    ship_order(
                        session,
                        order,
                        reference=f"s-{number}",
                        now=NOW,
                        quantities={row.id: row.allocated},
                        carrier="UPS",
                        tracking_number="T1",
                    )
                else:
                    with contextlib.suppress(InvalidValueError):  # refused: nothing allocated to ship
                        ship_order(
                            session,
                            order,
                            reference=f"s-{number}",
                            now=NOW,
                            quantities={row.id: 1},
                            carrier="UPS",
                            tracking_number="T1",
                        )
        check_invariants(session)
