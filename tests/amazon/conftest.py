"""Fixtures for the Amazon adapter: the sandbox in-process, its virtual clock, a store for the quotas, a
book world on the sandbox and a real SMTP server (for the report and FBA flows)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from orderbridge.amazon.accounts import Credentials
from orderbridge.amazon.api.calls import CallLog
from orderbridge.amazon.api.client import SpApiClient
from orderbridge.amazon.api.quotas import QuotaLimiter
from orderbridge.db import make_engine, session_factory
from orderbridge.notify.mail import MailSettings
from orderbridge.simulator import worldfile
from orderbridge.simulator.app import Sandbox, create_app
from orderbridge.simulator.clock import VirtualClock
from orderbridge.simulator.in_process import InProcessTransport
from orderbridge.simulator.serving import ServedSandbox
from orderbridge.simulator.world import SellerAccount as SandboxSeller
from tests.notify.smtp_server import Inbox, smtp_server
from tests.simulator.sandbox_helpers import small_world

if TYPE_CHECKING:
    from tests.e2e.sync_world import SyncWorld

BASE = "http://sandbox.local"


@dataclass
class VirtualTime:
    """The sandbox's clock as the client sees it; sleeping advances it (tests never really sleep)."""

    sandbox: Sandbox
    slept: list[float] = field(default_factory=list)
    on_sleep: Callable[[float], None] | None = None

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.sandbox.clock.now(), UTC)

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        self.sandbox.advance(seconds)


@pytest.fixture(scope="session")
def world_data() -> dict[str, Any]:
    return worldfile.dump(small_world())


@pytest.fixture
def sandbox(world_data: dict[str, Any]) -> Sandbox:
    world = worldfile.load(copy.deepcopy(world_data))
    return Sandbox(world, clock=VirtualClock(world.now, speed=0.0))


@pytest.fixture
def transport(sandbox: Sandbox) -> InProcessTransport:
    return InProcessTransport(create_app(sandbox))


@pytest.fixture
def vtime(sandbox: Sandbox) -> VirtualTime:
    return VirtualTime(sandbox)


@pytest.fixture
def na_seller(sandbox: Sandbox) -> SandboxSeller:
    return next(a for a in sandbox.world.accounts.values() if a.region == "NA")


def sandbox_credentials(seller: SandboxSeller, **changes: Any) -> Credentials:
    values: dict[str, Any] = {
        "selling_partner_id": seller.seller_id,
        "region": seller.region,
        "lwa_client_id": seller.client_id,
        "client_secret": seller.client_secret,
        "refresh_token": seller.refresh_token,
        "marketplace_ids": tuple(seller.marketplace_ids),
        "endpoint": BASE,
        "token_url": f"{BASE}/auth/o2/token",
    }
    values.update(changes)
    return Credentials(**values)


@pytest.fixture
def quota_sessions(fresh_store_url: str) -> Iterator[sessionmaker[Session]]:
    """Sessions on a fresh migrated SQLite store, for buckets and the call log that commit."""
    engine = make_engine(fresh_store_url)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def live_sandbox_url(sandbox: Sandbox) -> Iterator[str]:
    """The sandbox served by uvicorn on a real port of 127.0.0.1 (plain http), in a background thread."""
    with ServedSandbox(sandbox) as served:
        yield served.url


@pytest.fixture
def make_client(
    transport: InProcessTransport,
    vtime: VirtualTime,
    quota_sessions: sessionmaker[Session],
    na_seller: SandboxSeller,
) -> Iterator[Callable[..., SpApiClient]]:
    """A client for a sandbox seller (NA by default) on the virtual clock; keywords override anything."""
    made: list[SpApiClient] = []

    def make(
        seller: SandboxSeller | None = None, creds: Credentials | None = None, **options: Any
    ) -> SpApiClient:
        settings: dict[str, Any] = {
            "quotas": QuotaLimiter(quota_sessions, clock=vtime.now),
            "clock": vtime.now,
            "sleep": vtime.sleep,
            "transport": transport,
            "calls": CallLog(),
        }
        settings.update(options)
        client = SpApiClient(creds or sandbox_credentials(seller or na_seller), **settings)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def world(fresh_store_url: str, sandbox: Sandbox, tmp_path: Path) -> Iterator[SyncWorld]:
    from tests.e2e.sync_world import open_world  # it builds on this module's sandbox helpers

    engine = make_engine(fresh_store_url)
    opened = open_world(session_factory(engine), sandbox, tmp_path)
    yield opened
    engine.dispose()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, MailSettings]]:
    with smtp_server() as running:
        yield running
