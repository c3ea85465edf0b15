"""FBA tests: the sandbox fixtures of tests/amazon, a book world on it and a real SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from orderbridge.db import make_engine, session_factory
from orderbridge.notify.mail import MailSettings
from orderbridge.simulator.app import Sandbox
from tests.amazon.conftest import sandbox, world_data
from tests.e2e.sync_world import SyncWorld, open_world
from tests.notify.smtp_server import Inbox, smtp_server

__all__ = ["sandbox", "world_data"]


@pytest.fixture
def world(fresh_store_url: str, sandbox: Sandbox, tmp_path: Path) -> Iterator[SyncWorld]:
    engine = make_engine(fresh_store_url)
    opened = open_world(session_factory(engine), sandbox, tmp_path)
    yield opened
    engine.dispose()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, MailSettings]]:
    with smtp_server() as running:
        yield running
