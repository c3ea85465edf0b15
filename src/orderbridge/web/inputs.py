"""Input every route refuses before it runs: a NUL character, which PostgreSQL text cannot hold (it would
fail deep in a query as a server error), named by the parameter or form field that carries it."""

from __future__ import annotations

from fastapi import Request

from orderbridge.web.problems import ApiError

_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refuse(where: str, name: str) -> ApiError:
    return ApiError(422, f"{where} {name[:60]!r} contains a NUL character", field=f"{where}.{name[:60]}")


async def refuse_nul_characters(request: Request) -> None:
    """App-wide dependency: 422 naming the query parameter, path part or body field with a NUL."""
    for name, value in request.query_params.multi_items():
        if "\x00" in name or "\x00" in value:
            raise _refuse("query", name)
    for name, value in request.path_params.items():
        if isinstance(value, str) and "\x00" in value:
            raise _refuse("path", name)
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        if b"\\u0000" in await request.body():
            raise ApiError(422, "the JSON body contains a NUL character (\\u0000)", field="body")
    elif content_type.startswith(_FORMS):
        for field, given in (await request.form()).multi_items():
            if "\x00" in field or (isinstance(given, str) and "\x00" in given):
                raise _refuse("form", field)
