"""DPP §4 controls that are about the installation and the repository rather than one flow:
caches and temp directories (AC-8), secrets in the repository (AC-25), synthetic test data and copies of
the database outside production (AC-26).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from detect_secrets import SecretsCollection
from detect_secrets.settings import transient_settings
from sqlalchemy.engine import make_url

from orderbridge.book.pii import pii_fields
from orderbridge.privacy.canary import files_under, make_canary_buyer, scan
from orderbridge.privacy.errors import DecryptionError
from orderbridge.privacy.keystore import open_keystore
from orderbridge.privacy.sealing import Privacy, is_sealed, open_sealed, reveal
from tests.privacy.world import World, make_world

STORES = pytest.mark.parametrize("fresh_store_url", ["sqlite", "postgresql"], indirect=True)
REPO = Path(__file__).resolve().parents[2]

# detect-secrets' detectors for credentials with a recognisable shape (its entropy and keyword
# detectors flag every hash and test constant of a codebase like this one).
_DETECTORS = (
    "AWSKeyDetector", "ArtifactoryDetector", "AzureStorageKeyDetector", "BasicAuthDetector",
    "CloudantDetector", "DiscordBotTokenDetector", "GitHubTokenDetector", "GitLabTokenDetector",
    "IbmCloudIamDetector", "IbmCosHmacDetector", "JwtTokenDetector", "MailchimpDetector", "NpmDetector",
    "OpenAIDetector", "PrivateKeyDetector", "PypiTokenDetector", "SendGridDetector", "SlackDetector",
    "SoftlayerDetector", "SquareOAuthDetector", "StripeDetector", "TelegramBotTokenDetector",
    "TwilioKeyDetector",
)  # fmt: skip
# The README's example PostgreSQL URL (`user:password@host`) is a placeholder, not a credential.
_KNOWN_PLACEHOLDERS = {("README.md", "Basic Auth Credentials")}
# Amazon's own credentials, at their real lengths (the tests' synthetic ones are short and say so):
# LWA refresh and access tokens run to hundreds of characters, client secrets to 64 hex digits.
_AMAZON_SECRETS = re.compile(
    r"Atz[ra]\|[A-Za-z0-9_\-=+/]{100,}|amzn1\.oa2-cs\.v1\.[0-9a-f]{64}"
    r"|orderbridge-archive-private-key-v1\s+[A-Za-z0-9+/]{43}="
)
_SYNTHETIC_DOMAINS = re.compile(
    r"(example\.(com|org|net)|[a-z0-9.-]+\.(example|test|invalid)|marketplace\.amazon\.[a-z.]+|amazon\.com)$"
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")


@pytest.fixture
def world(fresh_store_url: str, tmp_path: Path) -> Iterator[World]:
    built = make_world(fresh_store_url, tmp_path / "install")
    yield built
    built.engine.dispose()


def _tracked_files() -> list[Path]:
    listed = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    return [REPO / name for name in listed.stdout.splitlines() if (REPO / name).is_file()]


def test_ac25_the_repository_holds_no_credentials() -> None:
    # given every tracked file
    files = _tracked_files()
    assert len(files) > 100

    # when detect-secrets and the Amazon credential patterns scan them
    with transient_settings({"plugins_used": [{"name": name} for name in _DETECTORS]}):
        found = SecretsCollection()
        for path in files:
            found.scan_file(str(path))
    flagged = {
        (secret.filename, secret.type)
        for _name, secret in found
        if (str(Path(secret.filename).relative_to(REPO)), secret.type) not in _KNOWN_PLACEHOLDERS
    }
    amazon = [
        str(path.relative_to(REPO))
        for path in files
        if path.suffix not in {".png", ".gz"} and _AMAZON_SECRETS.search(path.read_text(errors="replace"))
    ]

    # then nothing looks like a real credential or a private key
    assert flagged == set()
    assert amazon == []


def test_ac25_the_secret_scan_can_fail(tmp_path: Path) -> None:
    planted = tmp_path / "leak.txt"
    # assembled here so that this file itself holds no key-shaped string
    planted.write_text(
        "aws_access_key_id = " + "AKIA" + "IOSFODNN7EXAMPLE\n" + "refresh=Atzr|" + "A" * 300 + "\n"
    )
    with transient_settings({"plugins_used": [{"name": name} for name in _DETECTORS]}):
        found = SecretsCollection()
        found.scan_file(str(planted))
    assert {secret.type for _name, secret in found} == {"AWS Access Key"}
    assert _AMAZON_SECRETS.search(planted.read_text()) is not None


def test_ac26_test_and_demo_data_use_only_synthetic_addresses() -> None:
    # given the tests' fixtures and the sandbox that generates every demo buyer
    sources = [
        path
        for path in _tracked_files()
        if path.relative_to(REPO).parts[0] == "tests" or "simulator" in path.parts
    ]
    # then every e-mail address in them is on a reserved or Amazon relay domain (R14: no real buyer)
    domains = {
        match.group(1).lower()
        for path in sources
        if path.suffix in {".py", ".json", ".yaml", ".yml", ".csv", ".txt"}
        for match in _EMAIL.finditer(path.read_text(errors="replace"))
    }
    assert domains and {d for d in domains if not _SYNTHETIC_DOMAINS.search(d)} == set()


@STORES
def test_ac26_a_copy_of_the_database_in_another_profile_holds_no_readable_pii(
    world: World, tmp_path: Path
) -> None:
    # given a production book with a live buyer
    buyer = make_canary_buyer()
    order_id = world.book("202-0000070-0000070", buyer)

    # when its database is read from a dev profile with its own key store (a copied dump or file)
    dev = Privacy(open_keystore(tmp_path / "dev" / "keys", key_file=tmp_path / "dev" / "kek", environ={}))
    with world.sessions() as session:
        order = world.order(session, order_id)
        stored = {name: getattr(order, name) for name in pii_fields(type(order).__table__)}

    # then it holds only ciphertext, none of which opens without the production key store
    assert all(value is None or is_sealed(value) for value in stored.values())
    for name, value in stored.items():
        if value is not None:
            with pytest.raises(DecryptionError, match="not in the key store"):
                open_sealed(dev, value, table="sales_orders", ref=order.pii_ref, name=name)
    assert scan(world.byte_stores(tmp_path), buyer) == []


@STORES
def test_ac8_temp_directories_and_caches_hold_no_canary_before_or_after_the_sweep(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given every temporary file of this process going to a directory we can scan
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    buyer = make_canary_buyer()

    # when a buyer is booked, read (audited), shipped, swept and archived
    order_id = world.book("202-0000071-0000071", buyer)
    with world.sessions.begin() as session:
        shown = reveal(session, world.order(session, order_id), ["billing_name"], actor="user:clerk",
                       purpose="ship_label", clock=world.clock)  # fmt: skip
    assert shown["billing_name"] == buyer.name
    places = [scratch, world.root]
    if world.is_sqlite:
        database = Path(str(make_url(world.url).database))
        places += [p for p in database.parent.glob(database.name + "*") if p.is_file()]
    assert scan(files_under(*places), buyer) == []
    world.ship(order_id, days_ago=31)
    world.sweep()

    # then no temp file, cache, log, key store or archive byte holds the buyer in any form
    assert scan(files_under(*places), buyer) == []
    assert scan(world.byte_stores(tmp_path), buyer) == []
    # and nothing PII-shaped is kept in the process's caches: only keys and key-derived values
    indexer_cache = world.privacy.indexer._derived
    assert all(isinstance(value, bytes) and len(value) == 32 for value in indexer_cache.values())
