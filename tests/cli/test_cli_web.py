"""`orderbridge web`: the web UI and API alone, for installations whose jobs run on Celery workers."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest

from orderbridge.cli import context
from tests.cli.conftest import Run


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_web_serves_the_ui_without_the_jobs_and_says_how_to_sign_in(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = _free_port()
    monkeypatch.setenv("ORDERBRIDGE_WEB_PORT", str(port))
    context.forget()  # the settings were read by the fixture's `db upgrade`

    answers: list[int] = []

    done = threading.Event()

    def probe() -> None:  # asks until the server answers or the command ends: no sleeps
        with httpx.Client(trust_env=False, timeout=5) as client:
            while not done.is_set():
                try:
                    answers.append(client.get(f"http://127.0.0.1:{port}/health").status_code)
                    return
                except httpx.TransportError:
                    continue

    prober = threading.Thread(target=probe)
    prober.start()
    result = run("web", "--for-seconds", "3")
    done.set()
    prober.join()

    assert result.exit_code == 0, result.output
    assert answers == [200]
    assert f"127.0.0.1:{port}" in result.output.replace("\n", "")
    assert "users add" in result.output  # no user yet: the command that creates the first admin
    assert "sync" not in result.output.lower()  # no order sync ran here


def test_web_refuses_plain_http_off_loopback(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORDERBRIDGE_WEB_HOST", "0.0.0.0")
    context.forget()

    result = run("web", "--for-seconds", "0")

    assert result.exit_code == 2
    assert "AC-24" in result.output or "TLS" in result.output
