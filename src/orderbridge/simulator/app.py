"""The sandbox ASGI app: routing, LWA, authentication, quotas, faults and the call log per operation."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import Response

from orderbridge.simulator import inbound, lifecycle
from orderbridge.simulator.clock import VirtualClock
from orderbridge.simulator.errors import SandboxError, forbidden, quota_exceeded
from orderbridge.simulator.faults import ConnectionResetFault, Faults
from orderbridge.simulator.quotas import CallLog, CallRecord, Quotas
from orderbridge.simulator.routing import Ctx, Route, json_response
from orderbridge.simulator.tokens import Tokens
from orderbridge.simulator.world import World

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ADMIN_PREFIX = "/_sandbox"
log = logging.getLogger(__name__)


class Sandbox:
    """All state behind the app: world, clock, tokens, quotas, faults, call log and the APIs' stores."""

    def __init__(
        self,
        world: World | None = None,
        *,
        clock: VirtualClock | None = None,
        seed: int = 0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        from orderbridge.simulator.feeds import FeedStore
        from orderbridge.simulator.orders_api import PageTokens
        from orderbridge.simulator.reports import ReportStore

        world = world or World(now=float(int(time.time())), seed=seed)
        self.clock = clock or VirtualClock(world.now)
        self.tokens = Tokens()
        self.quotas = Quotas()
        self.faults = Faults(seed)
        self.calls = CallLog()
        self.sleep = sleep
        self.pages = PageTokens()
        self.reports = ReportStore()
        self.feeds = FeedStore()
        self.world = world
        self.load(world)

    def load(self, world: World) -> None:
        """Replace the world (admin load); the clock jumps to the world's `now`."""
        lifecycle.register(world)
        inbound.register(world)
        self.reports.attach(world)
        self.feeds.attach(world)
        self.world = world
        self.clock.set(world.now)
        self.pages.clear()

    def sync(self) -> float:
        """Bring the world up to the clock's time, running due events; returns now."""
        now = self.clock.now()
        due = self.world.next_due()
        if now > self.world.now or (due is not None and due <= now):
            self.world.catch_up(now)
        return self.world.now

    def advance(self, seconds: float) -> float:
        self.clock.advance(seconds)
        return self.sync()


class SandboxApp:
    """A small ASGI dispatcher: Amazon paths get auth -> quota -> faults -> handler; admin paths do not."""

    def __init__(self, sandbox: Sandbox, routes: list[Route]) -> None:
        self.sandbox = sandbox
        self.routes = routes

    def match(self, method: str, path: str) -> tuple[Route | None, dict[str, str], bool]:
        path_known = False
        for route in self.routes:
            found = route.pattern.match(path)
            if found:
                path_known = True
                if route.method == method:
                    return route, found.groupdict(), True
        return None, {}, path_known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        route, params, path_known = self.match(request.method, scope["path"])
        if route is None:
            error = SandboxError(
                405 if path_known else 404,
                "NotFound" if not path_known else "MethodNotAllowed",
                "Resource not found" if not path_known else "Method not allowed",
            )
            await json_response(error.body(), error.status)(scope, receive, send)
            return
        ctx = Ctx(self.sandbox, request, params)
        if route.admin or route.operation == "lwa.token":
            self.sandbox.sync()
            response = await route.handler(ctx)
        else:
            response, reset = await self._amazon(route, ctx)
            if reset:
                await self._reset(send)
        await response(scope, receive, send)

    async def _amazon(self, route: Route, ctx: Ctx) -> tuple[Response, bool]:
        sandbox = self.sandbox
        now = sandbox.sync()
        request_id = str(uuid.uuid4())
        headers = {"x-amzn-RequestId": request_id}
        seller_id, reset = "", False
        try:
            ctx.principal = sandbox.tokens.authenticate(
                ctx.request.headers.get("x-amz-access-token"), route.method, ctx.request.url.path, now
            )
            seller_id = ctx.principal.seller_id
            if seller_id not in sandbox.world.accounts:  # a token from before another world was loaded
                raise forbidden("The access token you provided is revoked, malformed or invalid.")
            if not sandbox.quotas.take(seller_id, route.operation, now):
                # SPAPI.md §3.2: 429 has Amazon's QuotaExceeded body and no x-amzn-RateLimit-Limit.
                raise quota_exceeded()
            latency, reset = sandbox.faults.before_handler(route.operation)
            if latency:
                await sandbox.sleep(latency)
            # A reset comes after the handler ran: the change happened but its answer is lost, the case
            # that makes clients prove their retries idempotent.
            response = await route.handler(ctx)
            if response.status_code < 300:
                headers["x-amzn-RateLimit-Limit"] = sandbox.quotas.rate_header(route.operation)
        except SandboxError as error:
            response = json_response(error.body(), error.status)
            if error.error_type:
                headers["x-amzn-ErrorType"] = error.error_type
            if error.status in (400, 404):
                headers["x-amzn-RateLimit-Limit"] = sandbox.quotas.rate_header(route.operation)
        except Exception:  # a sandbox bug still answers like Amazon, and is logged with its traceback
            log.exception("sandbox: %s failed", route.operation)
            failure = SandboxError(
                500, "InternalFailure", "We encountered an internal error. Please try again."
            )
            response = json_response(failure.body(), failure.status)
        response.headers.update(headers)
        status = 0 if reset else response.status_code  # 0: the connection was reset
        sandbox.calls.record(CallRecord(now, route.operation, seller_id, status, request_id))
        return response, reset

    async def _reset(self, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"', "more_body": True})
        raise ConnectionResetFault("sandbox fault: connection reset by peer")


async def _lwa_token(ctx: Ctx) -> Response:
    form = dict(parse_qsl((await ctx.request.body()).decode()))
    status, body = ctx.sandbox.tokens.exchange(ctx.sandbox.world, form, ctx.now)
    ctx.sandbox.calls.record(CallRecord(ctx.now, "lwa.token", "", status, ""))
    return json_response(body, status, headers={"Cache-Control": "no-store"})


def create_app(sandbox: Sandbox | None = None) -> SandboxApp:
    """The ASGI app for a sandbox (a fresh empty one if none is given); `app.sandbox` reaches its state."""
    from orderbridge.simulator import (
        admin,
        feeds,
        inbound,
        listings,
        orders_api,
        orders_v0,
        reports,
        tokens,
    )

    sandbox = sandbox or Sandbox()
    routes = [Route("POST", "/auth/o2/token", "lwa.token", _lwa_token)]
    for module in (orders_api, orders_v0, tokens, reports, inbound, listings, feeds, admin):
        routes.extend(module.routes())
    return SandboxApp(sandbox, routes)
