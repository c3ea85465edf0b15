"""The API's own resources: who am I, the OpenAPI document and its documentation page."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from orderbridge.web.deps import CurrentUser
from orderbridge.web.templating import render

router = APIRouter(tags=["meta"])


class Me(BaseModel):
    username: str
    role: str
    permissions: list[str]
    channel: str


@router.get("/me", summary="The signed-in user or token holder and its permissions")
def me(principal: CurrentUser) -> Me:
    return Me(
        username=principal.user.username,
        role=principal.user.role,
        permissions=sorted(p.value for p in principal.permissions),
        channel=principal.channel,
    )


def openapi_document(request: Request) -> dict[str, Any]:
    app = request.app
    if app.openapi_schema is None:
        app.openapi_schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=app.routes,
            description="Authenticate with `Authorization: Bearer obt_...` (see `orderbridge tokens add`) "
            "or a signed-in browser session (state-changing requests then need the X-CSRF-Token header).",
        )
        paths = app.openapi_schema["paths"]
        app.openapi_schema["paths"] = {
            path: ops for path, ops in paths.items() if path.startswith("/api/v1/")
        }
        app.openapi_schema["components"].setdefault("securitySchemes", {})["token"] = {
            "type": "http",
            "scheme": "bearer",
        }
        app.openapi_schema["security"] = [{"token": []}]
        _document_errors(app.openapi_schema)
    document: dict[str, Any] = app.openapi_schema
    return document


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["status", "code", "message", "fields"],
            "properties": {
                "status": {"type": "integer"},
                "code": {
                    "type": "string",
                    "description": "invalid, unauthorized, forbidden, not_found, csrf...",
                },
                "message": {"type": "string"},
                "fields": {
                    "type": "array",
                    "description": "The fields at fault, e.g. query.size or body.reference.",
                    "items": {
                        "type": "object",
                        "required": ["field", "message"],
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}
_ERRORS = {
    "401": "Not signed in, or the token is unknown, expired or revoked",
    "403": "The role or token lacks the permission (or a browser request lacks its CSRF token)",
    "404": "No such record",
    "409": "The book refuses the change in the record's present state",
    "422": "A parameter or body field is invalid (named in `fields`)",
}


def _document_errors(document: dict[str, Any]) -> None:
    """Every operation's error answers as the one error body (FastAPI's own 422 shape is replaced)."""
    schemas = document["components"].setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas["Error"] = ERROR_SCHEMA
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for operations in document["paths"].values():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, description in _ERRORS.items():
                responses[status] = {"description": description, "content": body}


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, principal: CurrentUser) -> dict[str, Any]:
    return openapi_document(request)


@router.get("/docs", include_in_schema=False, response_class=HTMLResponse)
def docs(request: Request, principal: CurrentUser) -> HTMLResponse:
    return render(request, "api_docs.html", {"spec": openapi_document(request)})
