"""The web app: `create_app` builds the FastAPI application that `orderbridge run` serves.

Layers, outermost first: transport checks (AC-24: plain HTTP only from loopback or the declared TLS
proxy), security headers (no caching: PII is never cached, AC-8), then the app-wide dependencies
`signed_in` and `csrf_protect`, then each router's own permission checks.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute, _iter_routes_with_context
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import BaseRoute

from orderbridge.clock import Clock, utc_now
from orderbridge.config import Settings
from orderbridge.ops.router import ops_router
from orderbridge.ops.sources import Sources, sources_from
from orderbridge.privacy.keystore import KeyStore
from orderbridge.web import auth_pages, compliance, problems
from orderbridge.web.api import router as api_router
from orderbridge.web.deps import CSRF_COOKIE, WebContext, csrf_protect, public, require, signed_in
from orderbridge.web.inputs import refuse_nul_characters
from orderbridge.web.pages import routers as page_routers
from orderbridge.web.roles import Permission
from orderbridge.web.signin import SignInPolicy
from orderbridge.web.templating import STATIC_DIR

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def _loopback(host: str | None) -> bool:
    if host in (None, "testclient", "localhost"):
        return host is not None
    try:
        return ipaddress.ip_address(str(host)).is_loopback
    except ValueError:
        return False


def _transport_refusal(settings: Settings, request: Request) -> str | None:
    """Why this request may not be answered over its transport (AC-24), or None."""
    client = request.client.host if request.client else None
    if request.url.scheme == "https":
        return None
    if settings.web_tls == "proxy":
        return "plain HTTP refused: use https:// through the TLS proxy"
    if not _loopback(client):
        return "plain HTTP is only answered on loopback: use https://"
    return None


def route_table(app: FastAPI) -> list[tuple[str, frozenset[str], BaseRoute]]:
    """Every route with its full path and methods, routers included (tests walk it; the OpenAPI uses it)."""
    table = []
    for route, context in _iter_routes_with_context(app.routes):
        path = context.path if context is not None else getattr(route, "path", "")
        methods = frozenset(getattr(route, "methods", None) or ())
        table.append((path, methods, route))
    return table


def create_app(
    settings: Settings,
    *,
    sessions: sessionmaker[Session],
    keys: KeyStore,
    clock: Clock = utc_now,
    extras: dict[str, Any] | None = None,
    ops_sources: Sources | Callable[[], Sources] | None = None,
) -> FastAPI:
    """The web UI and REST API on the given (sealed) sessions and key store.

    `ops_sources` feeds /metrics and /readyz (default: the settings' quota Redis and broker).
    """
    app = FastAPI(
        title="orderbridge",
        summary="The order and inventory book for Amazon sellers: REST API v1.",
        version="1",
        docs_url=None,  # served signed-in only, from local assets (api/docs.py)
        redoc_url=None,
        openapi_url=None,
        dependencies=[Depends(signed_in), Depends(csrf_protect), Depends(refuse_nul_characters)],
    )
    app.state.web = WebContext(
        settings=settings,
        sessions=sessions,
        keys=keys,
        clock=clock,
        policy=SignInPolicy.from_settings(settings),
        extras=dict(extras or {}),
    )
    problems.install(app)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        refusal = _transport_refusal(settings, request)
        if refusal is not None:
            return JSONResponse(problems.error_body(403, refusal, code="tls_required"), status_code=403)
        response = await call_next(request)
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CSP)
        headers["X-Content-Type-Options"] = "nosniff"
        headers["X-Frame-Options"] = "DENY"
        headers["Referrer-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            headers["Cache-Control"] = "no-store"
        if request.url.scheme == "https":
            headers["Strict-Transport-Security"] = "max-age=31536000"
        fresh = getattr(request.state, "new_csrf_cookie", None)
        if fresh is not None and not request.cookies.get(CSRF_COOKIE):
            response.set_cookie(
                CSRF_COOKIE, fresh, httponly=True, samesite="strict", secure=request.url.scheme == "https"
            )
        return response

    @app.get("/health", include_in_schema=False)
    @public
    def health() -> dict[str, str]:
        """Liveness and the store's reachability; open without sign-in, reveals nothing else."""
        with sessions() as session:
            session.execute(text("SELECT 1"))
        return {"status": "ok"}

    # /healthz is open (a liveness probe); /metrics and /readyz need ops:read (a session or a scoped token).
    ops = ops_router(
        ops_sources or (lambda: sources_from(settings, sessions)),
        guarded=[require(Permission.OPS_READ)],
    )
    for route in ops.routes:
        if isinstance(route, APIRoute) and route.path == "/healthz":
            public(route.endpoint)
    app.include_router(ops)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(auth_pages.router)
    app.include_router(api_router)
    app.include_router(compliance.router)
    for router in page_routers:
        app.include_router(router)
    return app
