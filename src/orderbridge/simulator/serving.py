"""Serving a sandbox on a real port of 127.0.0.1 from a background thread (for `run`, tests, benches)."""

from __future__ import annotations

import socket
import threading
from pathlib import Path
from types import TracebackType

import uvicorn

from orderbridge.simulator.app import Sandbox, create_app


class ServedSandbox:
    """uvicorn serving `sandbox` in a daemon thread; the socket is bound before the thread starts, so
    early connections wait in its backlog and nobody needs to poll for start-up."""

    def __init__(
        self, sandbox: Sandbox, *, port: int = 0, certificate: tuple[Path, Path] | None = None
    ) -> None:
        self.sandbox = sandbox
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]
        self.scheme = "https" if certificate else "http"
        config = uvicorn.Config(
            create_app(sandbox),
            log_level="warning",
            timeout_graceful_shutdown=1,
            ssl_certfile=str(certificate[0]) if certificate else None,
            ssl_keyfile=str(certificate[1]) if certificate else None,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True, name="sandbox"
        )

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> ServedSandbox:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServedSandbox:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
