"""What every command needs: the settings and a session factory on the configured store."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import typer
from rich.console import Console
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.config import Settings, SettingsError, load_settings
from orderbridge.db import make_engine, session_factory

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
    return make_engine(settings().store_url)


@cache
def sessions() -> sessionmaker[Session]:
    return session_factory(engine())


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction for one command: committed when the command succeeds, rolled back otherwise."""
    with sessions().begin() as session:
        yield session


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print an error that names what is wrong and return the exit to raise."""
    errors.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)
