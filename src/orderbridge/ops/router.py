"""GET /metrics, /healthz and /readyz for the web app to mount: `app.include_router(ops_router(sources))`.

The figures come from plain functions (`metrics_text`, `check`); this router only answers HTTP.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from orderbridge.ops.health import check
from orderbridge.ops.metrics import CONTENT_TYPE, metrics_text
from orderbridge.ops.sources import Sources


def ops_router(sources: Sources | Callable[[], Sources], *, guarded: Sequence[Any] = ()) -> APIRouter:
    """The routes; `sources` may be a factory, called at the first request (after the app started).

    `guarded`: dependencies (e.g. a permission check) for /metrics and /readyz; /healthz stays open.
    """
    router = APIRouter(tags=["operations"])
    made: list[Sources] = []

    def current() -> Sources:
        if not made:
            made.append(sources if isinstance(sources, Sources) else sources())
        return made[0]

    @router.get("/metrics", include_in_schema=False, dependencies=list(guarded))
    def metrics() -> Response:
        return PlainTextResponse(metrics_text(current()), media_type=CONTENT_TYPE)

    @router.get("/healthz", include_in_schema=False)
    def alive() -> Response:
        return JSONResponse({"status": "ok"})

    @router.get("/readyz", include_in_schema=False, dependencies=list(guarded))
    def ready() -> Response:
        health = check(current())
        return JSONResponse(
            {"status": "ok" if health.ok else "failing", "checks": health.checks},
            status_code=200 if health.ok else 503,
        )

    return router
