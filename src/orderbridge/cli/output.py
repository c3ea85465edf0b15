"""How commands show results: Rich tables for people, JSON for scripts, problems on stderr, progress bars."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from orderbridge.book.errors import BookError
from orderbridge.book.money import round_money
from orderbridge.cli.context import console, errors, fail
from orderbridge.imports.errors import ImportRejectedError

T = TypeVar("T")

# Files with at least this many rows get a progress bar (on stderr, so --json output stays clean).
BIG_FILE_ROWS = 500


def _jsonable(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def print_json(data: object) -> None:
    """Machine-readable output on stdout: Decimals as strings, times as ISO 8601."""
    typer.echo(json.dumps(data, default=_jsonable, indent=2, ensure_ascii=False))


def print_table(
    title: str, columns: list[str], rows: list[list[Any]], *, right: frozenset[str] = frozenset()
) -> None:
    """A Rich table; `right` names the numeric columns to right-align. Empty values print as a dash."""
    if not rows:
        console.print(f"(no {title.lower()})", highlight=False)
        return
    table = Table(*columns, title=title, title_justify="left")
    for name in right:
        table.columns[columns.index(name)].justify = "right"
    for row in rows:
        # Cells are data, never markup: "[protected]" or "[Redacted]" must print as written.
        table.add_row(*("-" if cell is None or cell == "" else escape(str(cell)) for cell in row))
    console.print(table)


def money(amount: Decimal, currency: str) -> Decimal:
    """An amount as the currency writes it (12.9900 -> 12.99), unless that would drop a digit."""
    rounded = round_money(amount, currency)
    return rounded if rounded == amount else amount.normalize()


def checked(what: str, parse: Callable[[str], T], text: str) -> T:
    """`text` parsed by the same rule an import applies, or exit 1 naming the value and what is wrong."""
    try:
        return parse(text)
    except ValueError as error:
        raise fail(f"{what} {text!r} {error}") from None


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


@contextmanager
def reported_errors() -> Iterator[None]:
    """Turn a rejected import or a refused book command into its message on stderr and exit code 1."""
    try:
        yield
    except ImportRejectedError as error:
        leave = fail(str(error))
        for problem in error.problems:
            errors.print(f"  {problem}", highlight=False, markup=False)
        raise leave from None
    except BookError as error:
        raise fail(str(error)) from None


@contextmanager
def row_progress(label: str, total: int) -> Iterator[Callable[[], None]]:
    """A per-row tick that drives a progress bar on stderr when the file is big (and a terminal shows it)."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
        disable=total < BIG_FILE_ROWS,
    ) as progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)
