"""Serving the web app with uvicorn from a background thread of `orderbridge run` (and tests, benches)."""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from orderbridge.web.tls import Listening, server_context


class ServedWeb:
    """uvicorn serving `app` as `listening` says; the socket is bound before the thread starts."""

    def __init__(self, app: FastAPI, listening: Listening) -> None:
        self.listening = listening
        family = socket.AF_INET6 if ":" in listening.host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((listening.host, listening.port))
        self.sock.listen(128)
        self.port: int = self.sock.getsockname()[1]
        cert = listening.certificate
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=2,
            ssl_certfile=str(cert[0]) if cert else None,
            ssl_keyfile=str(cert[1]) if cert else None,
            proxy_headers=bool(listening.proxy_ips),
            forwarded_allow_ips=list(listening.proxy_ips) or None,
        )
        config.load()
        if cert is not None:
            config.ssl = server_context(cert)  # uvicorn's own context allows older TLS versions
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True, name="web"
        )

    @property
    def url(self) -> str:
        scheme = "https" if self.listening.certificate else "http"
        host = f"[{self.listening.host}]" if ":" in self.listening.host else self.listening.host
        return f"{scheme}://{host}:{self.port}"

    def start(self) -> ServedWeb:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)

    def __enter__(self) -> ServedWeb:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()
