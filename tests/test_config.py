"""Settings: environment over TOML over defaults; a wrong setting names itself."""

from __future__ import annotations

from pathlib import Path

import pytest

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
    ],
)
def test_a_wrong_setting_is_named(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        load_settings()
