"""What every step of a sweep shares: its settings, its report, its transactions and batch hooks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.clock import Clock
from orderbridge.privacy.archive import ArchiveWriter
from orderbridge.privacy.sealing import Privacy
from orderbridge.privacy.sweep.forgetting import SecureTransaction

Progress = Callable[[str, int, int], None]
"""(phase, done, total): called after each batch."""


@dataclass
class SweepReport:
    """What one sweep did (or, dry, would do)."""

    dry_run: bool
    sealed: int = 0
    orders: int = 0
    contacts: int = 0
    archived: int = 0
    archive_files: set[str] = field(default_factory=set)
    keys_destroyed: list[str] = field(default_factory=list)
    keys_kept: list[str] = field(default_factory=list)
    keys_rolled: list[str] = field(default_factory=list)
    rekeyed: int = 0
    old_orders_deleted: int = 0
    old_contacts_deleted: int = 0
    names_indexed: int = 0
    other_records: int = 0
    problems: list[str] = field(default_factory=list)


@dataclass
class SweepContext:
    """One sweep's settings and hooks, handed to each step."""

    sessions: sessionmaker[Session]
    privacy: Privacy
    archive: ArchiveWriter | None
    clock: Clock
    actor: str = "job:sweep"
    batch_size: int = 2000
    progress: Progress | None = None
    between_batches: Callable[[int], None] | None = None
    batches: int = 0

    def transaction(self) -> SecureTransaction:
        return SecureTransaction(self.sessions)

    def engine(self) -> Engine:
        bind = self.sessions.kw.get("bind")
        assert isinstance(bind, Engine), "the sweep needs a session factory bound to an engine"
        return bind

    def after_batch(self, phase: str, done: int, total: int) -> None:
        self.batches += 1
        if self.progress is not None:
            self.progress(phase, done, total)
        if self.between_batches is not None:
            self.between_batches(self.batches)
