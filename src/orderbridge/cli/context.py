"""What every command needs: the settings and a session factory on the configured store."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import typer
from rich.console import Console
from sqlalchemy import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.config import Settings, SettingsError, load_settings
from orderbridge.db import make_engine, reading, session_factory
from orderbridge.privacy.errors import PrivacyError
from orderbridge.privacy.keystore import KeyStore, open_keystore
from orderbridge.privacy.sealing import Privacy, enable

console = Console()
errors = Console(stderr=True)


@cache
def settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        errors.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None


@cache
def engine() -> Engine:
    return make_engine(settings().store_url, busy_timeout_ms=settings().busy_timeout_ms)


@cache
def keystore() -> KeyStore:
    """The installation's key store (key_store_dir, kek_file or ORDERBRIDGE_KEK), refused inside the
    database's directory (AC-18): the book's PII keys and the accounts' secrets keys live there."""
    config = settings()
    database_dirs = [config.data_dir]
    url = make_url(config.store_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database_dirs.append(Path(str(url.database)).parent)
    try:
        return open_keystore(config.key_store_dir, key_file=config.kek_file, database_dirs=database_dirs)
    except PrivacyError as error:
        raise fail(str(error), code=2) from None


@cache
def privacy() -> Privacy:
    return Privacy(keystore(), retention_days=settings().retention_days)


@cache
def sessions() -> sessionmaker[Session]:
    """Sessions on the configured store that seal every piece of buyer data they write (P2, R1)."""
    factory = session_factory(engine())
    enable(factory, privacy())
    return factory


def forget() -> None:
    """Drop the cached settings, engine, key store and sessions (tests run one store after another)."""
    if engine.cache_info().currsize:
        engine().dispose()
    for cached in (settings, engine, keystore, privacy, sessions):
        cached.cache_clear()


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction for one command: committed when the command succeeds, rolled back otherwise."""
    with sessions().begin() as session:
        yield session


@contextmanager
def read_only() -> Iterator[Session]:
    """One transaction for a command that only reads (lists, shows, reports): it waits for no writer
    (`orderbridge run`'s jobs, an import) and holds none up; the store refuses it any write."""
    with reading(sessions()) as session:
        yield session


def cli_actor() -> str:
    """Who acts, for the audit log: the operating-system user running the command."""
    return f"cli:{getpass.getuser()}"


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error that names what is wrong and return the exit to raise."""
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)
