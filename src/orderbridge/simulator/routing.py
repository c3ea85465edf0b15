"""Routes, per-request context and JSON responses shared by every API module of the sandbox."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import Response

from orderbridge.simulator.errors import invalid_input

if TYPE_CHECKING:
    from orderbridge.simulator.app import Sandbox

Handler = Callable[["Ctx"], Awaitable[Response]]


@dataclass
class Principal:
    """The caller of one request: the seller and the PII data elements the token unlocks here."""

    seller_id: str
    data_elements: frozenset[str] = frozenset()
    restricted: bool = False


@dataclass
class Ctx:
    """One request as a handler sees it."""

    sandbox: Sandbox
    request: Request
    params: dict[str, str]
    principal: Principal = field(default_factory=lambda: Principal(""))

    @property
    def now(self) -> float:
        return self.sandbox.world.now

    def document_base(self) -> str:
        """Base URL for pre-signed document URLs: the address really served on, not the Host header, which
        python-amazon-sp-api fills wrongly over http (SPAPI.md §13)."""
        server = self.request.scope.get("server")
        if not server:
            return str(self.request.base_url).rstrip("/")
        host, port = server
        scheme = self.request.url.scheme
        default = (scheme == "http" and port == 80) or (scheme == "https" and port == 443)
        return f"{scheme}://{host}" + ("" if default or port is None else f":{port}")

    def qlist(self, name: str) -> list[str]:
        """An array query parameter: comma-separated and/or repeated (SPAPI.md §4.1)."""
        values: list[str] = []
        for raw in self.request.query_params.getlist(name):
            values.extend(v for v in raw.split(",") if v)
        return values

    def q(self, name: str) -> str | None:
        return self.request.query_params.get(name)

    async def json_body(self) -> dict[str, Any]:
        try:
            body = json.loads(await self.request.body() or b"{}")
        except ValueError as exc:
            raise invalid_input("The request body is not valid JSON.") from exc
        if not isinstance(body, dict):
            raise invalid_input("The request body must be a JSON object.")
        return body


@dataclass
class Route:
    """An operation at a path template (`{name}` segments become params)."""

    method: str
    template: str
    operation: str
    handler: Handler
    admin: bool = False
    pattern: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        self.pattern = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", self.template) + "$")


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, check_circular=False)


def _dumps_std(obj: object) -> bytes:
    return _ENCODER.encode(obj).encode()


try:  # orjson, when installed, makes a cold searchOrders page several times cheaper to serialise
    import orjson

    def dumps(obj: object) -> bytes:
        """Compact JSON as UTF-8 bytes."""
        try:
            return orjson.dumps(obj)
        except TypeError:
            return _dumps_std(obj)

except ImportError:  # pragma: no cover - exercised where orjson is absent
    dumps = _dumps_std


def json_response(obj: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(dumps(obj), status_code=status, media_type="application/json", headers=headers)


def raw_json(body: bytes, status: int = 200) -> Response:
    return Response(body, status_code=status, media_type="application/json")


def parse_int(text: str | None, name: str, low: int, high: int, default: int) -> int:
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError as exc:
        raise invalid_input(f"{name} must be an integer between {low} and {high}.") from exc
    if not low <= value <= high:
        raise invalid_input(f"{name} must be between {low} and {high}.")
    return value
