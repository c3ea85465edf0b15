"""Jinja2 templates for the pages: `render` adds the principal, CSRF token, banners and navigation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from orderbridge.web.deps import CSRF_FIELD, csrf_token
from orderbridge.web.roles import Permission

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# The navigation of base.html: (label, path, permission needed). Pages add themselves here.
NAVIGATION: list[tuple[str, str, Permission]] = [
    ("Dashboard", "/", Permission.ORDERS_READ),
    ("Orders", "/orders", Permission.ORDERS_READ),
    ("Contacts", "/contacts", Permission.CONTACTS_READ),
    ("Products", "/products", Permission.CATALOG_READ),
    ("Listings", "/listings", Permission.CATALOG_READ),
    ("Stock", "/stock", Permission.STOCK_READ),
    ("Returns", "/returns", Permission.ORDERS_READ),
    ("Inbound", "/inbound", Permission.STOCK_READ),
    ("Settlements", "/settlements", Permission.ORDERS_READ),
    ("Outbox", "/outbox", Permission.ORDERS_READ),
    ("Channels", "/channels", Permission.SETTINGS_READ),
    ("Privacy", "/privacy", Permission.PRIVACY_READ),
    ("Audit log", "/audit", Permission.AUDIT_READ),
    ("Compliance", "/compliance", Permission.COMPLIANCE_READ),
    ("Users", "/users", Permission.USERS_MANAGE),
    ("API", "/api/v1/docs", Permission.ORDERS_READ),
]

templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["Permission"] = Permission
templates.env.globals["csrf_field"] = CSRF_FIELD


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status_code: int = 200
) -> HTMLResponse:
    """Render a page extending base.html, with `user`, `principal`, `csrf_token`, `banners` and `nav`."""
    principal = getattr(request.state, "principal", None)
    values: dict[str, Any] = {
        "principal": principal,
        "user": principal.user if principal is not None else None,
        "csrf_token": csrf_token(request),
        "banners": list(principal.banners) if principal is not None else [],
        "nav": [(label, path) for label, path, need in NAVIGATION if principal and principal.can(need)],
        "path": request.url.path,
    }
    values.update(context or {})
    return templates.TemplateResponse(request, name, values, status_code=status_code)
