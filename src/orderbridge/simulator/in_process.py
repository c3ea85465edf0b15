"""A synchronous httpx transport into the sandbox's ASGI app in this process: tests and benchmarks talk
to the sandbox without a socket, through the same client code that talks to Amazon.

A connection the sandbox resets mid-response reaches the client as httpx.RemoteProtocolError, as it
would over a socket, unless `propagate` lets the sandbox's own exception through (for tests of which
fault fired). With `raw`, bodies stay as sent on the wire (still gzip-encoded, say).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx


class InProcessTransport(httpx.BaseTransport):
    def __init__(self, app: Any, *, raw: bool = False, propagate: bool = False) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._raw, self._propagate = raw, propagate

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return asyncio.run(self._send(request, request.read()))

    async def _send(self, request: httpx.Request, body: bytes) -> httpx.Response:
        forwarded = httpx.Request(request.method, request.url, headers=request.headers, content=body)
        try:
            response = await self._asgi.handle_async_request(forwarded)
            if self._raw:
                content = b"".join([chunk async for chunk in response.aiter_raw()])
            else:
                content = await response.aread()
        except ConnectionResetError as error:
            if self._propagate:
                raise
            raise httpx.RemoteProtocolError(str(error), request=request) from error
        return httpx.Response(response.status_code, headers=response.headers, content=content)
