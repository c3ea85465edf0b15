"""Fixtures for the sandbox tests: a small seeded world, an in-process client, LWA-authenticated callers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from orderbridge.simulator import worldfile
from orderbridge.simulator.app import Sandbox, create_app
from orderbridge.simulator.clock import VirtualClock
from tests.simulator.sandbox_helpers import Api, in_process_client, small_world


@pytest.fixture(scope="session")
def base_world_json() -> str:
    return json.dumps(worldfile.dump(small_world()))


@pytest.fixture
def base_world_data(base_world_json: str) -> dict[str, Any]:
    return dict(json.loads(base_world_json))


@pytest.fixture
def sandbox(base_world_json: str) -> Sandbox:
    world = worldfile.load(json.loads(base_world_json))  # a fresh copy per test, cheaper than deepcopy
    return Sandbox(world, clock=VirtualClock(world.now, speed=0.0))


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with in_process_client(create_app(sandbox)) as test_client:
        yield test_client


@pytest.fixture
def na(client: httpx.Client, sandbox: Sandbox) -> Api:
    account = next(a for a in sandbox.world.accounts.values() if a.region == "NA")
    return Api(client, sandbox, account)


@pytest.fixture
def eu(client: httpx.Client, sandbox: Sandbox) -> Api:
    account = next(a for a in sandbox.world.accounts.values() if a.region == "EU")
    return Api(client, sandbox, account)
