"""Settings: environment variables ORDERBRIDGE_* over an optional TOML file over defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from orderbridge.errors import OrderbridgeError

CONFIG_FILE_ENV = "ORDERBRIDGE_CONFIG"
DEFAULT_CONFIG_FILE = "orderbridge.toml"
SUPPORTED_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")


class SettingsError(OrderbridgeError):
    """A setting is wrong; the message names each wrong setting and why."""


def _config_file() -> Path:
    return Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))


class Settings(BaseSettings):
    """Everything an installation can set. Each field is also `ORDERBRIDGE_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ORDERBRIDGE_", extra="forbid", validate_default=True)

    data_dir: Path = Field(default=Path("data"), description="Where the SQLite book and local files live.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite under data_dir.")
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    web_host: str = Field(default="127.0.0.1")
    web_port: int = Field(default=8000, ge=1, le=65535)
    company_currency: str = Field(default="GBP", min_length=3, max_length=3)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, _config_file()))

    @field_validator("database_url")
    @classmethod
    def _known_store(cls, value: str) -> str:
        if value and value.split("://", 1)[0] not in SUPPORTED_SCHEMES:
            raise ValueError(f"must start with one of {', '.join(s + '://' for s in SUPPORTED_SCHEMES)}")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @field_validator("company_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        from babel.numbers import is_currency

        if not is_currency(value.upper()):
            raise ValueError(f"unknown ISO 4217 currency {value!r}")
        return value.upper()

    @property
    def store_url(self) -> str:
        """The database URL in force: the configured one, or the SQLite file under data_dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'orderbridge.db'}"


def load_settings(**overrides: Any) -> Settings:
    """Read the settings, or raise SettingsError naming every wrong setting (env name and reason)."""
    try:
        return Settings(**overrides)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            name = ".".join(str(part) for part in item["loc"]) or "(settings)"
            problems.append(f"ORDERBRIDGE_{name.upper()}: {item['msg']}")
        raise SettingsError("wrong settings: " + "; ".join(problems)) from None
