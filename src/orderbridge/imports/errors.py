"""Errors of the imports: a rejected file carries every problem found, each naming its line and column."""

from __future__ import annotations

from dataclasses import dataclass

from orderbridge.errors import OrderbridgeError


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file: where (line, column) and what, with the offending value."""

    line: int
    column: str | None
    message: str
    value: str | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
        shown = f" ({self.value})" if self.value not in (None, "") else ""
        return f"{where}: {self.message}{shown}"


class ImportRejectedError(OrderbridgeError):
    """The file has problems, so nothing of it was imported."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        ordered = sorted(problems, key=lambda p: p.line)
        super().__init__(f"{source}: {len(ordered)} problem(s); nothing was imported")
        self.source = source
        self.problems = ordered


def reject_if_any(source: str, problems: list[Problem]) -> None:
    """Raise ImportRejectedError when any problem was found."""
    if problems:
        raise ImportRejectedError(source, problems)
