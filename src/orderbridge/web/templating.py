"""Jinja2 templates for the pages: `render` adds the principal, CSRF token, banners and navigation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from jinja2.runtime import Context
from markupsafe import Markup

from orderbridge.clock import as_utc
from orderbridge.local_time import local
from orderbridge.web.deps import CSRF_FIELD, csrf_token, web_context
from orderbridge.web.roles import Permission

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"

# The navigation of base.html: groups of (label, path, permission needed). Pages add themselves here.
NAVIGATION: list[tuple[str, list[tuple[str, str, Permission]]]] = [
    (
        "Orders",
        [
            ("Orders", "/orders", Permission.ORDERS_READ),
            ("Alerts", "/alerts", Permission.ORDERS_READ),
            ("Returns", "/returns", Permission.ORDERS_READ),
            ("Contacts", "/contacts", Permission.CONTACTS_READ),
        ],
    ),
    (
        "Stock",
        [
            ("Products", "/products", Permission.CATALOG_READ),
            ("Stock", "/stock", Permission.STOCK_READ),
            ("Movements", "/stock/movements", Permission.STOCK_READ),
            ("Inbound", "/inbound", Permission.STOCK_READ),
        ],
    ),
    (
        "Amazon",
        [
            ("Listings", "/listings", Permission.CATALOG_READ),
            ("Quarantine", "/quarantine", Permission.ORDERS_READ),
            ("Outbox", "/outbox", Permission.ORDERS_READ),
            ("Channels", "/channels", Permission.SETTINGS_READ),
        ],
    ),
    ("Money", [("Settlements", "/settlements", Permission.ORDERS_READ)]),
    (
        "Privacy",
        [
            ("Privacy", "/privacy", Permission.PRIVACY_READ),
            ("Audit log", "/audit", Permission.AUDIT_READ),
            ("Compliance", "/compliance", Permission.COMPLIANCE_READ),
        ],
    ),
    (
        "Admin",
        [
            ("Users", "/users", Permission.USERS_MANAGE),
            ("API", "/api/v1/docs", Permission.ORDERS_READ),
        ],
    ),
]


@dataclass(frozen=True)
class NavGroup:
    label: str
    links: list[tuple[str, str]]
    current: bool


def _current(path: str) -> str | None:
    """The menu entry of `path`: the longest entry it is, or lies under."""
    paths = [href for _, links in NAVIGATION for _, href, _ in links]
    under = [href for href in paths if path == href or path.startswith(href.rstrip("/") + "/")]
    return max(under, key=len, default=None)


def navigation(principal: Any, path: str) -> list[NavGroup]:
    """The groups of the menu the principal may open, each with the entries it may open."""
    if principal is None:
        return []
    current = _current(path)
    groups = []
    for label, entries in NAVIGATION:
        links = [(name, href) for name, href, need in entries if principal.can(need)]
        if links:
            groups.append(NavGroup(label, links, any(href == current for _, href in links)))
    return groups


SHOWN = "%Y-%m-%d %H:%M"


def page_zone(request: Request) -> ZoneInfo:
    """The installation's time zone (ORDERBRIDGE_TIME_ZONE), in which every page shows its times."""
    return web_context(request).settings.zone


def time_tag(moment: datetime, zone: ZoneInfo) -> Markup:
    """A stored moment in `zone` as a <time> element, its UTC moment in the tooltip and the attribute."""
    utc = as_utc(moment)
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        utc.isoformat().replace("+00:00", "Z"), utc.strftime(SHOWN), local(utc, zone).strftime(SHOWN)
    )


@pass_context
def when(context: Context, moment: datetime | date | None) -> Markup | str:
    """The one filter for times on every page: local to the installation, UTC on hover; a date as is."""
    if moment is None:
        return ""
    if not isinstance(moment, datetime):
        return moment.isoformat()  # a calendar day (a deposit date) has no time zone to convert
    return time_tag(moment, page_zone(context["request"]))


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["Permission"] = Permission
templates.env.globals["csrf_field"] = CSRF_FIELD
templates.env.filters["when"] = when


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
        "nav": navigation(principal, request.url.path),
        "nav_current": _current(request.url.path),
        "path": request.url.path,
        "zone_name": web_context(request).settings.time_zone,
    }
    values.update(context or {})
    return templates.TemplateResponse(request, name, values, status_code=status_code)
