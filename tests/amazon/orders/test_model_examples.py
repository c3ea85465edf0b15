"""Every example order of Amazon's own model (orders_2026-01-01.json: the responses' `examples` and
`x-amzn-api-sandbox` sections) books to Amazon's proceeds total, or is skipped with its reason. The
examples are read from the model file itself, so a newer model brings its new cases by itself."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from orderbridge.amazon.channel import ChannelBook, ChannelSettings
from orderbridge.amazon.marketplaces import by_id
from orderbridge.amazon.orders.mapping import MappingError, OrderFacts, Outcome, TaxChoice, map_order
from orderbridge.book.tax import add_tax_code, add_tax_rule
from orderbridge.cli import context
from orderbridge.cli.app import app
from orderbridge.db import make_engine, session_factory
from tests.amazon.orders.test_mapping_orders import STATUSES

MODEL = Path(__file__).resolve().parents[3].parent / "shared" / "spapi-models" / "orders_2026-01-01.json"
STANDARD = TaxChoice("STD", Decimal("0.20"))
# Examples the book knowingly refuses, with the reason it gives: none today. A newer model whose new
# example the book cannot book fails here until someone decides.
EXPECTED_QUARANTINE: dict[str, str] = {}


def _orders_in(node: object) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if {"orderId", "orderItems", "salesChannel"} <= node.keys():
            yield node
            return
        for value in node.values():
            yield from _orders_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from _orders_in(value)


def model_examples() -> list[dict[str, Any]]:
    """Every Order object in the model's operations (examples and sandbox responses), once each."""
    found: dict[str, dict[str, Any]] = {}
    for order in _orders_in(json.loads(MODEL.read_text(encoding="utf-8"))["paths"]):
        found.setdefault(json.dumps(order, sort_keys=True), order)
    return list(found.values())


EXAMPLES = model_examples()


def example_id(order: dict[str, Any]) -> str:
    return str(order["orderId"])


def grand_total(order: dict[str, Any]) -> Decimal:
    return Decimal(order["proceeds"]["grandTotal"]["amount"])


def book_for(marketplace_id: str) -> ChannelBook:
    settings = ChannelSettings(status_new_fba="New FBA order", status_new_prime="New Prime order")
    return ChannelBook(
        channel_id=1,
        marketplace_id=marketplace_id,
        settings=settings,
        tax_behaviour=settings.tax_behaviour_for(marketplace_id),
        status_ids=STATUSES,
        price_list_id=None,
        fbm_warehouse_id=10,
        fba_warehouse_id=11,
        sales_nominal_code="4000",
        shipping_nominal_code="4040",
        cod_fee_nominal_code="4050",
        delivery_tip_nominal_code="4060",
        no_email_contact_id=99,
    )


def booked_total(order: dict[str, Any]) -> tuple[Outcome, str | None, Decimal | None]:
    marketplace = order["salesChannel"]["marketplaceId"]
    assert by_id(marketplace) is not None, f"the book does not know marketplace {marketplace}"
    mapped = map_order(order, book_for(marketplace), OrderFacts(tax={None: STANDARD}))
    if mapped.order is None:
        return mapped.outcome, mapped.reason, None
    return mapped.outcome, mapped.reason, sum((r.net + r.tax for r in mapped.order.rows), Decimal(0))


def test_the_model_holds_the_examples_this_file_is_about() -> None:
    ids = {example_id(order) for order in EXAMPLES}
    # Amazon's UK example with a TAX breakdown added on top (103.97), and its delivery tip example
    assert {"202-1234567-8901234", "123-4567890-1234567"} <= ids
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize("order", EXAMPLES, ids=example_id)
def test_every_model_example_books_to_amazons_proceeds_total_or_is_skipped_with_a_reason(
    order: dict[str, Any],
) -> None:
    try:
        outcome, reason, total = booked_total(order)
    except MappingError as error:  # quarantined: only where this file says why
        assert EXPECTED_QUARANTINE.get(example_id(order)) == error.problem, str(error)
        return
    if outcome == Outcome.SKIP:
        assert reason, "skipped without a reason"
        return
    assert outcome == Outcome.BOOK, reason
    assert total == grand_total(order)


def _unskipped(order: dict[str, Any]) -> dict[str, Any]:
    """The same order as a sale the book takes: a replacement's link and a multi-channel mark dropped."""
    doc = copy.deepcopy(order)
    doc.pop("associatedOrders", None)
    doc["salesChannel"]["channelName"] = "AMAZON"
    if doc["fulfillment"]["fulfillmentStatus"] == "UNFULFILLABLE":
        doc["fulfillment"]["fulfillmentStatus"] = "UNSHIPPED"
    return doc


@pytest.mark.parametrize("order", EXAMPLES, ids=example_id)
def test_the_money_of_every_model_example_books_to_its_total_even_where_the_order_is_skipped(
    order: dict[str, Any],
) -> None:
    # a skipped example (a replacement order, say) still carries Amazon's money shapes: the delivery tip
    outcome, reason, total = booked_total(_unskipped(order))

    assert outcome == Outcome.BOOK, reason
    assert total == grand_total(order)


@pytest.fixture
def cli(
    fresh_store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[..., Result]]:
    tmp_path = tmp_path_factory.mktemp("cli")
    for name, value in {
        "ORDERBRIDGE_DATABASE_URL": fresh_store_url,
        "ORDERBRIDGE_DATA_DIR": str(tmp_path / "data"),
        "ORDERBRIDGE_CONFIG": str(tmp_path / "none.toml"),
        "ORDERBRIDGE_KEY_STORE_DIR": str(tmp_path / "keystore"),
        "ORDERBRIDGE_KEK_FILE": str(tmp_path / "kek"),
        "COLUMNS": "200",
    }.items():
        monkeypatch.setenv(name, value)
    for cached in (context.settings, context.engine, context.sessions):
        cached.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    if context.engine.cache_info().currsize:
        context.engine().dispose()
    for cached in (context.settings, context.engine, context.sessions):
        cached.cache_clear()


@pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
def test_orders_preview_of_every_model_example_prints_its_rows_and_amazons_total(
    cli: Callable[..., Result], fresh_store_url: str, tmp_path: Path
) -> None:
    # given a book with one tax rule for everything (European prices need a rate to split)
    assert cli("db", "upgrade").exit_code == 0
    engine = make_engine(fresh_store_url)
    with session_factory(engine).begin() as session:
        add_tax_code(session, "STD", "Standard", Decimal("0.20"))
        session.flush()
        add_tax_rule(session, "STD")
    engine.dispose()
    for order in EXAMPLES:
        path = tmp_path / f"{example_id(order)}.json"
        path.write_text(json.dumps({"order": order}), encoding="utf-8")

        # when each is previewed
        shown = cli("orders", "preview", str(path))

        # then the booked rows and a total equal to Amazon's, or the reason it is skipped
        assert shown.exit_code == 0, shown.output
        outcome, reason, total = booked_total(order)
        assert f"order {example_id(order)}: {outcome}" in shown.output
        if outcome == Outcome.SKIP:
            assert f"reason: {reason}" in shown.output
            continue
        currency = order["proceeds"]["grandTotal"]["currencyCode"]
        amount = order["proceeds"]["grandTotal"]["amount"]
        assert "Rows" in shown.output
        assert f"total {total} {currency} (Amazon's proceeds total {amount} {currency})" in shown.output
        assert total == Decimal(amount)
