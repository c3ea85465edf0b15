"""`orderbridge run` as a seller starts it: a process of its own with the web UI on a free port, the bundled
sandbox as Amazon and the embedded scheduler's jobs, on a store and a data folder made for one test.

Its output goes to files that the test reads: stdout (what each job did), stderr (the server log: the
web's and the jobs' logging records, with any traceback). Everything waits by bounded polling of those
files or of the store, never by sleeping a guessed time.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

SRC = Path(__file__).resolve().parents[3] / "src"
CLI = "from orderbridge.cli import main; main()"
T = TypeVar("T")


class NotInTime(AssertionError):
    """A bounded wait ran out: the state the test waited for never came."""


def wait_for(what: str, probe: Callable[[], T | None], *, timeout: float, every: float = 0.25) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    pause = threading.Event()  # never set: its wait is the pause between two looks
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() >= deadline:
            raise NotInTime(f"waited {timeout:g} s for {what}")
        pause.wait(every)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_environment(folder: Path, store_url: str, web_port: int, time_zone: str) -> dict[str, str]:
    """The installation's settings as environment variables, every path in `folder`."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ORDERBRIDGE_")}
    environ.update(
        PYTHONPATH=str(SRC),
        COLUMNS="200",
        ORDERBRIDGE_CONFIG=str(folder / "none.toml"),
        ORDERBRIDGE_DATABASE_URL=store_url,
        ORDERBRIDGE_DATA_DIR=str(folder / "data"),
        ORDERBRIDGE_KEY_STORE_DIR=str(folder / "keystore"),
        ORDERBRIDGE_KEK_FILE=str(folder / "secrets" / "kek"),
        ORDERBRIDGE_ARCHIVE_DIR=str(folder / "archive"),
        ORDERBRIDGE_ARCHIVE_PUBLIC_KEY_FILE=str(folder / "archive.pub"),
        ORDERBRIDGE_WEB_PORT=str(web_port),
        ORDERBRIDGE_TIME_ZONE=time_zone,
        ORDERBRIDGE_MODE="embedded",
    )
    return environ


@dataclass
class Running:
    """A running `orderbridge run`; `stop()` interrupts it as Ctrl-C does and waits (bounded) for it."""

    process: subprocess.Popen[bytes]
    folder: Path
    environ: dict[str, str]
    web_url: str = ""
    sandbox_url: str = ""
    stopped: bool = field(default=False)

    @property
    def stdout(self) -> str:
        return (self.folder / "run.out").read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return (self.folder / "run.err").read_text(encoding="utf-8", errors="replace")

    def printed(self, pattern: str) -> str | None:
        """The first group of `pattern` in what run printed so far (None: not printed yet)."""
        found = re.search(pattern, self.stdout)
        if found is None and self.process.poll() is not None:
            raise AssertionError(f"orderbridge run exited {self.process.returncode}:\n{self.log()}")
        return found.group(1) if found else None

    def cli(self, *args: str) -> str:
        """Another `orderbridge` command on the same installation (as a seller types it beside run)."""
        done = subprocess.run(
            [sys.executable, "-c", CLI, *args],
            env=self.environ,
            cwd=self.folder,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"orderbridge {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def stop(self) -> int:
        if not self.stopped:
            self.stopped = True
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        return int(self.process.returncode)

    def log(self) -> str:
        return f"--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


def start_run(folder: Path, store_url: str, *, time_zone: str, orders_per_day: float = 200) -> Running:
    """Start `orderbridge run` (sandbox at x60, as `make run` does) and wait until web and sandbox answer."""
    folder.mkdir(parents=True, exist_ok=True)
    environ = run_environment(folder, store_url, free_port(), time_zone)
    with (folder / "run.out").open("wb") as out, (folder / "run.err").open("wb") as err:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                CLI,
                "run",
                "--sandbox-port",
                "0",
                "--sandbox-orders-per-day",
                f"{orders_per_day:g}",
            ],
            env=environ,
            cwd=folder,
            stdout=out,
            stderr=err,
        )
    running = Running(process, folder, environ)
    try:
        running.web_url = wait_for(
            "the web server", lambda: running.printed(r"web: (http://\S+) "), timeout=60
        )
        running.sandbox_url = wait_for(
            "the sandbox", lambda: running.printed(r"sandbox: SP-API at (http://\S+) "), timeout=60
        )
    except BaseException:
        running.stop()
        raise
    return running
