"""The root Typer app and its sub-commands."""

from __future__ import annotations

import typer

from orderbridge.book.errors import BookError
from orderbridge.cli import database
from orderbridge.cli.context import fail

app = typer.Typer(help="orderbridge: the order and inventory book for Amazon sellers.", no_args_is_help=True)
app.add_typer(database.app, name="db")


@app.command()
def run() -> None:
    """Start orderbridge: apply migrations and show what the book holds (grows into the full product)."""
    database.upgrade()
    database.summary()


def main() -> None:
    try:
        app()
    except BookError as error:
        raise fail(str(error)) from None
