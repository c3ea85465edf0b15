"""Settings: environment variables ORDERBRIDGE_* over an optional TOML file over defaults."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from orderbridge.errors import OrderbridgeError
from orderbridge.local_time import UnknownZoneError, machine_zone_name, zone_named

CONFIG_FILE_ENV = "ORDERBRIDGE_CONFIG"
DEFAULT_CONFIG_FILE = "orderbridge.toml"
SUPPORTED_SCHEMES = ("sqlite", "sqlite+pysqlite", "postgresql+psycopg")
MODES = ("embedded", "distributed")
BROKER_SCHEMES = ("redis", "rediss", "amqp", "amqps")


class SettingsError(OrderbridgeError):
    """A setting is wrong; the message names each wrong setting and why."""


def _store_transport_safe(url: str) -> bool:
    """True for a loopback or unix-socket PostgreSQL, or one reached with TLS required."""
    from ipaddress import ip_address

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.query.get("sslmode") in ("require", "verify-ca", "verify-full"):
        return True
    host = parsed.host or parsed.query.get("host")
    if not host or str(host).startswith("/") or host == "localhost":
        return True
    try:
        return ip_address(str(host)).is_loopback
    except ValueError:
        return False


def _config_file() -> Path:
    return Path(os.environ.get(CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE))


class Settings(BaseSettings):
    """Everything an installation can set. Each field is also `ORDERBRIDGE_<NAME>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ORDERBRIDGE_", extra="forbid", validate_default=True)

    data_dir: Path = Field(default=Path("data"), description="Where the SQLite book and local files live.")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite under data_dir.")
    busy_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Seconds a change waits for another one writing the book before it gives up with "
        "'the book is busy' (a page answers 503, a command exits 1): more than 0, at most 600.",
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    web_host: str = Field(default="127.0.0.1", description="Address the web UI and API listen on.")
    web_port: int = Field(default=8000, ge=1, le=65535)
    # AC-24: plain HTTP only on loopback; elsewhere HTTPS served directly or a TLS proxy declared here.
    web_tls: str = Field(
        default="off", description="off (loopback only), direct (HTTPS here) or proxy (behind a TLS proxy)."
    )
    web_tls_cert_file: Path | None = Field(
        default=None, description="PEM certificate for web_tls=direct; empty: a self-signed one is made."
    )
    web_tls_key_file: Path | None = Field(default=None, description="PEM private key for web_tls=direct.")
    web_proxy_ips: list[str] = Field(
        default_factory=list,
        description="Addresses of the TLS proxy (web_tls=proxy) trusted for X-Forwarded-*.",
    )
    web_session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    web_session_hours: int = Field(default=12, ge=1, le=24 * 7)
    web_lockout_minutes: int = Field(
        default=30, ge=0, description="How long 10 failed sign-ins lock a user out; 0: until an admin resets."
    )
    web_waive_second_factor_on_sandbox: bool = Field(
        default=True, description="Without a real Amazon account (sandbox only) sign-in may skip TOTP."
    )
    company_currency: str = Field(default="GBP", min_length=3, max_length=3)
    time_zone: str = Field(
        default_factory=machine_zone_name,
        description="IANA time zone the web UI shows times in (stored times stay UTC); default: the "
        "machine's zone.",
    )
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
    # Amazon order download (issue 5).
    sync_overlap_minutes: int = Field(
        default=10,
        description="Minutes each order sync re-reads before where the last one ended, so orders Amazon "
        "makes visible late are not missed: 1 to 1440.",
    )
    pending_alert_days: int = Field(
        default=3,
        description="Days an order booked Pending may stay Pending (holding stock) before it becomes an "
        "alert: 1 to 30.",
    )
    # Sync health (the dashboard's alert and one e-mail per episode).
    sync_failing_minutes: int = Field(
        default=15,
        description="Minutes every call to Amazon may fail before an account's sync is reported failing "
        "(an alert on the dashboard and one e-mail): 1 to 1440.",
    )
    sync_quiet_minutes: int = Field(
        default=60,
        description="Minutes an account may go without a successful order download before its sync is "
        "reported failing: 10 to 10080.",
    )
    non_pii_legal_basis: str = Field(
        default="",
        description="Why non-PII Amazon data is kept past 18 months (AC-29); empty: the sweep deletes it.",
    )
    impoc: str = Field(
        default="", description="Incident Management Point of Contact named to Amazon (DPP §1.6, AC-27)."
    )
    ir_plan_reviewed_on: date | None = Field(
        default=None, description="When the incident-response plan was last reviewed (every 6 months, AC-27)."
    )

    # Scale-out (docs/deploy.md): `embedded` runs every job inside `orderbridge run`; `distributed` runs
    # them on Celery workers (`orderbridge worker`, `orderbridge beat`) with PostgreSQL as the book.
    mode: str = Field(default="embedded", description="embedded or distributed.")
    broker_url: str = Field(default="", description="Celery broker (redis:// or amqp://); distributed only.")
    quota_redis_url: str = Field(
        default="",
        description="Redis for the shared quota buckets and dispatch markers; empty: the broker (Redis).",
    )
    sync_pages_per_task: int = Field(
        default=5, ge=1, le=1000, description="searchOrders pages one distributed task fetches at most."
    )
    quota_patience_seconds: float = Field(
        default=60.0, gt=0, description="Longest quota wait a distributed task sleeps before yielding."
    )
    redis_prefix: str = Field(
        default="orderbridge",
        pattern=r"^[A-Za-z0-9_.-]{1,40}$",
        description="Prefix of every Redis key (quotas, dispatch, broker): installations may share a Redis.",
    )
    requeue_seconds: float = Field(
        default=120.0,
        gt=0,
        description="Real seconds after which an account whose task was lost (worker killed) is queued anew.",
    )
    lease_real_seconds: float = Field(
        default=120.0, gt=0, description="Shortest account lease in real seconds, whatever a sandbox's speed."
    )
    dispatch_seconds: float = Field(
        default=5.0, gt=0, le=3600, description="Real seconds between two dispatcher ticks of the beat."
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
    smtp_ca_file: Path | None = Field(
        default=None,
        description="PEM file of CA certificates to trust for the SMTP server (instead of the system's).",
    )
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
        if value.startswith("postgresql") and not _store_transport_safe(value):
            raise ValueError(
                "a PostgreSQL server off this host must be reached over TLS (DPP AC-24): add "
                "?sslmode=require (or verify-ca / verify-full), or use 127.0.0.1 or a unix socket"
            )
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be DEBUG, INFO, WARNING or ERROR")
        return value.upper()

    @field_validator("web_tls")
    @classmethod
    def _known_tls(cls, value: str) -> str:
        if value.strip().lower() not in {"off", "direct", "proxy"}:
            raise ValueError("must be off, direct or proxy")
        return value.strip().lower()

    @field_validator("retention_days")
    @classmethod
    def _within_amazon_limit(cls, value: int) -> int:
        if not 1 <= value <= 30:
            raise ValueError("must be 1 to 30 (Amazon allows no more than 30 days after shipment, P1)")
        return value

    @field_validator("sync_overlap_minutes")
    @classmethod
    def _sensible_overlap(cls, value: int) -> int:
        if not 1 <= value <= 1440:
            raise ValueError(
                f"{value} is not 1 to 1440 minutes: 0 would miss orders Amazon shows late, and more than "
                "a day re-reads pages that cost searchOrders quota"
            )
        return value

    @field_validator("pending_alert_days")
    @classmethod
    def _sensible_pending_days(cls, value: int) -> int:
        if not 1 <= value <= 30:
            raise ValueError(f"{value} is not 1 to 30 days")
        return value

    @field_validator("sync_failing_minutes")
    @classmethod
    def _sensible_failing_minutes(cls, value: int) -> int:
        if not 1 <= value <= 1440:
            raise ValueError(f"{value} is not 1 to 1440 minutes")
        return value

    @field_validator("sync_quiet_minutes")
    @classmethod
    def _sensible_quiet_minutes(cls, value: int) -> int:
        if not 10 <= value <= 10080:
            raise ValueError(f"{value} is not 10 to 10080 minutes (a week)")
        return value

    @field_validator("company_currency")
    @classmethod
    def _iso_currency(cls, value: str) -> str:
        from babel.numbers import is_currency

        if not is_currency(value.upper()):
            raise ValueError(f"unknown ISO 4217 currency {value!r}")
        return value.upper()

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            return str(zone_named(value).key)
        except UnknownZoneError as error:
            raise ValueError(str(error)) from None

    @property
    def zone(self) -> ZoneInfo:
        """The installation's time zone (`time_zone`, checked when the settings were read)."""
        return zone_named(self.time_zone)

    @field_validator("mode")
    @classmethod
    def _known_mode(cls, value: str) -> str:
        if value.lower() not in MODES:
            raise ValueError(f"must be one of {', '.join(MODES)}")
        return value.lower()

    @field_validator("broker_url", "quota_redis_url")
    @classmethod
    def _broker_scheme(cls, value: str, info: ValidationInfo) -> str:
        schemes = BROKER_SCHEMES if info.field_name == "broker_url" else ("redis", "rediss")
        if value and value.split("://", 1)[0] not in schemes:
            raise ValueError(f"must start with one of {', '.join(s + '://' for s in schemes)}")
        return value

    @model_validator(mode="after")
    def _distributed_needs_services(self) -> Settings:
        if self.mode != "distributed":
            return self
        missing = []
        if not self.database_url.startswith("postgresql"):
            missing.append(
                "ORDERBRIDGE_DATABASE_URL must be a postgresql+psycopg:// URL (workers on several "
                "machines share one book; SQLite is for one process)"
            )
        if not self.broker_url:
            missing.append("ORDERBRIDGE_BROKER_URL must name the Celery broker (redis:// or amqp://)")
        elif not self.broker_url.startswith("redis") and not self.quota_redis_url:
            missing.append(
                "ORDERBRIDGE_QUOTA_REDIS_URL must name a Redis when the broker is RabbitMQ (the shared "
                "quota buckets and the dispatcher's markers live there)"
            )
        if missing:
            raise ValueError("ORDERBRIDGE_MODE=distributed: " + "; ".join(missing))
        return self

    @property
    def quota_store_url(self) -> str:
        """Where the quota buckets live: a Redis URL, or "" for the book (the embedded limiter)."""
        if self.quota_redis_url:
            return self.quota_redis_url
        if self.mode == "distributed" and self.broker_url.startswith("redis"):
            return self.broker_url
        return ""

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
        if self.smtp_ca_file is not None and not self.smtp_ca_file.is_file():
            raise ValueError(f"smtp_ca_file {self.smtp_ca_file} is not a readable file")
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
    def busy_timeout_ms(self) -> int:
        return max(1, round(self.busy_timeout_seconds * 1000))

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
