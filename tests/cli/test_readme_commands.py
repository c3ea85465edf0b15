"""Every shell command README.md shows runs, as written, against a fresh demo book: the README cannot drift.

The book is what `orderbridge run` makes with no Amazon account (the sandbox's sellers as accounts, a
product per listing, the first order download), with the sandbox served on a local port for the
commands that call Amazon. Words that stand for the reader's own values (an order id, a file) are
replaced by real ones from PLACEHOLDERS; `[...]` optional parts are left out; `cmd > file` writes the
file. DOCUMENTATION_ONLY names the few commands that cannot run here, each with why.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from orderbridge.amazon.accounts import list_accounts
from orderbridge.amazon.fba_warehouses import fba_mappings
from orderbridge.amazon.orders.records import AmazonOrderRecord
from orderbridge.book.channels import Channel
from orderbridge.book.orders.model import SalesOrder
from orderbridge.book.settlements import Settlement
from orderbridge.cli import context
from orderbridge.cli.app import app
from orderbridge.jobs.runner import SANDBOX_WORLD, add_sandbox_accounts, start_sandbox

README = Path(__file__).resolve().parents[2] / "README.md"
SHELLS = {"sh", "bash", "console", "shell"}

# Commands the README shows that cannot run in this test, and why (keep this list short).
DOCUMENTATION_ONLY = {
    "make run": "serves until Ctrl-C; `orderbridge run --once` below builds the same demo book",
    "make test": "runs this very test",
    "orderbridge sandbox serve": "serves until Ctrl-C; the fixture serves the demo's sandbox the same way",
    "orderbridge accounts add": "connects a real Amazon account: every sync after it would call Amazon",
    "orderbridge archive restore": "needs an order the sweep archived 30 days after shipping "
    "(tests/privacy/test_cli_privacy.py restores one)",
    "orderbridge notices send": "needs a mail server (ORDERBRIDGE_SMTP_HOST); see tests/notify/test_mail.py",
    "orderbridge outbox retry": "needs a message Amazon refused (tests/cli/test_cli_outbox.py retries one)",
}

# What the README's sample files hold (written in the working directory under the README's names).
FILES = {
    "warehouses.csv": "code,name,kind,region\nSHOP,Shop floor,own,\n",
    "products.csv": "sku,name,price:RETAIL\nMUG-1,Mug,9.99\nMUG-2,Mug (blue),9.99\n",
    "bundles.csv": "bundle_sku,component_sku,quantity,name\nMUG-SET,MUG-1,1,Mug set\nMUG-SET,MUG-2,1,\n",
    "stock-count.csv": "sku,warehouse,quantity\nMUG-1,MAIN,12\nMUG-2,MAIN,8\n",
    "tax-codes.csv": "code,name,rate\nVAT-GB-Z,UK zero rate,0%\n",
    "tax-rules.csv": "tax_code,marketplace,ship_to_country,tax_class,priority\nVAT-GB-Z,UK,GB,zero,\n",
}


@dataclass
class Demo:
    """The demo book's values that stand in for the README's examples."""

    uk_order: str  # an FBM order on amazon-uk, allocated and not shipped yet
    any_order: str
    uk_seller_sku: str
    us_fbm_sku: str
    seller_id: str
    order_json: Path
    settlement_file: Path
    cancel_order: str = ""  # another unshipped FBM order, and the SKU of one of its rows
    cancel_sku: str = ""
    fba_region: str = ""  # the first account's FBA region and the warehouse that holds it
    fba_warehouse: str = ""


def placeholders(demo: Demo) -> dict[str, Callable[[], str]]:
    """README word -> the real value (read when the command runs: a settlement id exists after a sync)."""
    return {
        "202-1234567-1234567": lambda: demo.uk_order,
        "113-1234567-1234567": lambda: demo.any_order,
        "MUG-RED-UK": lambda: demo.uk_seller_sku,
        "A1...": lambda: demo.seller_id,
        "settlement.txt": lambda: str(demo.settlement_file),
        "order.json": lambda: str(demo.order_json),
        "shipments.csv": lambda: _a_shipments_file(demo),
        "12345678901": _a_settlement,
        "FBA15DF2763D": _an_inbound_shipment,
        "--type ...": lambda: "--type GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2",
        "fba_warehouse=FBA-EU": lambda: "fba_warehouse=FBA",  # the demo's FBA warehouse
    }


# Per command, a word that means something else there (the buffer is set on a listing's seller SKU).
IN_COMMAND = {
    "orderbridge listings buffer": {"MUG-1": "us_fbm_sku"},
    "orderbridge orders cancel": {"202-1234567-1234567": "cancel_order", "MUG-1": "cancel_sku"},
    # the demo's first account mapped (again) to the warehouse it holds its FBA stock in
    "orderbridge fba map-warehouse": {
        "A1SELLERID": "seller_id",
        "EU": "fba_region",
        "FBA-EU": "fba_warehouse",
    },
}


def readme_commands() -> list[str]:
    """The commands of README.md's shell blocks, continuation lines joined, comments dropped."""
    commands: list[str] = []
    for language, body in re.findall(r"```(\w*)\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        if language not in SHELLS:
            continue
        for line in body.replace("\\\n", " ").splitlines():
            words = shlex.split(re.sub(r"\s*\[[^\]]*\]", "", line), comments=True)  # optional parts out
            if words and (words[0] in ("make", "orderbridge") or words[0].endswith("/orderbridge")):
                commands.append(shlex.join(["orderbridge", *words[1:]] if words[0] != "make" else words))
    return commands


def _a_settlement() -> str:
    with context.sessions()() as session:
        reference = session.scalar(select(Settlement.reference).order_by(Settlement.id).limit(1))
    assert reference, "no settlement in the demo book"
    return str(reference)


def _a_shipments_file(demo: Demo) -> str:
    """A shipments file of one more unshipped FBM order (allocated, confirmed to Amazon) for `ship-csv`."""
    from orderbridge.book.orders.model import Fulfilment, RowKind

    with context.sessions()() as session:
        candidates = session.scalars(
            select(SalesOrder).where(
                SalesOrder.fulfilment == Fulfilment.SELLER,
                SalesOrder.shipped_at.is_(None),
                SalesOrder.confirm_shipments.is_(True),
                SalesOrder.external_ref.not_in([demo.uk_order, demo.cancel_order]),
            )
        )
        order = next(
            o
            for o in candidates
            if not o.is_cancelled
            and all(r.allocated == r.quantity for r in o.rows if r.kind == RowKind.PRODUCT)
            and any(r.kind == RowKind.PRODUCT for r in o.rows)
        )
        path = demo.order_json.parent / "shipments.csv"
        path.write_text(f"order_id,carrier,tracking\n{order.external_ref},UPS,1ZCSV0001\n", encoding="utf-8")
    return str(path)


def _an_inbound_shipment() -> str:
    from orderbridge.amazon.fba.records import InboundShipmentRecord

    with context.sessions()() as session:
        found = session.scalar(select(InboundShipmentRecord.shipment_id).limit(1))
    assert found, "no inbound shipment in the demo book"
    return str(found)


@pytest.fixture
def cli_env(
    fresh_store_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """The CLI's settings pointed at the fresh store and a folder of its own (away from the store's)."""
    folder = tmp_path_factory.mktemp("readme")
    monkeypatch.setenv("ORDERBRIDGE_DATABASE_URL", fresh_store_url)
    monkeypatch.setenv("ORDERBRIDGE_DATA_DIR", str(folder / "data"))
    monkeypatch.setenv("ORDERBRIDGE_CONFIG", str(folder / "none.toml"))
    monkeypatch.setenv("ORDERBRIDGE_KEY_STORE_DIR", str(folder / "keystore"))
    monkeypatch.setenv("ORDERBRIDGE_KEK_FILE", str(folder / "secrets" / "kek"))
    monkeypatch.setenv("ORDERBRIDGE_ARCHIVE_DIR", str(folder / "archive"))
    monkeypatch.setenv("ORDERBRIDGE_ARCHIVE_PUBLIC_KEY_FILE", str(folder / "archive.pub"))
    monkeypatch.setenv("COLUMNS", "200")
    context.forget()
    yield folder
    context.forget()


@pytest.fixture
def demo(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Demo]:
    """`orderbridge run --once` (the demo book), then its sandbox served again from the saved world."""
    runner = CliRunner()
    built = runner.invoke(app, ["run", "--once", "--sandbox-port", "0", "--sandbox-speed", "0"])
    assert built.exit_code == 0, built.output
    running = start_sandbox(speed=0, world_file=cli_env / "data" / SANDBOX_WORLD)
    try:
        sessions = context.sessions()
        add_sandbox_accounts(sessions, context.keystore(), running)
        for step in (["reports", "sync"], ["inbound", "sync"]):  # what run does in its first minutes
            done = runner.invoke(app, step)
            assert done.exit_code == 0, done.output
        world = running.sandbox.world
        with sessions() as session:
            uk = session.scalar(select(Channel).where(Channel.code == "amazon-uk"))
            assert uk is not None
            uk_order = _unshipped_fbm(session, uk.id)
            cancel_order, cancel_sku = _another_unshipped(session, uk.id, uk_order)
            any_order = session.scalar(select(AmazonOrderRecord.amazon_order_id).limit(1))
            first = list_accounts(session)[0]
            seller_id = first.selling_partner_id
            fba_region, fba_warehouse = next(
                (m.region, m.warehouse) for m in fba_mappings(session) if m.account == first.label
            )
        us_fbm = next(
            i.sku
            for i in world.listings.values()
            if i.sku.startswith("SKU-NA") and i.fulfilled_by == "MERCHANT"
        )
        uk_sku = next(i.sku for i in world.listings.values() if i.sku.startswith("SKU-EU"))
        order_json = cli_env / "order-sample.json"
        import json

        order_json.write_text(json.dumps(world.orders[uk_order].doc), encoding="utf-8")
        yield Demo(
            uk_order,
            str(any_order),
            uk_sku,
            us_fbm,
            seller_id,
            order_json,
            _settlement_file(cli_env, uk_order),
            cancel_order,
            cancel_sku,
            fba_region,
            fba_warehouse,
        )
    finally:
        running.stop()


def _unshipped_fbm(session: object, channel_id: int) -> str:
    from orderbridge.book.orders.model import Fulfilment

    assert hasattr(session, "scalar")
    found = session.scalar(
        select(SalesOrder.external_ref).where(
            SalesOrder.channel_id == channel_id,
            SalesOrder.fulfilment == Fulfilment.SELLER,
            SalesOrder.shipped_at.is_(None),
        )
    )
    assert found, "no unshipped FBM order on amazon-uk"
    return str(found)


def _another_unshipped(session: Any, channel_id: int, besides: str) -> tuple[str, str]:
    from orderbridge.book.orders.model import Fulfilment, RowKind

    for order in session.scalars(
        select(SalesOrder).where(
            SalesOrder.channel_id == channel_id,
            SalesOrder.fulfilment == Fulfilment.SELLER,
            SalesOrder.shipped_at.is_(None),
            SalesOrder.external_ref != besides,
        )
    ):
        rows = [r for r in order.rows if r.kind == RowKind.PRODUCT and r.quantity > 0 and r.sku]
        if rows and not order.is_cancelled:
            return order.external_ref, str(rows[0].sku)
    raise AssertionError("no second unshipped FBM order on amazon-uk")


def _settlement_file(folder: Path, order_id: str) -> Path:
    """A Seller Central settlement download for the UK marketplace, paying part of one order."""
    header = (
        "settlement-id\tsettlement-start-date\tsettlement-end-date\tdeposit-date\ttotal-amount\tcurrency\t"
        "transaction-type\torder-id\tmerchant-order-id\tadjustment-id\tshipment-id\tmarketplace-name\t"
        "amount-type\tamount-description\tamount\tfulfillment-id\tposted-date\tposted-date-time\t"
        "order-item-code\tmerchant-order-item-id\tmerchant-adjustment-item-id\tsku\tquantity-purchased"
    )
    summary = (
        "99999000001\t2026-01-01T00:00:00+00:00\t2026-01-15T00:00:00+00:00\t2026-01-17T00:00:00+00:00\t-1,50\tGBP"
        + "\t" * 17
    )
    fee = (
        f"99999000001\t\t\t\t\t\tServiceFee\t{order_id}\t\t\t\tAmazon.co.uk\tOther\tSubscription Fee\t-1,50\t"
        "\t10.01.2026\t2026-01-10T00:00:00+00:00\t\t\t\t\t"
    )
    path = folder / "settlement.txt"
    path.write_text("\n".join([header, summary, fee]) + "\n", encoding="utf-8")
    return path


def _resolved(command: str, demo: Demo) -> list[str]:
    text = command + " "
    for prefix, words in IN_COMMAND.items():
        if text.startswith(prefix):
            for word, attribute in words.items():
                text = text.replace(f" {word} ", f" {getattr(demo, attribute)} ")
    for word, value in placeholders(demo).items():
        if word in text:
            text = text.replace(word, value())
    return shlex.split(text)[1:]


@pytest.mark.parametrize("fresh_store_url", ["sqlite"], indirect=True)
def test_every_command_the_readme_shows_runs_against_a_fresh_demo_book(
    demo: Demo, cli_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, text in FILES.items():
        (cli_env / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(cli_env)
    monkeypatch.setenv("ORDERBRIDGE_LWA_CLIENT_SECRET", "unused")
    runner = CliRunner()
    commands = readme_commands()
    assert len(commands) > 40, commands
    ran = []
    for command in commands:
        if any(command.startswith(prefix) for prefix in DOCUMENTATION_ONLY):
            continue
        args = _resolved(command, demo)
        target = None
        if ">" in args:
            args, target = args[: args.index(">")], args[args.index(">") + 1]
        result = runner.invoke(app, args)
        assert result.exit_code == 0, f"{command}\n  ran as: {shlex.join(args)}\n{result.output}"
        if target is not None:
            Path(target).write_text(result.stdout, encoding="utf-8")
        ran.append(command)
    assert set(DOCUMENTATION_ONLY) <= {
        c for c in DOCUMENTATION_ONLY if any(x.startswith(c) for x in commands)
    }
