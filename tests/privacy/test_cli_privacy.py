"""The privacy commands in-process on a fresh store of each kind: sweep, report, archive, incidents, keys.

The installation is the one `tests.privacy.world` builds (key store, KEK file, archive public key),
configured for the CLI through ORDERBRIDGE_* variables; the private archive key sits outside it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from orderbridge.cli import context
from orderbridge.cli.app import app
from orderbridge.clock import utc_now
from orderbridge.privacy.canary import make_canary_buyer
from orderbridge.privacy.keystore import open_keystore
from tests.privacy.world import World, make_world

STORES = pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
Run = Callable[..., Result]


def _forget_store() -> None:
    context.forget()  # each test has its own store and key store


@pytest.fixture
def world(fresh_store_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # Outside the SQLite file's directory: the CLI refuses a key store that database backups would copy.
    built = make_world(fresh_store_url, tmp_path_factory.mktemp("install") / "install", now=utc_now())
    yield built
    built.engine.dispose()


@pytest.fixture
def run(world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Run]:
    settings = {
        "DATABASE_URL": world.url,
        "DATA_DIR": str(tmp_path / "data"),
        "CONFIG": str(tmp_path / "none.toml"),
        "KEY_STORE_DIR": str(world.root / "keys"),
        "KEK_FILE": str(world.root / "secrets" / "kek"),
        "ARCHIVE_DIR": str(world.archive_dir),
        "ARCHIVE_PUBLIC_KEY_FILE": str(world.public_key),
    }
    for name, value in settings.items():
        monkeypatch.setenv(f"ORDERBRIDGE_{name}", value)
    monkeypatch.setenv("COLUMNS", "250")
    monkeypatch.delenv("ORDERBRIDGE_KEK", raising=False)
    _forget_store()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, list(args))
    _forget_store()


def _json(result: Result) -> dict[str, object]:
    found: dict[str, object] = json.loads(result.stdout)
    return found


@STORES
def test_ac1_ac13_ac14_sweep_report_verify_and_restore_from_the_command_line(world: World, run: Run) -> None:
    # given an order due (shipped 31 days ago) and one still open
    buyer = make_canary_buyer()
    due = world.book("202-0000020-0000020", buyer)
    world.book("202-0000021-0000020", make_canary_buyer())
    world.ship(due, days_ago=31)

    # then the report shows it overdue (and fails, so a scheduler alerts)
    before = run("privacy", "report", "--json")
    assert before.exit_code == 1, before.output
    assert (_json(before)["overdue_orders"], _json(before)["overdue_contacts"]) == (1, 1)
    dry = run("privacy", "sweep", "--dry-run")
    assert dry.exit_code == 0 and "orders due (dry run): 1" in dry.stdout

    # when the sweep runs, then nothing is overdue and the sweep and archive are in the report (AC-1)
    swept = run("privacy", "sweep")
    assert swept.exit_code == 0, swept.output
    assert "orders redacted: 1; contacts redacted: 1" in swept.stdout
    after = run("privacy", "report", "--json")
    assert after.exit_code == 0, after.output
    report = _json(after)
    assert (report["overdue"], report["amazon_orders_holding_pii"], report["archive_files"]) == (0, 1, 1)
    assert report["last_sweep_at"] is not None and report["archive_ok"] is True
    assert "overdue (must be 0)" in run("privacy", "report").stdout
    # and the archive verifies without a key, and restores only with the offline one (AC-14)
    assert run("archive", "verify").exit_code == 0
    restored = run(
        "archive", "restore", "--key", str(world.private_key), "--order", "202-0000020-0000020", "--json"
    )
    assert restored.exit_code == 0, restored.output
    (record,) = json.loads(restored.stdout)
    assert (record["name"], record["address_line1"]) == (buyer.name, buyer.address_line1)
    wrong = world.root.parent / "wrong.key"
    from orderbridge.privacy.archive import keygen

    keygen(wrong, world.root.parent / "wrong.pub")
    refused = run("archive", "restore", "--key", str(wrong), "--order", "202-0000020-0000020")
    assert refused.exit_code == 1 and "wrong private key" in refused.output
    # and a damaged file is named as damaged
    (file,) = world.archive_dir.glob("archive-*.oba")
    data = bytearray(file.read_bytes())
    data[-40] ^= 1
    file.write_bytes(bytes(data))
    damaged = run("archive", "verify")
    assert damaged.exit_code == 1 and "damaged" in damaged.output
    assert "damaged" in run("archive", "restore", "--key", str(world.private_key), "--order", "x").output


def test_ac14_archive_keygen_tells_the_operator_to_take_the_private_key_offline(
    run: Run, world: World, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ORDERBRIDGE_ARCHIVE_PUBLIC_KEY_FILE", str(tmp_path / "new.pub"))
    _forget_store()
    made = run("archive", "keygen", "--private-key", str(tmp_path / "offline" / "new.key"))
    assert made.exit_code == 0, made.output
    assert "offline" in made.stdout and (tmp_path / "new.pub").exists()
    assert (tmp_path / "offline" / "new.key").stat().st_mode & 0o077 == 0
    again = run("archive", "keygen", "--private-key", str(tmp_path / "offline" / "new.key"))
    assert again.exit_code == 1 and "refusing to overwrite" in again.output


@STORES
def test_ac20_ac21_ac28_reveal_is_audited_keys_rotate_and_a_seller_purge_shreds_everything(
    world: World, run: Run
) -> None:
    buyer = make_canary_buyer()
    order_id = world.book("202-0000022-0000022", buyer)
    shown = run(
        "privacy", "reveal", "--order", str(order_id), "--purpose", "ship_label", "--field", "billing_name"
    )
    assert shown.exit_code == 0 and buyer.name in shown.stdout

    # when the KEK rotates, every data key is re-wrapped and the data still reads (AC-20)
    old_kek = (world.root / "secrets" / "kek").read_text()
    rotated = run("keys", "rotate")
    assert rotated.exit_code == 0 and "re-wrapped" in rotated.stdout
    assert (world.root / "secrets" / "kek").read_text() != old_kek
    again = run(
        "privacy", "reveal", "--order", str(order_id), "--purpose", "support", "--field", "billing_name"
    )
    assert again.exit_code == 0 and buyer.name in again.stdout

    # when the seller is purged, a certificate lists the destroyed keys and nothing reads any more (AC-28)
    refused = run("seller", "purge", "amazon-uk", "--reason", "authorisation revoked")
    assert refused.exit_code == 1
    purged = run("seller", "purge", "amazon-uk", "--reason", "authorisation revoked", "--yes")
    assert purged.exit_code == 0 and "purge certificate" in purged.stdout and "amazon-uk/" in purged.stdout
    assert "orders deleted: 1" in purged.stdout and "contacts deleted: 1" in purged.stdout
    assert (
        open_keystore(world.root / "keys", key_file=world.root / "secrets" / "kek", environ={}).live_keys(
            "amazon-uk"
        )
        == []
    )
    gone = run(
        "privacy", "reveal", "--order", str(order_id), "--purpose", "support", "--field", "billing_name"
    )
    assert gone.exit_code == 1 and "does not exist" in gone.output and buyer.name not in gone.output


@STORES
def test_p9_ac27_an_incident_shows_the_24_hour_deadline_to_tell_amazon(run: Run) -> None:
    opened = run("incidents", "open", "--summary", "laptop with a book export lost", "--actor", "user:ops")
    assert opened.exit_code == 0, opened.output
    assert "security@amazon.com" in opened.stdout and "24 hours" in opened.stdout
    listed = run("incidents", "list", "--json")
    (incident,) = json.loads(listed.stdout)
    assert incident["status"] == "open" and incident["overdue"] is False
    assert run("incidents", "notified", str(incident["id"])).exit_code == 0
    closed = run("incidents", "close", str(incident["id"]), "--resolution", "device wiped remotely")
    assert closed.exit_code == 0, closed.output
    assert json.loads(run("incidents", "list", "--json", "--open").stdout) == []


@STORES
def test_ac7_p3_after_the_sweep_every_output_shows_redacted_and_keeps_country_and_district(
    world: World, run: Run, tmp_path: Path
) -> None:
    # given a buyer's order, shipped 31 days ago, swept
    buyer = make_canary_buyer()
    order_id = world.book("202-0000023-0000023", buyer)
    world.ship(order_id, days_ago=31)
    assert run("privacy", "sweep").exit_code == 0

    # then the order as shown and exported reads [Redacted] for every P2 field
    shown = run("orders", "show", "202-0000023-0000023", "--json")
    assert shown.exit_code == 0, shown.output
    detail = json.loads(shown.stdout)
    assert [note["body"] for note in detail["notes"]] == ["[Redacted]"]
    assert detail["delivery_country"] == "GB"
    listed = run("orders", "list", "--json")
    assert listed.exit_code == 0 and "202-0000023-0000023" in listed.stdout
    # and the audited read an invoice or label is printed from gives [Redacted] too
    revealed = run("privacy", "reveal", "--order", str(order_id), "--purpose", "tax_invoice")
    assert revealed.exit_code == 0, revealed.output
    for name in ("billing_name", "billing_line1", "billing_phone", "delivery_name", "delivery_line2"):
        assert re.search(rf"{name}\s*│\s*\[Redacted\]", revealed.stdout), name
    # while country and postcode district stay for tax
    with world.sessions() as session:
        order = world.order(session, order_id)
        assert (order.billing_country, order.delivery_postcode_district) == ("GB", "SW1A")
    outputs = shown.stdout + listed.stdout + revealed.stdout
    assert all(value not in outputs for value in buyer.values.values())


@STORES
def test_ac25_account_secrets_come_from_the_environment_and_are_stored_encrypted(
    world: World, run: Run, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given secrets handed over in the environment, never on the command line (ps shows argv)
    secret, token = f"amzn1.oa2-cs.v1.{'c0ffee' * 8}", "Atzr|IwEB" + "Qz" * 40
    monkeypatch.setenv("ORDERBRIDGE_LWA_CLIENT_ID", "amzn1.application-oa2-client.ob-test")
    monkeypatch.setenv("ORDERBRIDGE_LWA_CLIENT_SECRET", secret)
    monkeypatch.setenv("ORDERBRIDGE_LWA_REFRESH_TOKEN", token)
    argv = ["accounts", "add", "A2SELLER0001", "--region", "EU", "--marketplaces", "UK"]

    # when the account is added and listed
    added = run(*argv)
    assert added.exit_code == 0, added.output
    listed = run("accounts", "list", "--json")

    # then neither secret is in the arguments, the output, or any byte of the store
    assert all(value not in " ".join(argv) for value in (secret, token))
    assert all(value not in added.output + listed.output for value in (secret, token))
    stored = b"".join(path.read_bytes() for path in world.byte_stores(tmp_path))
    assert secret.encode() not in stored and token.encode() not in stored


@STORES
def test_ac20_archive_and_index_keys_rotate_from_the_command_line(
    world: World, run: Run, tmp_path: Path
) -> None:
    # given a live buyer and an archived one
    live, archived = make_canary_buyer(), make_canary_buyer()
    world.book("202-0000024-0000024", live)
    due = world.book("202-0000025-0000025", archived)
    world.ship(due, days_ago=31)
    assert run("privacy", "sweep").exit_code == 0

    # when the archive key rotates, then the old key restores the old files and both are logged
    new_key = tmp_path / "offline-2" / "archive.key"
    rotated = run("archive", "rotate", "--private-key", str(new_key))
    assert rotated.exit_code == 0, rotated.output
    assert "offline" in rotated.stdout and new_key.exists()
    restored = run("archive", "restore", "--key", str(world.private_key), "--key", str(new_key),
                   "--order", "202-0000025-0000025", "--json")  # fmt: skip
    assert restored.exit_code == 0 and json.loads(restored.stdout)[0]["name"] == archived.name

    # when the blind-index keys rotate, then the live contact is re-indexed and old keys destroyed
    index = run("keys", "rotate-index")
    assert index.exit_code == 0, index.output
    assert "1 contact(s) re-indexed" in index.stdout and "old key(s) destroyed" in index.stdout
    with world.sessions() as session:
        from orderbridge.privacy import audit
        from orderbridge.privacy.models import AuditAction

        assert audit.entries(session, action=AuditAction.ARCHIVE_KEY_ROTATED)
        assert audit.entries(session, action=AuditAction.INDEX_KEY_ROTATED)


@STORES
def test_ac27_the_report_shows_overdue_incidents_the_impoc_and_the_plan_review_and_fails_when_late(
    world: World, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import timedelta

    # given an incident detected 25 hours ago and never reported, an IMPOC, a plan reviewed 7 months ago
    detected = (utc_now() - timedelta(hours=25)).isoformat()
    assert run("incidents", "open", "--summary", "stolen laptop", "--detected", detected).exit_code == 0
    monkeypatch.setenv("ORDERBRIDGE_IMPOC", "user:security-lead")
    monkeypatch.setenv(
        "ORDERBRIDGE_IR_PLAN_REVIEWED_ON", (utc_now() - timedelta(days=213)).date().isoformat()
    )
    _forget_store()

    # when the report runs, then it fails and says what is late
    report = run("privacy", "report", "--json")
    assert report.exit_code == 1
    found = _json(report)
    assert (found["incidents_open"], found["incidents_overdue"], found["impoc"]) == (
        1,
        1,
        "user:security-lead",
    )
    assert found["ir_plan_review_overdue"] is True and found["overdue"] == 0
    table = run("privacy", "report")
    assert "OVERDUE" in table.stdout and "past the 24 hours" in table.output
