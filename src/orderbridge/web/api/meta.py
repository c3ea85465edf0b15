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
    from orderbridge.web.app import route_table

    app = request.app
    if app.openapi_schema is None:
        routes = [r for path, _, r in route_table(app) if path.startswith("/api/v1")]
        app.openapi_schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            routes=routes,
            description="Authenticate with `Authorization: Bearer obt_...` (see `orderbridge tokens add`) "
            "or a signed-in browser session (state-changing requests then need the X-CSRF-Token header).",
        )
        app.openapi_schema["components"].setdefault("securitySchemes", {})["token"] = {
            "type": "http",
            "scheme": "bearer",
        }
        app.openapi_schema["security"] = [{"token": []}]
    document: dict[str, Any] = app.openapi_schema
    return document


@router.get("/openapi.json", include_in_schema=False)
def openapi(request: Request, principal: CurrentUser) -> dict[str, Any]:
    return openapi_document(request)


@router.get("/docs", include_in_schema=False, response_class=HTMLResponse)
def docs(request: Request, principal: CurrentUser) -> HTMLResponse:
    return render(request, "api_docs.html", {"spec": openapi_document(request)})
