"""The root command: `orderbridge run` prepares the store and shows the book; the sandbox is mounted."""

from __future__ import annotations

import json

import pytest

from orderbridge.cli import context
from tests.cli.conftest import Run
from tests.conftest import STORES


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_run_migrates_and_shows_what_the_book_holds(
    run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    keys = tmp_path_factory.mktemp("keys")  # run adds sandbox accounts: their secrets need the key store
    monkeypatch.setenv("ORDERBRIDGE_KEY_STORE_DIR", str(keys / "store"))
    monkeypatch.setenv("ORDERBRIDGE_KEK_FILE", str(keys / "kek"))
    context.settings.cache_clear()
    result = run("run", "--once", "--sandbox-port", "0")
    assert result.exit_code == 0, result.output
    assert "store is up to date" in result.output
    assert "sales orders" in result.output
    assert "privacy sweep" in result.output  # P4: the retention sweep runs inside `run`
    # O5: the sandbox's listings are connected to stocked products, so its orders allocate stock
    from sqlalchemy import func, select

    from orderbridge.amazon.listings import Listing
    from orderbridge.book.orders.model import OrderRow

    with context.unit_of_work() as session:
        connected = session.scalar(select(func.count()).where(Listing.product_id.is_not(None)))
        allocated = session.scalar(select(func.coalesce(func.sum(OrderRow.allocated), 0)))
    assert connected and connected > 0
    assert allocated and allocated > 0


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_the_sandbox_commands_are_mounted(run: Run) -> None:
    result = run("sandbox", "--help")
    assert result.exit_code == 0, result.output
    assert "serve" in result.output and "generate" in result.output


def test_a_wrong_setting_stops_the_command_and_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from orderbridge.cli import context
    from orderbridge.cli.app import app

    monkeypatch.setenv("ORDERBRIDGE_DATABASE_URL", "mysql://nope")
    context.settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "summary"])
    finally:
        context.settings.cache_clear()
    assert result.exit_code == 2
    assert "ORDERBRIDGE_DATABASE_URL" in result.output


@pytest.mark.parametrize("fresh_store_url", STORES, indirect=True)
def test_p2_buyer_data_written_through_the_cli_is_sealed_and_not_shown(run: Run, store_url: str) -> None:
    from sqlalchemy import create_engine, text

    from orderbridge.book.orders.model import OrderNote
    from tests.book.builders import NOW, make_book

    # given an order with a delivery name and a buyer's note, written through the CLI's sessions
    with context.unit_of_work() as session:
        book = make_book(session)
        order = book.order("o-note", [("A", 1)])
        order.notes.append(OrderNote(body="Leave it with Zebedee Quux", source="channel", added_at=NOW))
    # when the order is shown
    result = run("orders", "show", "o-note", "--json")
    # then neither the screen nor the store holds the plaintext
    assert result.exit_code == 0, result.output
    assert "Zebedee" not in result.output
    assert [note["body"] for note in json.loads(result.output)["notes"]] == ["[protected]"]
    raw = create_engine(store_url)
    with raw.connect() as connection:
        bodies = connection.execute(text("SELECT body FROM order_notes")).scalars().all()
        names = connection.execute(text("SELECT delivery_name FROM sales_orders")).scalars().all()
    raw.dispose()
    assert bodies and all(body.startswith("ob1:") for body in bodies)
    assert names and all(name.startswith("ob1:") for name in names)
