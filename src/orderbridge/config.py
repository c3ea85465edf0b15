"""Settings: environment variables ORDERBRIDGE_* over an optional TOML file over defaults."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
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
    # Privacy (DPP §3.4, §3.6): keys and archives live outside the data directory and its backups.
    key_store_dir: Path = Field(default=Path("keys"), description="Epoch data keys (never inside data_dir).")
    kek_file: Path = Field(default=Path("secrets/kek"), description="Key-encryption key file (0600).")
    archive_dir: Path = Field(default=Path("archive"), description="Sealed cold archive files (P6).")
    archive_public_key_file: Path = Field(
        default=Path("archive.pub"), description="The archive's public key; the private key stays offline."
    )
    retention_days: int = Field(
        default=30, description="Days PII is kept after an Amazon order ships or is cancelled (P1): 1 to 30."
    )
    non_pii_legal_basis: str = Field(
        default="", description="Why non-PII Amazon data is kept past 18 months (AC-29); empty: flagged."
    )
    # E-mail to the seller (F5). An empty smtp_host keeps notices in the book, unsent.
    smtp_host: str = Field(default="", description="SMTP server; empty: no e-mail is sent.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_tls: Literal["starttls", "ssl", "none"] = Field(
        default="starttls", description="starttls (port 587), ssl (implicit TLS, port 465) or none."
    )
    smtp_username: str = Field(default="", description="SMTP login; empty: no authentication.")
    smtp_password: SecretStr = Field(default=SecretStr(""))
    smtp_timeout: float = Field(default=30.0, gt=0, le=600)
    mail_from: str = Field(default="", description="The sender address of the book's e-mail.")
    mail_to: str = Field(default="", description="Recipients, comma-separated (never Amazon's, C12).")

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

    @field_validator("retention_days")
    @classmethod
    def _within_amazon_limit(cls, value: int) -> int:
        if not 1 <= value <= 30:
            raise ValueError("must be 1 to 30 (Amazon allows no more than 30 days after shipment, P1)")
        return value

    @field_validator("company_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        from babel.numbers import is_currency

        if not is_currency(value.upper()):
            raise ValueError(f"unknown ISO 4217 currency {value!r}")
        return value.upper()

    @model_validator(mode="after")
    def _keys_outside_data(self) -> Settings:
        data = self.data_dir.resolve()
        for name in ("key_store_dir", "kek_file"):
            path = getattr(self, name).resolve()
            if path == data or data in path.parents:
                raise ValueError(
                    f"{name} {getattr(self, name)} is inside data_dir: database backups would copy it"
                )
        return self

    @model_validator(mode="after")
    def _mail_complete(self) -> Settings:
        from orderbridge.notify.addresses import AddressError, checked_address

        if not self.smtp_host:
            return self
        if not self.mail_from or not self.mail_recipients:
            raise ValueError("smtp_host is set: mail_from and mail_to are needed too")
        if self.smtp_password.get_secret_value() and not self.smtp_username:
            raise ValueError("smtp_password is set without smtp_username")
        if self.smtp_username and self.smtp_tls == "none":
            raise ValueError("smtp_username with smtp_tls none would send the password in clear")
        try:
            checked_address(self.mail_from, what="mail_from")
            for address in self.mail_recipients:
                checked_address(address, what="mail_to")
        except AddressError as error:
            raise ValueError(str(error)) from None
        return self

    @property
    def mail_recipients(self) -> list[str]:
        return [part.strip() for part in self.mail_to.split(",") if part.strip()]

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
