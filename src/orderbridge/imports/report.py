"""What an import did: how many rows created, changed or left unchanged; and the per-row progress hook."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

# Called once per row applied, so that a caller can show progress on big files.
Tick = Callable[[], None]


def no_tick() -> None:
    """The progress hook that shows nothing."""


@dataclass
class ImportReport:
    """Counts of one import. A second run of the same file reports every row unchanged."""

    kind: str
    source: str
    rows: int = 0
    created: int = 0
    changed: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return (
            f"{self.kind} from {self.source}: {self.rows} row(s) read, {self.created} created, "
            f"{self.changed} changed, {self.unchanged} unchanged"
        )
