"""Settings: environment over TOML over defaults; a wrong setting names itself."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from orderbridge.amazon.orders.sync import SyncOptions
from orderbridge.cli import context
from orderbridge.cli.sync import sync_options
from orderbridge.config import SettingsError, load_settings


def test_default_store_is_sqlite_under_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ORDERBRIDGE_DATABASE_URL", raising=False)
    settings = load_settings()
    assert settings.store_url == "sqlite:///data/orderbridge.db"


def test_toml_file_is_read_and_environment_wins(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "orderbridge.toml"
    config.write_text('database_url = "postgresql+psycopg://postgres@127.0.0.1/book"\nweb_port = 9000\n')
    monkeypatch.setenv("ORDERBRIDGE_CONFIG", str(config))
    monkeypatch.setenv("ORDERBRIDGE_WEB_PORT", "9100")
    settings = load_settings()
    assert settings.store_url == "postgresql+psycopg://postgres@127.0.0.1/book"
    assert settings.web_port == 9100


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ORDERBRIDGE_DATABASE_URL", "mysql://x", "ORDERBRIDGE_DATABASE_URL: Value error, must start with"),
        ("ORDERBRIDGE_WEB_PORT", "eighty", "ORDERBRIDGE_WEB_PORT: Input should be a valid integer"),
        (
            "ORDERBRIDGE_COMPANY_CURRENCY",
            "XYZ",
            "ORDERBRIDGE_COMPANY_CURRENCY: Value error, unknown ISO 4217",
        ),
        ("ORDERBRIDGE_LOG_LEVEL", "LOUD", "ORDERBRIDGE_LOG_LEVEL"),
        (
            "ORDERBRIDGE_SYNC_OVERLAP_MINUTES",
            "0",
            "ORDERBRIDGE_SYNC_OVERLAP_MINUTES: Value error, 0 is not 1 to 1440 minutes: 0 would miss orders",
        ),
        ("ORDERBRIDGE_SYNC_OVERLAP_MINUTES", "ten", "ORDERBRIDGE_SYNC_OVERLAP_MINUTES: Input should be"),
        (
            "ORDERBRIDGE_PENDING_ALERT_DAYS",
            "0",
            "PENDING_ALERT_DAYS: Value error, 0 is not 1 to 30",
        ),
        (
            "ORDERBRIDGE_PENDING_ALERT_DAYS",
            "31",
            "PENDING_ALERT_DAYS: Value error, 31 is not 1 to",
        ),
    ],
)
def test_a_wrong_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()


def test_sync_overlap_and_pending_alert_days_reach_every_sync(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # given an installation that widens the overlap and waits a week before a Pending alert
    monkeypatch.chdir(tmp_path)
    (tmp_path / "orderbridge.toml").write_text("sync_overlap_minutes = 25\n")
    monkeypatch.setenv("ORDERBRIDGE_PENDING_ALERT_DAYS", "7")
    context.forget()
    try:
        # then the syncs the CLI and `orderbridge run` start use them (defaults: 10 minutes, 3 days)
        options = sync_options()
    finally:
        context.forget()
    assert (options.overlap, options.pending_alert_days) == (timedelta(minutes=25), 7)
    assert (SyncOptions().overlap, SyncOptions().pending_alert_days) == (timedelta(minutes=10), 3)
