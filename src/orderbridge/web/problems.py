"""Error answers: one JSON body for every API error (naming the field at fault), pages for browsers.

API error body: ``{"error": {"status": 422, "code": "invalid", "message": "...",
"fields": [{"field": "query.limit", "message": "..."}]}}``; `fields` is empty when no field is at fault.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from orderbridge.book.errors import InvalidValueError, NotFoundError
from orderbridge.db import BUSY_MESSAGE, is_busy
from orderbridge.errors import OrderbridgeError
from orderbridge.web.deps import CsrfRefused, Forbidden, NotSignedIn
from orderbridge.web.signin import STAGE_PASSWORD

log = logging.getLogger(__name__)
API_PREFIX = "/api/"
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    422: "invalid",
    500: "internal_error",
    503: "busy",
}
# Seconds a client is asked to wait after a lock wait ran out: writers commit in short chunks.
BUSY_RETRY_AFTER = 5


class ApiError(OrderbridgeError):
    """An API answer other than success, raised by endpoints: status, message and the field at fault."""

    def __init__(
        self, status: int, message: str, *, field: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.code = code or _CODES.get(status, "error")


def error_body(
    status: int, message: str, *, fields: list[dict[str, str]] | None = None, code: str | None = None
) -> dict[str, Any]:
    return {
        "error": {
            "status": status,
            "code": code or _CODES.get(status, "error"),
            "message": message,
            "fields": fields or [],
        }
    }


def is_api(request: Request) -> bool:
    return request.url.path.startswith(API_PREFIX)


def _json(
    status: int,
    message: str,
    *,
    fields: list[dict[str, str]] | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(status, message, fields=fields, code=code), status_code=status, headers=headers
    )


def _page(request: Request, status: int, message: str, *, headers: dict[str, str] | None = None) -> Response:
    from orderbridge.web.templating import render

    response = render(request, "error.html", {"status": status, "message": message}, status_code=status)
    response.headers.update(headers or {})
    return response


def _crashed(request: Request, error: Exception) -> Response:
    log.error("unhandled %s on %s %s", type(error).__name__, request.method, request.url.path, exc_info=error)
    message = "internal error: the administrator can find it in the server log"
    return _json(500, message) if is_api(request) else _page(request, 500, message)


def _field_name(location: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(part) for part in location]
    if parts and parts[0] == "body" and len(parts) > 1:
        parts = parts[1:]
        return ".".join(parts)
    return ".".join(parts) or "(request)"


def _validation_fields(error: RequestValidationError) -> list[dict[str, str]]:
    fields = []
    for item in error.errors():
        message = str(item.get("msg", "invalid"))
        fields.append({"field": _field_name(item.get("loc", ())), "message": message})
    return fields


def install(app: FastAPI) -> None:
    """Register the handlers on the app."""

    @app.exception_handler(NotSignedIn)
    async def not_signed_in(request: Request, error: NotSignedIn) -> Response:
        if is_api(request):
            return _json(
                401,
                "sign in or send an API token: Authorization: Bearer obt_...",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if error.stage == STAGE_PASSWORD:
            return RedirectResponse("/login/second-factor", status_code=303)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, error: Forbidden) -> Response:
        message = f"your role does not allow this: it needs the {error.permission.value} permission"
        return _json(403, message) if is_api(request) else _page(request, 403, message)

    @app.exception_handler(CsrfRefused)
    async def csrf_refused(request: Request, error: CsrfRefused) -> Response:
        message = str(error)
        if is_api(request):
            return _json(
                403, message, code="csrf", fields=[{"field": "header.X-CSRF-Token", "message": message}]
            )
        return _page(request, 403, message)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> Response:
        fields = _validation_fields(error)
        message = "; ".join(f"{f['field']}: {f['message']}" for f in fields) or "invalid request"
        return _json(422, message, fields=fields) if is_api(request) else _page(request, 422, message)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError) -> Response:
        fields = [{"field": error.field, "message": error.message}] if error.field else []
        if is_api(request):
            return _json(error.status, error.message, fields=fields, code=error.code)
        return _page(request, error.status, error.message)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> Response:
        message = str(error.detail)
        if is_api(request) or request.url.path.startswith("/static/"):
            return _json(error.status_code, message, headers=getattr(error, "headers", None))
        return _page(request, error.status_code, message)

    @app.exception_handler(OrderbridgeError)
    async def domain_error(request: Request, error: OrderbridgeError) -> Response:
        # A domain refusal: 404 for a missing record, 422 for a bad value, 409 for a wrong state; the
        # domain's own message (never PII).
        status = (
            404 if isinstance(error, NotFoundError) else 422 if isinstance(error, InvalidValueError) else 409
        )
        return _json(status, str(error)) if is_api(request) else _page(request, status, str(error))

    @app.exception_handler(OperationalError)
    async def store_error(request: Request, error: OperationalError) -> Response:
        if not is_busy(error):
            return _crashed(request, error)
        # Another writer (a job, an import, a command) held the lock past the busy timeout: the request's
        # transaction was rolled back whole, so asking again is safe.
        log.warning("store busy past the busy timeout on %s %s", request.method, request.url.path)
        headers = {"Retry-After": str(BUSY_RETRY_AFTER)}
        if is_api(request):
            return _json(503, BUSY_MESSAGE, headers=headers)
        return _page(request, 503, BUSY_MESSAGE, headers=headers)

    @app.exception_handler(Exception)
    async def crashed(request: Request, error: Exception) -> Response:
        return _crashed(request, error)
