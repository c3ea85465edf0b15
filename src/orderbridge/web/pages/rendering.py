"""What every page shares: rendering with the pages' filters (times: `templating.when`), keyset pager links,
domain errors as pages, and buyer data shown only to those allowed (revealed and audited) or masked."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from fastapi import HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.orm import Session

from orderbridge.book.errors import NotFoundError
from orderbridge.book.money import round_money
from orderbridge.book.pii import REDACTED
from orderbridge.book.queries.paging import Page
from orderbridge.web.deps import Principal, web_context
from orderbridge.web.pii import show_pii
from orderbridge.web.templating import render, templates

REMOVED = "removed (retention)"  # shown once the retention sweep redacted the value


def _money(amount: Decimal | None, currency: str = "") -> str:
    if amount is None:
        return ""
    try:
        shown = round_money(amount, currency) if currency else amount
    except (KeyError, ValueError):
        shown = amount
    if shown != amount:
        shown = amount.normalize()
    return f"{shown:,} {currency}".strip()


templates.env.filters["money"] = _money


def page(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    return render(request, name, context, status_code=status)


def back_to(path: str, message: str = "", *, problem: str = "") -> RedirectResponse:
    """Post/redirect/get: back to a page with a one-line outcome in the query string."""
    query = {key: value for key, value in (("done", message), ("problem", problem)) if value}
    joiner = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{joiner}{urlencode(query)}" if query else path, status_code=303)


def not_found(error: NotFoundError) -> HTTPException:
    return HTTPException(404, str(error))


def pager(request: Request, found: Page[Any]) -> dict[str, str | None]:
    """Links to the next and previous pages and the first one, keeping the page's filters."""

    def link(cursor: str | None) -> str | None:
        params = {key: value for key, value in request.query_params.items() if key not in ("cursor", "done")}
        if cursor is not None:
            params["cursor"] = cursor
        return f"{request.url.path}?{urlencode(params)}" if params else request.url.path

    return {
        "next": link(found.next_cursor) if found.next_cursor else None,
        "prev": link(found.prev_cursor) if found.prev_cursor else None,
        "first": link(None) if found.prev_cursor else None,
    }


def shown(value: str | None) -> str | None:
    """A revealed PII value as a page shows it: the redaction marker becomes words, never the marker."""
    if value == REDACTED:
        return REMOVED
    return value


def buyer_data(
    request: Request,
    session: Session,
    principal: Principal,
    record: Any,
    fields: Sequence[str],
    *,
    purpose: str,
) -> dict[str, str | None]:
    """The record's PII fields as a page shows them (web.pii.show_pii: revealed and audited with pii:read,
    AC-21, else masked), with a redacted value in words instead of the "[Redacted]" marker."""
    if not fields:
        return {}
    found = show_pii(session, principal, record, fields, purpose=purpose, clock=web_context(request).clock)
    return {name: shown(value) for name, value in found.items()}
