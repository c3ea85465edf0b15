"""The FBA commands: inbound list/show, fba claims/stock, notices list/send, on a synced store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orderbridge.cli import context
from orderbridge.cli.app import app
from orderbridge.notify.mail import MailSettings
from tests.amazon.fba.fba_world import admin, fba_skus, first_fba_sync, poll_inbound, stock_catalog
from tests.amazon.fba.ledger_files import LEDGER, ledger_row, write_report
from tests.amazon.fba.test_ledger import _import
from tests.e2e.sync_world import SyncWorld
from tests.notify.smtp_server import Inbox


@pytest.fixture
def cli(
    fresh_store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CliRunner]:
    keys = tmp_path_factory.mktemp("cli-keys")  # outside the store's directory, as the key store demands
    monkeypatch.setenv("ORDERBRIDGE_DATABASE_URL", fresh_store_url)
    monkeypatch.setenv("ORDERBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ORDERBRIDGE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("ORDERBRIDGE_KEY_STORE_DIR", str(keys / "store"))
    monkeypatch.setenv("ORDERBRIDGE_KEK_FILE", str(keys / "kek"))
    monkeypatch.setenv("COLUMNS", "200")
    context.forget()
    yield CliRunner()
    context.forget()


def test_inbound_claims_and_notices_commands(
    world: SyncWorld,
    cli: CliRunner,
    tmp_path: Path,
    smtp: tuple[Inbox, MailSettings],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seller = world.seller("NA")
    a, b = fba_skus(world, seller)[:2]
    stock_catalog(world)
    first_fba_sync(world, seller)
    body = {
        "sellerId": seller.seller_id,
        "shipmentId": "FBA1CLI00001",
        "items": [{"sku": a, "quantityShipped": 6, "receive": 4}, {"sku": b, "quantityShipped": 3}],
    }
    admin(world, "POST", "/inbound", body)
    for _ in range(6):
        admin(world, "POST", "/inbound/FBA1CLI00001/step")
    poll_inbound(world, seller)
    _import(
        world,
        write_report(
            tmp_path / "l.tsv",
            LEDGER,
            [ledger_row(a, "Adjustments", -2, reason="M", reference="LOSS-9", unreconciled=2)],
        ),
    )

    listed = cli.invoke(app, ["inbound", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    mine = [row for row in json.loads(listed.stdout) if row["shipment"] == "FBA1CLI00001"]
    assert mine == [
        {
            "shipment": "FBA1CLI00001",
            "name": "FBA1CLI00001",
            "centre": mine[0]["centre"],
            "status": "CLOSED",
            "transfer": "FBA1CLI00001",
            "waiting": "",
        }
    ]
    shown = cli.invoke(app, ["inbound", "show", "FBA1CLI00001", "--json"])
    lines = {line["sku"]: line for line in json.loads(shown.stdout)["lines"]}
    assert (lines[a]["sent"], lines[a]["received"], lines[a]["short"]) == (6, 4, 2)
    missing = cli.invoke(app, ["inbound", "show", "FBA0NOSUCH"])
    assert missing.exit_code == 1 and "FBA0NOSUCH" in missing.output

    claims = cli.invoke(app, ["fba", "claims", "--json"])
    assert [(c["sku"], c["open"], c["kind"]) for c in json.loads(claims.stdout)] == [(a, 2, "lost")]
    table = cli.invoke(app, ["fba", "claims"])
    assert "LOSS-9" in table.stdout and "claim_by" in table.stdout

    unsent = cli.invoke(app, ["notices", "send"])
    assert unsent.exit_code == 1 and "smtp_host" in unsent.output.lower()
    inbox, mail = smtp
    monkeypatch.setenv("ORDERBRIDGE_SMTP_HOST", mail.host)
    monkeypatch.setenv("ORDERBRIDGE_SMTP_PORT", str(mail.port))
    monkeypatch.setenv("ORDERBRIDGE_SMTP_TLS", "none")
    monkeypatch.setenv("ORDERBRIDGE_MAIL_FROM", "ob@shop.example")
    monkeypatch.setenv("ORDERBRIDGE_MAIL_TO", "seller@shop.example")
    context.forget()
    sent = cli.invoke(app, ["notices", "send"])
    assert sent.exit_code == 0, sent.output
    assert any("FBA1CLI00001" in subject for subject in inbox.subjects())
    pending = cli.invoke(app, ["notices", "list", "--pending", "--json"])
    assert json.loads(pending.stdout) == []
