"""CLI test fixtures: the `orderbridge` app run in-process against a fresh store of each kind."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from typer.testing import CliRunner

from orderbridge.cli import context
from orderbridge.cli.app import app

Run = Callable[..., Result]


def _forget_store() -> None:
    context.forget()  # each test has its own store and key store


@pytest.fixture
def store_url(
    fresh_store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[str]:
    """The fresh store as the CLI's configured store, with statuses created by `db upgrade`."""
    monkeypatch.setenv("ORDERBRIDGE_DATABASE_URL", fresh_store_url)
    monkeypatch.setenv("ORDERBRIDGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ORDERBRIDGE_CONFIG", str(tmp_path / "none.toml"))
    keys = tmp_path_factory.mktemp("keys")  # outside the store's directory, as the key store demands
    monkeypatch.setenv("ORDERBRIDGE_KEY_STORE_DIR", str(keys / "store"))
    monkeypatch.setenv("ORDERBRIDGE_KEK_FILE", str(keys / "kek"))
    monkeypatch.setenv("COLUMNS", "200")
    _forget_store()
    yield fresh_store_url
    _forget_store()


@pytest.fixture
def run(store_url: str) -> Run:
    """Run `orderbridge ARGS...`; the store is upgraded first, as `make run` does."""
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(app, list(args))

    upgraded = invoke("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    return invoke


@pytest.fixture
def csv_file(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write CSV text (each line stripped, so tests can indent it) to a file and return its path."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_text(
            "\n".join(line.strip() for line in text.strip().splitlines()) + "\n", encoding="utf-8"
        )
        return path

    return write


def json_of(result: Result) -> Any:
    """The parsed stdout of a `--json` command that succeeded."""
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
